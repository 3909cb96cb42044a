//! The Lambda Managed Instances section of the bench (issue 24, item 2): N concurrent paced
//! streams in one `stream-url` process (`AWS_LAMBDA_MAX_CONCURRENCY = N`) under the harness's
//! Runtime API, for N = 1, 8, 64, 256. Per N: time to first token and to the end of each stream,
//! the added first-token p99 over N = 1, peak RSS, CPU time per stream, and the invocations seen
//! in flight together; measured twice per process: in waves of N queued at once (a burst), then in
//! a steady state that keeps N in flight with the arrivals spread. `bench --only lmi`
//! (`make bench-lmi`).

pub mod report;
pub mod steady;
pub mod wave;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::procs::{BedrockLocal, ChildGuard, clock_ticks_per_sec, proc_cpu_ticks, proc_status_kb};
use crate::runtime_api::{RuntimeApi, Signal};
use crate::session::{LaunchCtx, rust_function};
use report::{LevelRaw, LmiResult};
use wave::Wave;

/// Counts, pacing and time budgets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LmiPlan {
    /// Concurrency levels, N = 1 first (the others are compared with it).
    pub levels: [usize; 4],
    /// Streams measured per level at least: rounds = max(min_rounds, ⌈samples / N⌉).
    pub samples: usize,
    pub min_rounds: usize,
    /// bedrock-local's pacing: `make dev`'s realistic timing (infra/local/stack.py
    /// `DEV_TTFT_MS`, `DEV_TOKENS_PER_SEC`).
    pub ttft_ms: u64,
    pub tokens_per_sec: u32,
    /// Output tokens per stream (`[[len:N]]`).
    pub stream_len: u32,
    pub seed: u64,
    /// Wall time allowed per level (after init and the warm-up wave).
    pub level_budget_s: u64,
    /// How long one wave may take before it is abandoned.
    pub wave_timeout_s: u64,
    /// Steady phase: output tokens per stream (longer than the waves', so N in flight means
    /// fewer arrivals per second), streams measured per level (at least N), and its time limit.
    pub steady_len: u32,
    pub steady_samples: usize,
    pub steady_timeout_s: u64,
}

pub const QUICK: LmiPlan = LmiPlan {
    levels: [1, 8, 64, 256],
    samples: 32,
    min_rounds: 1,
    ttft_ms: 400,
    tokens_per_sec: 150,
    stream_len: 30,
    seed: 42,
    level_budget_s: 30,
    wave_timeout_s: 60,
    steady_len: 150,
    steady_samples: 8,
    steady_timeout_s: 60,
};

pub const FULL: LmiPlan = LmiPlan {
    levels: [1, 8, 64, 256],
    samples: 128,
    min_rounds: 2,
    ttft_ms: 400,
    tokens_per_sec: 150,
    stream_len: 30,
    seed: 42,
    level_budget_s: 120,
    wave_timeout_s: 60,
    steady_len: 300,
    steady_samples: 16,
    steady_timeout_s: 120,
};

impl LmiPlan {
    /// Measured waves of N streams each.
    pub fn rounds(&self, n: usize) -> usize {
        self.samples.div_ceil(n.max(1)).max(self.min_rounds)
    }

    /// The steady phase at `n`: one stream lasts about the first-token delay plus `steady_len`
    /// tokens at the pacing.
    pub fn steady(&self, n: usize) -> steady::SteadyPlan {
        let ms = self.ttft_ms as f64
            + f64::from(self.steady_len) * 1000.0 / f64::from(self.tokens_per_sec.max(1));
        steady::SteadyPlan {
            n,
            len: self.steady_len,
            expected: Duration::from_secs_f64(ms / 1000.0),
            measured: self.steady_samples.max(n),
            timeout: Duration::from_secs(self.steady_timeout_s),
        }
    }

    /// bedrock-local's flags for this section's own instance.
    pub fn emulator_args(&self) -> Vec<String> {
        let ttft = self.ttft_ms.to_string();
        let tps = self.tokens_per_sec.to_string();
        let seed = self.seed.to_string();
        ["--ttft-ms", &ttft, "--tokens-per-sec", &tps]
            .into_iter()
            .chain(["--latency-ms", "0", "--seed", &seed])
            .map(str::to_string)
            .collect()
    }
}

/// Inputs of the section.
pub struct LmiInput<'a> {
    pub bedrock_bin: &'a Path,
    pub stream_url_bin: &'a Path,
    /// Shared launch settings; its `bedrock_url` is replaced by the paced instance's.
    pub ctx: &'a LaunchCtx,
    pub template: &'a Value,
}

/// Runs every level, each in a process of its own, against one paced bedrock-local.
pub async fn run(input: LmiInput<'_>, plan: &LmiPlan) -> LmiResult {
    let started = Instant::now();
    let mut res = LmiResult::new(plan);
    for (bin, what) in [
        (input.bedrock_bin, "bedrock-local"),
        (input.stream_url_bin, "stream-url"),
    ] {
        if !bin.exists() {
            res.errors
                .push(format!("{what} not built at {}", bin.display()));
            return res;
        }
    }
    let args = plan.emulator_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = input.ctx.log_dir.join("bedrock-local-lmi.log");
    let emulator = match BedrockLocal::start(input.bedrock_bin, &args, &log) {
        Ok(e) => e,
        Err(e) => {
            res.errors.push(format!("paced bedrock-local: {e}"));
            return res;
        }
    };
    let ctx = LaunchCtx {
        bedrock_url: emulator.url.clone(),
        ..input.ctx.clone()
    };
    let tick = clock_ticks_per_sec();
    for n in plan.levels {
        eprintln!(
            "bench: lmi: N = {n}: {} waves of {n} paced streams in one stream-url process",
            plan.rounds(n)
        );
        let (raw, steady) = match level(n, input.stream_url_bin, &ctx, input.template, plan).await {
            Ok(r) => r,
            Err(e) => {
                res.errors.push(format!("N = {n}: {e}"));
                continue;
            }
        };
        res.add_level(raw, tick);
        match steady {
            Ok(raw) => res.add_steady(raw, tick),
            Err(e) => res.errors.push(format!("N = {n} (steady): {e}")),
        }
    }
    drop(emulator);
    res.duration_s = started.elapsed().as_secs_f64();
    res
}

/// One level: its own Runtime API and process, a discarded unpaced warm-up wave, the measured
/// paced waves, then the steady phase; the process is stopped by its pid at the end (the guard).
async fn level(
    n: usize,
    bin: &Path,
    ctx: &LaunchCtx,
    template: &Value,
    plan: &LmiPlan,
) -> Result<(LevelRaw, Result<LevelRaw, String>), String> {
    let name = format!("stream-url-lmi-{n}");
    let mut api = RuntimeApi::start_with(&name, ctx.api)
        .await
        .map_err(|e| format!("runtime API: {e}"))?;
    let cmd = rust_function(bin, &name, ctx, &api, Some(n));
    let log = ctx.log_dir.join(format!("{name}.log"));
    let mut child =
        ChildGuard::spawn(cmd, &name, Some(&log)).map_err(|e| format!("spawn {name}: {e}"))?;
    first_next(&mut api, &mut child, Duration::from_secs(30)).await?;
    let mut raw = LevelRaw::new(n);
    raw.rss_init_kb = child.proc_status_kb("VmRSS");
    let timeout = Duration::from_secs(plan.wave_timeout_s);
    let warm = Wave::run(
        &mut api,
        &mut child,
        template,
        n,
        &wave::unpaced(n),
        timeout,
    )
    .await?;
    raw.warmup_failed = warm.failed();
    let meter = Meter::start(&child);
    let end = meter.t0 + Duration::from_secs(plan.level_budget_s);
    for r in 0..plan.rounds(n) {
        if Instant::now() >= end {
            raw.truncated = true;
            break;
        }
        let asks = wave::paced(n, r, plan.stream_len);
        let w = Wave::run(&mut api, &mut child, template, n, &asks, timeout).await?;
        raw.add_wave(&w);
    }
    meter.finish(&child, &mut raw);
    let steady = steady_phase(n, &mut api, &mut child, template, plan).await;
    child.stop();
    Ok((raw, steady))
}

/// The steady phase in the level's process: its CPU and wall time on their own; its peak RSS is
/// the process's (waves included).
async fn steady_phase(
    n: usize,
    api: &mut RuntimeApi,
    child: &mut ChildGuard,
    template: &Value,
    plan: &LmiPlan,
) -> Result<LevelRaw, String> {
    let mut raw = LevelRaw::new(n);
    let meter = Meter::start(child);
    let st = steady::run(api, child, template, &plan.steady(n)).await?;
    meter.finish(child, &mut raw);
    raw.add_steady(&st);
    Ok(raw)
}

/// One measured phase of a level's process: its wall time and CPU time on their own, and the
/// process's peak RSS at its end (everything before it included).
struct Meter {
    cpu0: Option<u64>,
    t0: Instant,
}

impl Meter {
    fn start(child: &ChildGuard) -> Meter {
        Meter {
            cpu0: proc_cpu_ticks(child.pid()),
            t0: Instant::now(),
        }
    }

    fn finish(&self, child: &ChildGuard, raw: &mut LevelRaw) {
        raw.wall_s = self.t0.elapsed().as_secs_f64();
        raw.cpu_ticks = self
            .cpu0
            .zip(proc_cpu_ticks(child.pid()))
            .map(|(a, b)| b.saturating_sub(a));
        raw.peak_rss_kb = proc_status_kb(child.pid(), "VmHWM");
    }
}

/// Waits for the process's first `GET next` (init done), watching for an early exit.
async fn first_next(
    api: &mut RuntimeApi,
    child: &mut ChildGuard,
    timeout: Duration,
) -> Result<(), String> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        match api.signal(Duration::from_millis(50)).await {
            Some(Signal::NextCalled { .. }) => return Ok(()),
            Some(Signal::InitError { body, .. }) => {
                return Err(format!("init error: {}", String::from_utf8_lossy(&body)));
            }
            _ => {}
        }
        if let Some(st) = child.exited() {
            return Err(format!(
                "exited ({st}) before its first next: {}",
                child.log_tail(1500)
            ));
        }
    }
    Err(format!(
        "no first next in {} s: {}",
        timeout.as_secs(),
        child.log_tail(1500)
    ))
}
