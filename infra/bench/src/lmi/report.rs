//! The LMI section's results: the `lmi` block of `bench/results.json` and the "LMI" part of
//! `docs/performance.md` (between its own markers, so `--only lmi` replaces only it).

use std::fmt::Write as _;

use serde::Serialize;

use super::LmiPlan;
use super::steady::Steady;
use super::wave::Wave;
use crate::stats::{Summary, summarize};

/// The issue's goal at the largest N (reported, never asserted).
pub const GOAL_RSS_MB: f64 = 64.0;
pub const GOAL_ADDED_P99_MS: f64 = 5.0;

/// What one level collected, before summaries.
#[derive(Debug, Clone, Default)]
pub struct LevelRaw {
    pub n: usize,
    pub rounds: usize,
    pub first_token_ms: Vec<f64>,
    pub end_ms: Vec<f64>,
    pub failed: usize,
    pub first_error: Option<String>,
    pub warmup_failed: usize,
    /// Smallest of the waves' "most in flight at once" (all N together in every wave = N).
    pub min_wave_in_flight: Option<usize>,
    pub max_handout_spread_ms: f64,
    /// `utime + stime` over the measured waves (not init, not the warm-up).
    pub cpu_ticks: Option<u64>,
    pub wall_s: f64,
    pub rss_init_kb: Option<u64>,
    pub peak_rss_kb: Option<u64>,
    pub truncated: bool,
    /// Steady phase only: in flight when each measured stream was handed out.
    pub in_flight_at_handout: Vec<usize>,
    pub queued_per_s: Option<f64>,
    /// Streams the CPU time covers when more than those measured (the steady ramp's).
    pub streams_run: Option<usize>,
}

impl LevelRaw {
    pub fn new(n: usize) -> Self {
        LevelRaw {
            n,
            ..LevelRaw::default()
        }
    }

    pub fn add_wave(&mut self, w: &Wave) {
        self.rounds += 1;
        for s in &w.streams {
            match s {
                Ok(s) => {
                    self.first_token_ms.push(s.first_token);
                    self.end_ms.push(s.end);
                }
                Err(e) => {
                    self.failed += 1;
                    self.first_error.get_or_insert_with(|| e.clone());
                }
            }
        }
        self.min_wave_in_flight = Some(
            self.min_wave_in_flight
                .map_or(w.max_in_flight, |m| m.min(w.max_in_flight)),
        );
        self.max_handout_spread_ms = self.max_handout_spread_ms.max(w.handout_spread_ms);
    }

    /// The steady phase's streams (one "round").
    pub fn add_steady(&mut self, st: &Steady) {
        self.add_wave(&Wave {
            streams: st.streams.clone(),
            max_in_flight: st.in_flight_at_handout.iter().copied().min().unwrap_or(0),
            handout_spread_ms: 0.0,
        });
        self.in_flight_at_handout
            .extend_from_slice(&st.in_flight_at_handout);
        self.queued_per_s = (st.queued_per_s > 0.0).then_some(st.queued_per_s);
        self.streams_run = Some(st.streams_run);
    }
}

/// One level's figures.
#[derive(Debug, Clone, Serialize)]
pub struct LmiLevel {
    pub n: usize,
    pub rounds: usize,
    pub streams_ok: usize,
    pub streams_failed: usize,
    pub first_error: Option<String>,
    pub warmup_failed: usize,
    pub first_token_ms: Option<Summary>,
    pub end_ms: Option<Summary>,
    /// p50 / p99 of first token minus N = 1's (None for N = 1 itself).
    pub added_first_token_p50_ms: Option<f64>,
    pub added_first_token_p99_ms: Option<f64>,
    /// The fewest in flight together in any measured wave; `all_in_flight` when that is N.
    pub max_in_flight: Option<usize>,
    pub all_in_flight: bool,
    pub handout_spread_ms: f64,
    pub cpu_ms_per_stream: Option<f64>,
    pub rss_init_mb: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub wall_s: f64,
    pub truncated: bool,
    /// Steady phase: median in flight at a measured stream's hand-out, and its arrival rate.
    pub median_in_flight_at_handout: Option<f64>,
    pub queued_per_s: Option<f64>,
}

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

impl LmiLevel {
    /// Summaries of `raw`; `base` is N = 1's level (absent for N = 1 or when it failed).
    pub fn from_raw(raw: &LevelRaw, base: Option<&LmiLevel>, ticks_per_sec: u64) -> Self {
        let first = summarize(&raw.first_token_ms);
        let base_first = base.and_then(|b| b.first_token_ms.as_ref());
        let added = |pick: fn(&Summary) -> f64| Some(pick(first.as_ref()?) - pick(base_first?));
        let ok = raw.first_token_ms.len();
        let ran = raw.streams_run.unwrap_or(ok + raw.failed);
        LmiLevel {
            n: raw.n,
            rounds: raw.rounds,
            streams_ok: ok,
            streams_failed: raw.failed,
            first_error: raw.first_error.clone(),
            warmup_failed: raw.warmup_failed,
            added_first_token_p50_ms: added(|s| s.median),
            added_first_token_p99_ms: added(|s| s.p99),
            first_token_ms: first,
            end_ms: summarize(&raw.end_ms),
            max_in_flight: raw.min_wave_in_flight,
            all_in_flight: raw.min_wave_in_flight == Some(raw.n),
            handout_spread_ms: raw.max_handout_spread_ms,
            cpu_ms_per_stream: raw
                .cpu_ticks
                .filter(|_| ran > 0)
                .map(|t| t as f64 * 1000.0 / ticks_per_sec as f64 / ran as f64),
            rss_init_mb: raw.rss_init_kb.map(mb),
            peak_rss_mb: raw.peak_rss_kb.map(mb),
            wall_s: raw.wall_s,
            truncated: raw.truncated,
            median_in_flight_at_handout: summarize(
                &raw.in_flight_at_handout
                    .iter()
                    .map(|&k| k as f64)
                    .collect::<Vec<_>>(),
            )
            .map(|s| s.median),
            queued_per_s: raw.queued_per_s,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LmiResult {
    pub plan: LmiPlan,
    /// Waves: N queued at once (a burst).
    pub levels: Vec<LmiLevel>,
    /// Steady state: N kept in flight, arrivals spread.
    pub steady: Vec<LmiLevel>,
    pub clock_ticks_per_sec: u64,
    pub errors: Vec<String>,
    pub duration_s: f64,
    pub load_average: Option<String>,
    /// Which build ran (`release` or a directory): figures of a debug build mean nothing.
    pub profile: String,
    /// The processor it ran on: `make bench-lmi` rewrites this part alone, so the machine in the
    /// document's header may be another one.
    pub cpu: String,
}

impl LmiResult {
    pub fn new(plan: &LmiPlan) -> Self {
        LmiResult {
            plan: *plan,
            levels: Vec::new(),
            steady: Vec::new(),
            clock_ticks_per_sec: 100,
            errors: Vec::new(),
            duration_s: 0.0,
            load_average: None,
            profile: String::new(),
            cpu: String::new(),
        }
    }

    /// Adds a level's waves (N = 1 first: the later ones are compared with it).
    pub fn add_level(&mut self, raw: LevelRaw, ticks_per_sec: u64) {
        self.clock_ticks_per_sec = ticks_per_sec;
        let level = level_of(&self.levels, &raw, ticks_per_sec);
        self.note_failures(&raw, &level, "");
        self.levels.push(level);
    }

    /// Adds a level's steady phase (N = 1 first).
    pub fn add_steady(&mut self, raw: LevelRaw, ticks_per_sec: u64) {
        let level = level_of(&self.steady, &raw, ticks_per_sec);
        self.note_failures(&raw, &level, " (steady)");
        self.steady.push(level);
    }

    fn note_failures(&mut self, raw: &LevelRaw, level: &LmiLevel, what: &str) {
        if let Some(e) = &level.first_error {
            self.errors.push(format!(
                "N = {}{what}: {} streams failed, first: {e}",
                raw.n, raw.failed
            ));
        }
    }

    /// The goal at the largest N of the waves: (level, RSS met, added p99 met).
    pub fn goal(&self) -> Option<(&LmiLevel, Option<bool>, Option<bool>)> {
        goal_of(&self.levels)
    }

    /// The "LMI" part of `docs/performance.md`.
    pub fn markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(
            m,
            "{MARK_START}\n## LMI: concurrent streams in one environment (issue 24)\n"
        );
        let _ = writeln!(
            m,
            "Generated by `make bench-lmi` (`bench --only lmi`) or `make bench`; {} build, {:.0} s{}{}. bedrock-local paced at {} ms to first token and {} tokens/s (`make dev`'s timing), {} output tokens per stream in the waves, `--seed {}`.\n",
            self.profile,
            self.duration_s,
            self.load_average
                .as_deref()
                .map(|l| format!(", load average {l}"))
                .unwrap_or_default(),
            Some(self.cpu.as_str())
                .filter(|c| !c.is_empty())
                .map(|c| format!(", on {c}"))
                .unwrap_or_default(),
            self.plan.ttft_ms,
            self.plan.tokens_per_sec,
            self.plan.stream_len,
            self.plan.seed
        );
        let _ = writeln!(m, "### Waves: N streams queued at once\n");
        burst_table(&mut m, &self.levels);
        goal_line(&mut m, &self.levels);
        if !self.steady.is_empty() {
            let _ = writeln!(
                m,
                "\n### Steady state: N streams kept in flight, arrivals spread\n\n{} output tokens per stream; the first N queued over one stream's expected length, then a new one as each ends.\n",
                self.plan.steady_len
            );
            steady_table(&mut m, &self.steady);
            goal_line(&mut m, &self.steady);
        }
        for e in &self.errors {
            let _ = writeln!(m, "\n- Error: {e}");
        }
        m.push_str(METHOD);
        let _ = writeln!(m, "{MARK_END}");
        m
    }
}

/// Summaries of `raw`, compared with the N = 1 level of `levels` (absent for N = 1 itself).
fn level_of(levels: &[LmiLevel], raw: &LevelRaw, ticks_per_sec: u64) -> LmiLevel {
    let base = levels.iter().find(|l| l.n == 1);
    LmiLevel::from_raw(raw, base, ticks_per_sec)
}

/// The goal at the largest N of `levels`: (level, RSS met, added p99 met).
fn goal_of(levels: &[LmiLevel]) -> Option<(&LmiLevel, Option<bool>, Option<bool>)> {
    let top = levels.iter().filter(|l| l.n > 1).max_by_key(|l| l.n)?;
    Some((
        top,
        top.peak_rss_mb.map(|r| r < GOAL_RSS_MB),
        top.added_first_token_p99_ms.map(|a| a < GOAL_ADDED_P99_MS),
    ))
}

fn goal_line(m: &mut String, levels: &[LmiLevel]) {
    let Some((top, rss, added)) = goal_of(levels) else {
        return;
    };
    let verdict = |v: Option<bool>| match v {
        Some(true) => "met",
        Some(false) => "not met",
        None => "not measured",
    };
    let _ = writeln!(
        m,
        "\nGoal (issue 24, reported, not asserted), at N = {}: peak RSS < {GOAL_RSS_MB:.0} MB: **{}** ({} MB); added first-token p99 < {GOAL_ADDED_P99_MS:.0} ms over N = 1: **{}** ({} ms).",
        top.n,
        verdict(rss),
        one(top.peak_rss_mb, 1),
        verdict(added),
        one(top.added_first_token_p99_ms, 2),
    );
}

fn streams_cell(l: &LmiLevel) -> String {
    format!(
        "{}{}",
        l.streams_ok,
        if l.streams_failed > 0 {
            format!(" + {} failed", l.streams_failed)
        } else {
            String::new()
        }
    )
}

/// Time to first token, added over N = 1, and end of stream (p50 / p99 each).
fn timing_cells(l: &LmiLevel) -> String {
    format!(
        "{} | {} | {}",
        pair(l.first_token_ms.as_ref().map(|s| (s.median, s.p99))),
        pair(l.added_first_token_p50_ms.zip(l.added_first_token_p99_ms)),
        pair(l.end_ms.as_ref().map(|s| (s.median, s.p99))),
    )
}

/// A table: `header` (with its separator line), then one row per level, `row` giving the cells
/// after N.
fn table(m: &mut String, header: &str, levels: &[LmiLevel], row: impl Fn(&LmiLevel) -> String) {
    let _ = writeln!(m, "{header}");
    for l in levels {
        let _ = writeln!(m, "| {} | {} |", l.n, row(l));
    }
}

fn burst_table(m: &mut String, levels: &[LmiLevel]) {
    let header = "| Concurrent streams N | Streams measured (waves) | In flight together (least of the waves) | Time to first token p50 / p99 (ms) | Added first-token p50 / p99 over N = 1 (ms) | End of stream p50 / p99 (ms) | Peak RSS (MB) | RSS after init (MB) | CPU per stream (ms) |\n|---|---|---|---|---|---|---|---|---|";
    table(m, header, levels, |l| {
        let in_flight = l.max_in_flight.map_or_else(
            || "–".to_owned(),
            |k| {
                let all = if l.all_in_flight { "" } else { " (not all)" };
                format!("{k} of {}{all}", l.n)
            },
        );
        format!(
            "{} ({}{}) | {in_flight} | {} | {} | {} | {}",
            streams_cell(l),
            l.rounds,
            if l.truncated { ", time budget hit" } else { "" },
            timing_cells(l),
            one(l.peak_rss_mb, 1),
            one(l.rss_init_mb, 1),
            one(l.cpu_ms_per_stream, 2),
        )
    });
}

fn steady_table(m: &mut String, levels: &[LmiLevel]) {
    let header = "| Concurrent streams N | Streams measured | In flight at hand-out (least / median) | Streams started per s | Time to first token p50 / p99 (ms) | Added first-token p50 / p99 over N = 1 (ms) | End of stream p50 / p99 (ms) | Peak RSS (MB) | CPU per stream (ms) |\n|---|---|---|---|---|---|---|---|---|";
    table(m, header, levels, |l| {
        format!(
            "{} | {} / {} | {} | {} | {} | {}",
            streams_cell(l),
            l.max_in_flight
                .map_or_else(|| "–".to_owned(), |k| k.to_string()),
            one(l.median_in_flight_at_handout, 0),
            one(l.queued_per_s, 1),
            timing_cells(l),
            one(l.peak_rss_mb, 1),
            one(l.cpu_ms_per_stream, 2),
        )
    });
}

fn one(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

fn pair(v: Option<(f64, f64)>) -> String {
    v.map(|(a, b)| format!("{a:.1} / {b:.1}"))
        .unwrap_or_else(|| "–".into())
}

pub const MARK_START: &str = "<!-- lmi:start -->";
pub const MARK_END: &str = "<!-- lmi:end -->";

/// Replaces the LMI part of `doc` (or inserts it before "## How it is measured").
pub fn splice(doc: &str, part: &str) -> String {
    crate::doc_parts::splice(doc, MARK_START, MARK_END, part)
}

const METHOD: &str = r#"
Method: for each N, one `stream-url` process (the build named above, a fresh process per N) with
`AWS_LAMBDA_MAX_CONCURRENCY=N` under the harness's Lambda Runtime API, as Lambda Managed
Instances runs one execution environment; its own bedrock-local with pacing on. After init and
one discarded wave of N unpaced streams (connections to bedrock-local opened), waves of N
Function URL `POST /converse` events (model `haiku`, each a different prompt) are queued on the
Runtime API at once, the next wave when the last stream of the previous one has ended. Per stream:
*time to first token* = `next` handing the event out → arrival at the Runtime API of the
response frame carrying the first `contentBlockDelta` (so it includes the emulator's paced first
token, the function's Converse call and the Runtime API hop, not a client's HTTP front); *end* =
handed out → whole streamed response received. *Added* = this N's p50 / p99 minus N = 1's (both
include the same paced first-token delay). *In flight together*: invocations handed out whose
response had not ended, counted from the Runtime API's signals; the least, over the measured
waves, of each wave's maximum (N means every wave had all N at once). *Peak RSS*: the process's
`VmHWM` at the end (init, warm-up and waves); *RSS after init*: `VmRSS` at its first `next`.
*CPU per stream*: the process's `utime + stime` (`/proc/<pid>/stat`, all threads) over the
measured waves ÷ streams, at clock-tick resolution (10 ms per tick in all, so N = 1's figure is
coarse). The harness, bedrock-local and the function share the machine's cores: at N = 256 the
harness parses 256 streamed responses and bedrock-local paces 256 streams at the same time, so
the added latency is an upper bound of what the function adds.

*Steady state* (the same process, after its waves): N streams kept in flight, as when N long
streams overlap on Lambda Managed Instances. The first N events are queued one every
(stream length ÷ N), the stream length being the first-token delay plus the steady streams'
output tokens at the pacing; from then on each stream that ends is replaced at once. Streams
queued during that first stream length are not measured; the measured ones (at least N) are
those queued after it. *In flight at hand-out*: invocations handed out and not ended when a
measured stream was handed out, itself included (least / median over the measured streams).
*Streams started per s*: the measured streams' arrival rate. *Added* is against the steady
phase at N = 1. *CPU per stream*: the phase's `utime + stime` ÷ every stream it ran (ramp
included), each with the steady phase's output tokens. *Peak RSS*: `VmHWM` at the end of the
phase (the waves included). Each process is stopped by its pid.
"#;

#[cfg(test)]
mod tests {
    use super::super::wave::StreamMs;
    use super::*;

    fn raw(n: usize, first: &[f64], in_flight: usize, cpu_ticks: u64) -> LevelRaw {
        let mut r = LevelRaw::new(n);
        let w = Wave {
            streams: first
                .iter()
                .map(|f| {
                    Ok(StreamMs {
                        first_token: *f,
                        end: f + 200.0,
                    })
                })
                .chain([Err("boom".to_string())])
                .collect(),
            max_in_flight: in_flight,
            handout_spread_ms: 1.5,
        };
        r.add_wave(&w);
        r.cpu_ticks = Some(cpu_ticks);
        r.peak_rss_kb = Some(30_000);
        r
    }

    #[test]
    fn added_p99_is_against_n1_and_in_flight_is_the_least_wave() {
        let one: Vec<f64> = (1..=100).map(|i| 400.0 + f64::from(i) / 100.0).collect();
        let many: Vec<f64> = (1..=100).map(|i| 402.0 + f64::from(i) / 10.0).collect();
        let mut res = LmiResult::new(&super::super::QUICK);
        res.add_level(raw(1, &one, 1, 10), 100);
        let mut r8 = raw(8, &many, 8, 202);
        r8.add_wave(&Wave {
            streams: Vec::new(),
            max_in_flight: 5,
            handout_spread_ms: 3.0,
        });
        res.add_level(r8, 100);
        let (l1, l8) = (&res.levels[0], &res.levels[1]);
        assert_eq!(l1.added_first_token_p99_ms, None);
        assert!((l8.added_first_token_p99_ms.unwrap() - (411.9 - 400.99)).abs() < 1e-9);
        assert!((l8.added_first_token_p50_ms.unwrap() - (407.05 - 400.505)).abs() < 1e-9);
        assert_eq!((l8.max_in_flight, l8.all_in_flight), (Some(5), false));
        assert_eq!((l1.max_in_flight, l1.all_in_flight), (Some(1), true));
        // 202 ticks at 100/s over 101 streams (100 ok + 1 failed) = 20 ms each.
        assert!((l8.cpu_ms_per_stream.unwrap() - 20.0).abs() < 1e-9);
        assert_eq!((l8.streams_ok, l8.streams_failed, l8.rounds), (100, 1, 2));
        assert_eq!(l8.handout_spread_ms, 3.0);
        assert_eq!(res.errors.len(), 2, "{:?}", res.errors);
    }

    #[test]
    fn table_has_a_row_per_level_and_the_goal_verdicts() {
        let mut res = LmiResult::new(&super::super::QUICK);
        res.profile = "release".into();
        res.add_level(raw(1, &[400.0, 401.0], 1, 1), 100);
        res.add_level(raw(256, &[402.0, 409.0], 256, 300), 100);
        let md = res.markdown();
        assert!(
            md.starts_with(MARK_START) && md.trim_end().ends_with(MARK_END),
            "{md}"
        );
        assert!(md.contains("| 1 | 2 + 1 failed (1) | 1 of 1 |"), "{md}");
        assert!(
            md.contains("| 256 | 2 + 1 failed (1) | 256 of 256 | 405.5 / 409.0 | 5.0 / 8.0 |"),
            "{md}"
        );
        assert!(md.contains("peak RSS < 64 MB: **met** (30.7 MB)"), "{md}");
        assert!(md.contains("over N = 1: **not met** (8.00 ms)"), "{md}");
        assert!(md.contains("Method:"));
    }

    #[test]
    fn the_steady_table_compares_with_the_steady_n1_and_says_what_was_in_flight() {
        let steady = |n: usize, first: &[f64], in_flight: &[usize], run: usize| {
            let mut r = LevelRaw::new(n);
            r.add_steady(&Steady {
                streams: first
                    .iter()
                    .map(|f| {
                        Ok(StreamMs {
                            first_token: *f,
                            end: f + 2000.0,
                        })
                    })
                    .collect(),
                in_flight_at_handout: in_flight.to_vec(),
                queued_per_s: 100.0,
                streams_run: run,
            });
            r.cpu_ticks = Some(400);
            r.peak_rss_kb = Some(40_000);
            r
        };
        let mut res = LmiResult::new(&super::super::QUICK);
        res.add_level(raw(1, &[400.0], 1, 1), 100);
        res.add_steady(steady(1, &[410.0, 412.0], &[1, 1], 4), 100);
        res.add_steady(steady(256, &[411.0, 413.0], &[250, 256, 255], 400), 100);
        let top = &res.steady[1];
        // Against the steady N = 1 (410 / 412), not the waves' (400).
        assert!((top.added_first_token_p50_ms.unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(top.max_in_flight, Some(250));
        assert_eq!(top.median_in_flight_at_handout, Some(255.0));
        // 400 ticks at 100/s over the 400 streams the phase ran: 10 ms each.
        assert!((top.cpu_ms_per_stream.unwrap() - 10.0).abs() < 1e-9);
        let md = res.markdown();
        assert!(md.contains("### Steady state"), "{md}");
        assert!(
            md.contains("| 256 | 2 | 250 / 255 | 100.0 | 412.0 / 413.0 | 1.0 / 1.0 |"),
            "{md}"
        );
        assert_eq!(
            md.matches("Goal (issue 24").count(),
            1,
            "no steady N > 1 in the waves: {md}"
        );
    }

    #[test]
    fn an_lmi_only_run_replaces_only_its_part() {
        let doc = format!(
            "# P\n\n{}\npeers\n{}\n\n## How it is measured\nm\n",
            crate::peers::report::MARK_START,
            crate::peers::report::MARK_END
        );
        let first = splice(&doc, &format!("{MARK_START}\nL1\n{MARK_END}\n"));
        let second = splice(&first, &format!("{MARK_START}\nL2\n{MARK_END}\n"));
        assert!(
            second.contains("\npeers\n") && second.contains("\nL2\n"),
            "{second}"
        );
        assert!(!second.contains("L1"));
        assert!(second.find("L2") > second.find("peers"));
        assert!(second.find("L2") < second.find("## How it is measured"));
    }
}
