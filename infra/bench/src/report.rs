//! The results: `bench/results.json` (machine-readable) and `docs/performance.md` (a table).
//! Targets are reported, never asserted.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::stats::Summary;

#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub name: String,
    pub summary: Summary,
}

/// One figure: ours, its baseline, ratio (ours / baseline, on medians), target and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub unit: String,
    pub ours: Summary,
    pub baseline: Option<Baseline>,
    /// `ours.median / baseline.median`.
    pub ratio: Option<f64>,
    pub target: Option<String>,
    /// `None` when the figure has no target.
    pub met: Option<bool>,
    pub notes: Vec<String>,
}

impl Figure {
    pub fn new(id: &str, title: &str, unit: &str, ours: Summary) -> Self {
        Figure {
            id: id.into(),
            title: title.into(),
            unit: unit.into(),
            ours,
            baseline: None,
            ratio: None,
            target: None,
            met: None,
            notes: Vec::new(),
        }
    }

    pub fn with_baseline(mut self, name: &str, b: Summary) -> Self {
        if b.median != 0.0 {
            self.ratio = Some(self.ours.median / b.median);
        }
        self.baseline = Some(Baseline {
            name: name.into(),
            summary: b,
        });
        self
    }

    pub fn with_target(mut self, text: &str, met: bool) -> Self {
        self.target = Some(text.into());
        self.met = Some(met);
        self
    }

    pub fn note(mut self, n: impl Into<String>) -> Self {
        self.notes.push(n.into());
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NotMeasured {
    pub what: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub arch: &'static str,
    pub os: &'static str,
    pub cpu: String,
    pub kernel: String,
    pub mem_total_mb: Option<u64>,
}

impl Machine {
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            arch: std::env::consts::ARCH,
            os: std::env::consts::OS,
            cpu,
            kernel,
            mem_total_mb: crate::procs::proc_meminfo_kb("MemTotal").map(|k| k / 1024),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub generated_unix: u64,
    pub mode: &'static str,
    pub profile: String,
    pub bin_dir: String,
    pub machine: Machine,
    pub settings: serde_json::Value,
    pub figures: Vec<Figure>,
    pub not_measured: Vec<NotMeasured>,
    pub errors: Vec<String>,
    pub duration_s: f64,
    /// The peers section (issue 24), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<serde_json::Value>,
    /// Its part of the Markdown report.
    #[serde(skip)]
    pub peers_md: Option<String>,
    /// The LMI section (issue 24), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lmi: Option<serde_json::Value>,
    /// Its part of the Markdown report.
    #[serde(skip)]
    pub lmi_md: Option<String>,
}

fn num(v: f64, unit: &str) -> String {
    let s = match unit {
        "ms" if v.abs() < 10.0 => format!("{v:.3}"),
        "ms" => format!("{v:.1}"),
        "MB" => format!("{v:.2}"),
        _ if v.abs() >= 100.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    };
    format!("{s} {unit}")
}

fn summary_cell(s: &Summary, unit: &str) -> String {
    if s.n == 1 {
        num(s.median, unit)
    } else {
        format!(
            "{} (min {}, p99 {}, n={})",
            num(s.median, unit),
            num(s.min, unit),
            num(s.p99, unit),
            s.n
        )
    }
}

fn ratio_cell(r: Option<f64>) -> String {
    match r {
        Some(r) if r > 0.0 && r < 1.0 => format!("{r:.3} ({:.1}× less)", 1.0 / r),
        Some(r) => format!("{r:.2}×"),
        None => "–".into(),
    }
}

impl Report {
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n",
        )?;
        std::fs::rename(tmp, path)
    }

    pub fn markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# Performance\n");
        let _ = writeln!(
            m,
            "Generated by `make bench{}` (`infra/bench`); do not edit by hand. Machine-readable results: \
             `bench/results.json`.\n",
            if self.mode == "quick" { "-quick" } else { "" }
        );
        let mc = &self.machine;
        let _ = writeln!(
            m,
            "Run: **{}** mode, `{}` binaries, {:.0} s. Machine: {} {}, **{} cores** (`available_parallelism`), {}, kernel {}{}.\n",
            self.mode,
            self.profile,
            self.duration_s,
            mc.os,
            mc.arch,
            mc.cores,
            if mc.cpu.is_empty() {
                "unknown CPU"
            } else {
                &mc.cpu
            },
            mc.kernel,
            mc.mem_total_mb
                .map(|mb| format!(", {mb} MiB RAM"))
                .unwrap_or_default(),
        );
        if let Some(l) = self.settings.get("load_average").and_then(|v| v.as_str()) {
            let _ = writeln!(
                m,
                "Load average (1, 5, 15 min): {l}. Other work on this {}-core machine shows up in every figure.\n",
                mc.cores
            );
        }
        if self.mode == "quick" {
            let _ = writeln!(
                m,
                "> Quick mode: few repetitions, sensitive to other load; quote figures from `make bench`.\n"
            );
        }
        if let Some(py) = self
            .settings
            .get("python_baseline")
            .and_then(|v| v.as_str())
        {
            let _ = writeln!(m, "Python baseline: CPython {py}.\n");
        }
        if self.profile != "release" {
            let _ = writeln!(
                m,
                "> **Not a release run**: these figures come from `{}` binaries and say nothing about production.\n",
                self.profile
            );
        }
        let _ = writeln!(m, "## Targets (issue 12)\n");
        let _ = writeln!(
            m,
            "- Cold start (first invoke) at least **10× faster** than the Python baseline (boto3 + awslambdaric) and **within 2×** of a minimal Rust function."
        );
        let _ = writeln!(
            m,
            "- Warm overhead (added latency over calling Bedrock directly): **p50 < 1 ms, p99 < 3 ms**."
        );
        let _ = writeln!(
            m,
            "- Binaries **< 10 MB**; peak RSS **< 40 MB** (MB = 10^6 bytes)."
        );
        let _ = writeln!(
            m,
            "- Streaming (issue 7): time to first content event **within 5 ms** of the emulator's own for the same request; relay rate **≥ 200,000 tokens/s** (50× a 4,000 tokens/s model)."
        );
        let _ = writeln!(
            m,
            "- Estimator and PII filter (issues 8, 10): no numeric target; reported beside a trivial baseline over the same input."
        );
        let _ = writeln!(
            m,
            "- Response cache (issue 13): no numeric target; a hit's latency beside a miss's from the same run (ratio = hit / miss)."
        );
        let _ = writeln!(
            m,
            "\nTargets are reported, not enforced: the bench fails only when it cannot measure.\n"
        );
        let _ = writeln!(m, "## Results\n");
        let _ = writeln!(
            m,
            "Cells: median (min, p99, n). Ratio = ours / baseline on medians.\n"
        );
        let _ = writeln!(m, "| Figure | Ours | Baseline | Ratio | Target | Met? |");
        let _ = writeln!(m, "|---|---|---|---|---|---|");
        for f in &self.figures {
            let base = f
                .baseline
                .as_ref()
                .map(|b| format!("{}: {}", b.name, summary_cell(&b.summary, &f.unit)))
                .unwrap_or_else(|| "–".into());
            let met = match f.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                f.title,
                summary_cell(&f.ours, &f.unit),
                base,
                ratio_cell(f.ratio),
                f.target.as_deref().unwrap_or("–"),
                met
            );
        }
        let notes: Vec<_> = self
            .figures
            .iter()
            .filter(|f| !f.notes.is_empty())
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(m, "\n### Notes on figures\n");
            for f in notes {
                for n in &f.notes {
                    let _ = writeln!(m, "- *{}*: {}", f.title, n);
                }
            }
        }
        if !self.not_measured.is_empty() {
            let _ = writeln!(m, "\n## Not measured (yet), and why\n");
            for n in &self.not_measured {
                let _ = writeln!(m, "- **{}**: {}", n.what, n.why);
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(m, "\n## Errors\n");
            for e in &self.errors {
                let _ = writeln!(m, "- {e}");
            }
        }
        for p in [&self.peers_md, &self.lmi_md].into_iter().flatten() {
            m.push('\n');
            m.push_str(p);
        }
        m.push_str(METHOD);
        m
    }

    pub fn write_markdown(&self, path: &Path) -> std::io::Result<()> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(path, self.markdown())
    }
}

const METHOD: &str = r#"
## How it is measured

Everything runs on 127.0.0.1 on this one machine; no AWS account, no network beyond loopback.

- **Runtime API.** The harness serves the Lambda Runtime API (`/2018-06-01/runtime/invocation/next`,
  `.../{id}/response`, `.../{id}/error`, `.../init/error`) itself (tokio + hyper via axum), one
  server per function process, and launches each function as Lambda does: a clean environment with
  `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (256, as in
  `template.yaml`), `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_REGION=us-east-1`, dummy credentials,
  `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` (bedrock-local), `_HANDLER` and `LAMBDA_TASK_ROOT`.
- **Cold start.** Each measured launch is a fresh process whose first event is already queued (on
  Lambda the event exists before the sandbox starts). *Init* = spawn → first `GET next`;
  *first invoke* = spawn → first response fully received by the runtime API. Each process is then
  killed by pid. Discarded warm-up rounds come first (page cache, Python bytecode caches). The
  launches are interleaved: each round launches every target once (the baselines and the
  functions in turn), so a slow spell of the shared machine falls on all of them. *CPU time to
  the first answer* sums the process's threads' run time (`/proc/<pid>/task/*/schedstat`) when the
  first response arrives: the work the code did, which other load moves less than wall time.
  Not included, unlike on AWS: downloading and unpacking the code, creating the sandbox (Firecracker),
  and a cold page cache; what is measured is the part the code controls.
- **Baselines in the same run.** *Minimal Rust fn* (`bench-minimal-fn`: `lambda_runtime` echoing its
  event, same release profile): the floor. *Python boto3* (`infra/bench/python/handler.py`): the usual
  Python Lambda doing the same job — a `bedrock-runtime` client created at import, Converse against
  bedrock-local — run by the AWS runtime interface client (`python -m awslambdaric handler.handler`,
  `awslambdaric` pinned in `infra/bench/requirements.txt`) under the same runtime API.
- **Warm overhead.** One process, events back to back after a warm-up. Per event: event handed out
  (`next` returned) → response fully posted. When the function calls Bedrock, each event is paired
  with a direct Converse from the harness using the Rust AWS SDK (`aws-sdk-bedrockruntime`, the client
  stack the functions use) against the same bedrock-local, alternating order; the figure is the
  per-pair difference. When the function does not call Bedrock, there is nothing to subtract and the
  whole handling time is reported as overhead, next to the minimal function's echo time.
  Native invoke (`POST /v1/invoke/{modelId}`, Anthropic body) is paired with a direct InvokeModel of
  the same body, and count (`POST /v1/count`, `sonnet`) with a direct CountTokens of the same message
  on the bare foundation model. Count on a model without CountTokens (`nova-lite`, local estimate)
  makes no Bedrock call: its whole handling time is reported beside the minimal function's echo in
  the same run (the no-op baseline: the runtime API floor), so the difference is what count costs.
- **Runtime API sockets.** The harness's runtime API sets `TCP_NODELAY` on every accepted
  connection (what Lambda's own endpoint does is not documented); `--no-nodelay` turns it off for
  diagnosis. It affects only what the harness sends: the function's socket keeps the options its
  runtime client chose (`lambda_runtime` explicitly sets `TCP_NODELAY` off).
- **Streaming.** `stream-url` runs under the same runtime API as a Function URL in `RESPONSE_STREAM`
  mode: it posts `.../{id}/response` with `Lambda-Runtime-Function-Response-Mode: streaming`, chunked,
  a JSON prelude, 8 NUL bytes, then server-sent events. The runtime API reads the body frame by frame
  and timestamps each arrival. *Time to first content* = event handed out → arrival of the frame
  carrying the first byte of the first `contentBlockDelta` event. Every request is paired
  (alternating order) with the same ConverseStream sent straight to bedrock-local over one raw
  keep-alive HTTP/1.1 connection (no SDK, no signing): request sent → first delta decoded. Three
  phases on one process: short unpaced replies (also time to last byte, and the peak RSS after
  them); paced replies with the per-request markers `[[ttft_ms:N]]` and `[[tokens_per_sec:N]]` in
  the prompt (the same for both sides), each also sent to a second stream-url process started with
  `GATEWAY_PII_POLICY=off` (paired with its own direct request), so that the difference between
  the two is what the default content filter's hold-back costs the first content
  (`docs/guardrails.md`); long replies (`[[len:20000]]`, pacing off): output tokens
  from the `done` event's usage (direct: the `metadata` event's) / (last byte − first byte).
  *Python baseline*: `infra/bench/python/handler_stream.py` under awslambdaric. The managed Python
  runtime cannot stream a response, so the usual handler consumes `converse_stream` with boto3 and
  returns the whole reply: its figures are time to complete (event handed out → response posted)
  and output tokens per second over the whole invocation, compared with stream-url's time to first
  content and its whole-invocation rate.
- **Estimator and PII filter.** In process, in the bench binary (`bench-tools` profile, opt-level 3;
  the functions ship the same code at opt-level "z", not measured here), calling
  `inference-core`: `estimate::estimate_text` (Anthropic coefficients) over every sample of the shipped
  calibration corpus per pass, against a whitespace byte scan of the same texts; `estimate_request`
  on an already-parsed typical Converse body (system prompt + 3 messages), batches of 1,000 calls,
  against a whitespace scan of the body's JSON; `filter::Filter::new(&Policy::default()).apply` on
  `filter::bench_corpus()` (~1 MiB, entities and near misses) against a copy of the corpus;
  `StreamFilter::push` of 4-character chunks, each timed alone, against a copy of each chunk, with
  `held_back()` (bytes, converted to the characters of the held tail) after each push; a blocked
  entity ends a stream, so the filter is restarted there (counted in the note). One discarded
  warm-up pass, then passes until a pass count or a time budget; inputs and results go through
  `std::hint::black_box`.
- **Memory.** `VmHWM` (peak resident set) of the process from `/proc/<pid>/status` after the warm
  requests (every function the bench can drive: invoke per route, count per source, stream-url).
- **Size.** The release binaries of this machine's target (x86_64-unknown-linux-gnu; `strip`, fat LTO,
  `opt-level = "z"`, cargo-lambda's `panic = "abort"`; see the root `Cargo.toml`),
  each function built alone by `cargo lambda build --release --bin <function>` (`make bench-build`;
  what `sam build` runs per function), the binaries every other figure of a function runs too.
  bedrock-local and the harness are built with the `bench-tools` profile (opt-level 3). arm64
  (what `template.yaml` deploys) is not measured: this machine has no aarch64 Rust target.
- **bedrock-local throughput.** Converse requests/s over keep-alive HTTP/1.1 connections (hyper, fixed
  SigV4-shaped `Authorization`, concurrency 16, bounded count and time), and ConverseStream tokens/s
  with pacing off (`--tokens-per-sec 0`) and a long reply (`[[len:N]]`), so that the emulator is
  known not to be the bottleneck of the figures above. Client and emulator share the same cores.
- **Load.** The machine's core count and load average (start and end of the run) are in the header;
  other work on a 2-core machine shows up in every figure, most in p99 and max.
- Every loop is bounded in count and time; prompts are derived from the request index and a fixed
  seed, and bedrock-local runs with `--seed 42` (its output is deterministic).
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::summarize;

    #[test]
    fn markdown_row_has_ratio_target_and_verdict() {
        let f = Figure::new(
            "x",
            "Cold start",
            "ms",
            summarize(&[5.0, 6.0, 7.0]).unwrap(),
        )
        .with_baseline("py", summarize(&[100.0]).unwrap())
        .with_target("≥ 10× faster", true);
        assert_eq!(f.ratio, Some(0.06));
        let r = Report {
            schema: 1,
            generated_unix: 0,
            mode: "quick",
            profile: "release".into(),
            bin_dir: String::new(),
            machine: Machine::detect(),
            settings: serde_json::json!({}),
            figures: vec![f],
            not_measured: vec![NotMeasured {
                what: "a".into(),
                why: "b".into(),
            }],
            errors: vec![],
            duration_s: 1.0,
            peers: None,
            peers_md: None,
            lmi: None,
            lmi_md: None,
        };
        let md = r.markdown();
        assert!(
            md.contains(
                "| Cold start | 6.000 ms (min 5.000 ms, p99 7.000 ms, n=3) | py: 100.0 ms |"
            ),
            "{md}"
        );
        assert!(md.contains("| ≥ 10× faster | yes |"));
        assert!(md.contains("- **a**: b"));
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["figures"][0]["met"], true);
        assert_eq!(
            v["machine"]["cores"].as_u64().unwrap() as usize,
            std::thread::available_parallelism().unwrap().get()
        );
    }
}
