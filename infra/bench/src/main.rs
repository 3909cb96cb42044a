//! `bench`: the benchmark harness behind `make bench` / `make bench-quick` (issue 12).
//!
//! Runs every figure it can, writes `bench/results.json` and `docs/performance.md`, and exits
//! non-zero only when something could not be measured (a target missed is reported, not fatal).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bench::cache::CachePlan;
use bench::cold_start::{self, ColdResult};
use bench::direct::{Direct, DirectCall, MODEL_ID};
use bench::doc_parts::Part;
use bench::events;
use bench::micro::MicroPlan;
use bench::procs::BedrockLocal;
use bench::report::{Figure, Machine, NotMeasured, Report};
use bench::runtime_api::ApiOptions;
use bench::session::{FnKind, FnSpec, LaunchCtx};
use bench::stats::{Summary, summarize};
use bench::streaming::StreamPlan;
use bench::throughput;
use bench::warm::{self, WarmResult};
use bytes::Bytes;
use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Benchmarks of the gateway's functions against bedrock-local"
)]
struct Args {
    /// Fewer repetitions (whole run under 2 minutes).
    #[arg(long)]
    quick: bool,
    /// Machine-readable results.
    #[arg(long, default_value = "bench/results.json")]
    out: PathBuf,
    /// Markdown report.
    #[arg(long, default_value = "docs/performance.md")]
    doc: PathBuf,
    /// Which build of the binaries to run (`target/<profile>`); only release figures mean anything.
    #[arg(long, default_value = "release", value_parser = ["debug", "release", "bench-tools"])]
    profile: String,
    /// Directory of the binaries (overrides --profile).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The functions as shipped: `DIR/<function>/bootstrap`, cargo-lambda's layout and release
    /// builds (`target/lambda`, what `make bench-build` builds one function at a time, as
    /// `sam build` does; the minimal baseline too). Without it they are read from the binaries'
    /// directory.
    #[arg(long)]
    functions_dir: Option<PathBuf>,
    /// Python of the baseline (default: the project's .venv).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Sections to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cold,warm,size,throughput,stream,micro,cache,peers,lmi"
    )]
    only: Vec<String>,
    /// Leave TCP_NODELAY off on the runtime API's accepted sockets (diagnosis of Nagle delays).
    #[arg(long)]
    no_nodelay: bool,
    /// Do not install the Python baseline's requirements or the peers (LiteLLM, Portkey) when
    /// they are missing.
    #[arg(long)]
    no_install: bool,
    /// Run nothing: redraw the charts from `--out` next to `--doc` and embed them.
    #[arg(long)]
    charts: bool,
}

/// Counts and time budgets of one mode.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Plan {
    cold_runs: usize,
    cold_warmup: usize,
    warm_requests: usize,
    warm_warmup: usize,
    rps_requests: usize,
    rps_concurrency: usize,
    rps_warmup: usize,
    stream_runs: usize,
    stream_warmup: usize,
    stream_reply_tokens: u32,
    seed: u64,
    cold_budget_s: u64,
    warm_budget_s: u64,
    throughput_budget_s: u64,
    stream: StreamPlan,
    stream_budget_s: u64,
    micro: MicroPlan,
    cache: CachePlan,
}

const QUICK: Plan = Plan {
    cold_runs: 8,
    cold_warmup: 1,
    warm_requests: 200,
    warm_warmup: 20,
    rps_requests: 20_000,
    rps_concurrency: 16,
    rps_warmup: 64,
    stream_runs: 50,
    stream_warmup: 1,
    stream_reply_tokens: 2_000,
    seed: 42,
    cold_budget_s: 35,
    warm_budget_s: 30,
    throughput_budget_s: 10,
    stream: StreamPlan {
        warmup: 5,
        warm: 200,
        paced: 10,
        ttft_ms: 100,
        tokens_per_sec: 400,
        paced_len: 40,
        relay: 2,
        relay_len: 20_000,
    },
    stream_budget_s: 25,
    micro: MicroPlan {
        budget_ms: 600,
        max_passes: 20,
        request_batch: 1_000,
        stream_bytes: 256 * 1024,
    },
    cache: CachePlan {
        pairs: 50,
        budget_ms: 3_000,
    },
};

const FULL: Plan = Plan {
    cold_runs: 30,
    cold_warmup: 2,
    warm_requests: 1_000,
    warm_warmup: 50,
    rps_requests: 200_000,
    rps_concurrency: 16,
    rps_warmup: 256,
    stream_runs: 200,
    stream_warmup: 2,
    stream_reply_tokens: 2_000,
    seed: 42,
    cold_budget_s: 240,
    warm_budget_s: 240,
    throughput_budget_s: 90,
    stream: StreamPlan {
        warmup: 20,
        warm: 1_000,
        paced: 50,
        ttft_ms: 100,
        tokens_per_sec: 400,
        paced_len: 40,
        relay: 5,
        relay_len: 20_000,
    },
    stream_budget_s: 180,
    micro: MicroPlan {
        budget_ms: 3_000,
        max_passes: 200,
        request_batch: 1_000,
        stream_bytes: 1 << 20,
    },
    cache: CachePlan {
        pairs: 300,
        budget_ms: 15_000,
    },
};

/// The gateway's functions, in report order.
const FUNCTIONS: [&str; 4] = ["invoke", "stream-url", "count", "async-callback"];
const MINIMAL: &str = "bench-minimal-fn";
const PYTHON: &str = "python-boto3";
const CONVERSE_TEXT: &str = "Hello";
/// What the gateway's `sonnet` alias counts with (CountTokens takes the bare foundation model).
const COUNT_MODEL: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
/// The text of `apigw-v2-post-count.json`.
const COUNT_TEXT: &str = "How many tokens is this?";

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or(manifest)
}

fn fixture(root: &Path, name: &str) -> Result<Bytes, String> {
    let p = root.join("tests/fixtures/events").join(name);
    std::fs::read(&p)
        .map(Bytes::from)
        .map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages: other work on the machine skews every figure.
fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn single(v: f64) -> Summary {
    summarize(&[v]).expect("one sample")
}

struct Run {
    python: Option<String>,
    load: Option<String>,
    figures: Vec<Figure>,
    not_measured: Vec<NotMeasured>,
    errors: Vec<String>,
    peers: Option<bench::peers::report::PeersResult>,
    lmi: Option<bench::lmi::report::LmiResult>,
}

impl Run {
    fn skip(&mut self, what: impl Into<String>, why: impl Into<String>) {
        let (what, why) = (what.into(), why.into());
        eprintln!("bench: not measured: {what}: {why}");
        self.not_measured.push(NotMeasured { what, why });
    }
    fn error(&mut self, e: impl Into<String>) {
        let e = e.into();
        eprintln!("bench: ERROR: {e}");
        self.errors.push(e);
    }
}

/// Makes sure the Python baseline can run; installs `infra/bench/requirements.txt` into the
/// venv when it cannot (unless told not to).
fn python_ready(python: &Path, root: &Path, install: bool) -> Result<(), String> {
    let check = || {
        std::process::Command::new(python)
            .args(["-c", "import awslambdaric, boto3"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if check() {
        return Ok(());
    }
    if !python.exists() {
        return Err(format!(
            "{} does not exist (run `make venv`)",
            python.display()
        ));
    }
    if !install {
        return Err("awslambdaric/boto3 not importable and --no-install given".into());
    }
    let reqs = root.join("infra/bench/requirements.txt");
    eprintln!(
        "bench: installing the Python baseline's requirements ({})",
        reqs.display()
    );
    let st = std::process::Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&reqs)
        .status()
        .map_err(|e| e.to_string())?;
    if st.success() && check() {
        Ok(())
    } else {
        Err(format!("pip install -r {} failed ({st})", reqs.display()))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    if args.charts {
        return match draw_charts(&args) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        };
    }
    let started = Instant::now();
    let plan = if args.quick { QUICK } else { FULL };
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_relative() {
        root.join(target)
    } else {
        target
    };
    let bin_dir = args
        .bin_dir
        .clone()
        .unwrap_or_else(|| target.join(&args.profile));
    // What the measured binaries are: `--functions-dir` holds `cargo lambda build --release`
    // output (the functions and the minimal baseline); the harness's own profile is not it.
    let profile = if args.functions_dir.is_some() {
        "release".to_string()
    } else if args.bin_dir.is_some() {
        format!("custom ({})", bin_dir.display())
    } else {
        args.profile.clone()
    };
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let log_dir = target.join("bench-logs");
    let _ = std::fs::remove_dir_all(&log_dir);
    if let Err(e) = std::fs::create_dir_all(&log_dir) {
        eprintln!("bench: cannot create {}: {e}", log_dir.display());
        return ExitCode::FAILURE;
    }
    let on = |s: &str| args.only.iter().any(|o| o == s);
    let mut run = Run {
        python: None,
        load: None,
        figures: Vec::new(),
        not_measured: Vec::new(),
        errors: Vec::new(),
        peers: None,
        lmi: None,
    };
    let machine = Machine::detect();
    let load_start = load_avg();
    eprintln!(
        "bench: {} mode, binaries from {}, {} cores, logs in {}",
        if args.quick { "quick" } else { "full" },
        bin_dir.display(),
        machine.cores,
        log_dir.display()
    );

    let bins = Bins {
        dir: bin_dir.clone(),
        // Absolute: each process is launched from its own working directory.
        functions: args
            .functions_dir
            .as_deref()
            .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf())),
    };
    let bin = |name: &str| bins.path(name);
    // bedrock-local, pacing off, fixed seed: one instance for every section.
    let emulator = if bin("bedrock-local").exists() {
        match BedrockLocal::start(
            &bin("bedrock-local"),
            &[
                "--tokens-per-sec",
                "0",
                "--ttft-ms",
                "0",
                "--latency-ms",
                "0",
                "--seed",
                "42",
            ],
            &log_dir.join("bedrock-local.log"),
        ) {
            Ok(b) => Some(b),
            Err(e) => {
                run.error(format!("bedrock-local: {e}"));
                None
            }
        }
    } else {
        run.error(format!(
            "bedrock-local not built at {}",
            bin("bedrock-local").display()
        ));
        None
    };
    let bedrock_url = emulator
        .as_ref()
        .map(|e| e.url.clone())
        .unwrap_or_else(|| "http://127.0.0.1:9".into());
    let ctx = LaunchCtx {
        bedrock_url: bedrock_url.clone(),
        log_dir: log_dir.clone(),
        memory_mb: 256,
        api: ApiOptions {
            nodelay: !args.no_nodelay,
        },
        env: Vec::new(),
    };

    let mut python_version = None;
    // Only the cold, warm and stream sections run the Python baseline.
    let wants_python = on("cold") || on("warm") || on("stream");
    let python_ok = wants_python
        && match python_ready(&python, &root, !args.no_install) {
            Ok(()) => {
                python_version = std::process::Command::new(&python)
                .args(["-c", "import sys, awslambdaric, boto3; print(sys.version.split()[0], 'awslambdaric', awslambdaric.__version__, 'boto3', boto3.__version__)"])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
                true
            }
            Err(e) => {
                run.error(format!("Python baseline unavailable: {e}"));
                false
            }
        };
    let spec_rust = |name: &str| FnSpec {
        name: name.into(),
        kind: FnKind::Rust { bin: bin(name) },
    };
    let python_spec = FnSpec {
        name: PYTHON.into(),
        kind: FnKind::Python {
            python: python.clone(),
            task_root: root.join("infra/bench/python"),
            handler: "handler.handler".into(),
        },
    };

    run.python = python_version;
    let (models_ev, converse_ev) = match (
        fixture(&root, "apigw-v2-get-models.json"),
        fixture(&root, "apigw-v2-post-converse.json"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            run.error(e);
            finish(&args, run, plan, &machine, &profile, &bins, started).await;
            return ExitCode::FAILURE;
        }
    };

    // ---- Which job each function can do today (probe launches double as cold warm-ups). ----
    struct Subject {
        spec: FnSpec,
        event: Option<(String, Bytes)>,
        implemented: bool,
    }
    let mut subjects: Vec<Subject> = Vec::new();
    let mut invoke_mode = None; // "converse" | "models"
    if on("cold") || on("warm") {
        let candidates: [(&str, &str, &str); 4] = [
            ("invoke", "apigw-v2-post-converse.json", "POST /v1/converse"),
            (
                "stream-url",
                "function-url-post-converse.json",
                "Function URL POST /converse (streamed)",
            ),
            ("count", "apigw-v2-post-count.json", "POST /v1/count"),
            ("async-callback", "", ""),
        ];
        for (name, fx, label) in candidates {
            let spec = spec_rust(name);
            if !bin(name).exists() {
                run.error(format!(
                    "{name}: binary not built at {}",
                    bin(name).display()
                ));
                continue;
            }
            if name == "async-callback" {
                run.skip(
                    "async-callback: first invoke",
                    "its real event (an SQS job) needs S3 and DynamoDB (moto), which the bench does not run; init only",
                );
                subjects.push(Subject {
                    spec,
                    event: None,
                    implemented: true,
                });
                continue;
            }
            let ev = match fixture(&root, fx) {
                Ok(b) => b,
                Err(e) => {
                    run.error(e);
                    continue;
                }
            };
            match cold_start::probe(&spec, &ctx, ev.clone()).await {
                Ok((Some(s), _)) if (200..300).contains(&s) => {
                    if name == "invoke" {
                        invoke_mode = Some("converse");
                    }
                    subjects.push(Subject {
                        spec,
                        event: Some((label.into(), ev)),
                        implemented: true,
                    });
                }
                Ok((status, body)) => {
                    let why = format!(
                        "{label} answered {} ({})",
                        status
                            .map(|s| s.to_string())
                            .unwrap_or("no HTTP status".into()),
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    );
                    if name == "invoke" {
                        invoke_mode = Some("models");
                        run.skip(
                            "invoke: Converse (cold first invoke and warm overhead)",
                            format!("{why}; the route is not implemented yet, so invoke is measured on GET /v1/models (no Bedrock call)"),
                        );
                        subjects.push(Subject {
                            spec,
                            event: Some(("GET /v1/models".into(), models_ev.clone())),
                            implemented: true,
                        });
                    } else {
                        run.skip(format!("{name}: first invoke"), format!("{why}; init only"));
                        subjects.push(Subject {
                            spec,
                            event: None,
                            implemented: true,
                        });
                    }
                }
                Err(f) if f.is_not_implemented() => {
                    run.skip(format!("{name}: cold start, warm, memory"), f.to_string());
                    subjects.push(Subject {
                        spec,
                        event: None,
                        implemented: false,
                    });
                }
                Err(f) => {
                    // Maybe init works and only this job fails: measure init only, but say it.
                    run.error(format!("{name}: {label}: {f}"));
                    subjects.push(Subject {
                        spec,
                        event: None,
                        implemented: true,
                    });
                }
            }
        }
    }
    let minimal = spec_rust(MINIMAL);
    if !bin(MINIMAL).exists() {
        run.error(format!(
            "{MINIMAL}: binary not built at {}",
            bin(MINIMAL).display()
        ));
    }

    // ---- Cold start ----
    if on("cold") {
        let section_end = Instant::now() + Duration::from_secs(plan.cold_budget_s);
        let mut list: Vec<(FnSpec, Option<(String, Bytes)>)> = Vec::new();
        if bin(MINIMAL).exists() {
            list.push((
                minimal.clone(),
                Some(("echo of GET /v1/models event".into(), models_ev.clone())),
            ));
        }
        if python_ok && emulator.is_some() {
            list.push((
                python_spec.clone(),
                Some((
                    "POST /v1/converse (boto3 Converse)".into(),
                    converse_ev.clone(),
                )),
            ));
        }
        for s in subjects.iter().filter(|s| s.implemented) {
            list.push((s.spec.clone(), s.event.clone()));
        }
        eprintln!(
            "bench: cold start, {} targets interleaved ({} rounds)",
            list.len(),
            plan.cold_runs
        );
        let targets: Vec<cold_start::Target> = list
            .iter()
            .map(|(spec, event)| cold_start::Target {
                spec,
                event: event.as_ref().map(|(l, b)| (l.as_str(), b.clone())),
            })
            .collect();
        let cold = cold_start::measure(
            &targets,
            &ctx,
            plan.cold_warmup,
            plan.cold_runs,
            section_end,
        )
        .await;
        for r in &cold {
            if let Some(f) = &r.failure {
                run.error(format!("{}: cold start: {f}", r.function));
            }
        }
        cold_figures(&mut run, &cold, invoke_mode);
    }

    // ---- Warm overhead and memory ----
    let mut warm_results: Vec<WarmResult> = Vec::new();
    if on("warm") {
        let section_end = Instant::now() + Duration::from_secs(plan.warm_budget_s);
        let direct = Direct::new(&bedrock_url);
        let converse_call = DirectCall::Converse {
            model: MODEL_ID.into(),
            text: CONVERSE_TEXT.into(),
        };
        let mut list: Vec<WarmJob> = Vec::new();
        if bin(MINIMAL).exists() {
            list.push((minimal.clone(), "echo".into(), models_ev.clone(), None));
        }
        if let Some(mode) = invoke_mode {
            let converse = mode == "converse";
            let (label, ev) = if converse {
                ("POST /v1/converse", converse_ev.clone())
            } else {
                ("GET /v1/models", models_ev.clone())
            };
            list.push((
                spec_rust("invoke"),
                label.into(),
                ev,
                converse.then(|| converse_call.clone()),
            ));
        }
        if python_ok && emulator.is_some() {
            list.push((
                python_spec.clone(),
                "POST /v1/converse (boto3 Converse)".into(),
                converse_ev.clone(),
                Some(converse_call.clone()),
            ));
        }
        let ready: Vec<&str> = subjects
            .iter()
            .filter(|s| s.implemented && s.event.is_some())
            .map(|s| s.spec.name.as_str())
            .collect();
        match extra_warm_subjects(&root, &ready, &spec_rust) {
            Ok(extra) => list.extend(extra),
            Err(e) => run.error(e),
        }
        if subjects.iter().any(|s| s.spec.name == "async-callback") {
            run.skip(
                "async-callback: warm overhead and peak RSS",
                "its event (an SQS job) needs S3 and DynamoDB (moto), which the bench does not run",
            );
        }
        let total = list.len();
        for (i, (spec, label, ev, call)) in list.into_iter().enumerate() {
            let left = section_end.saturating_duration_since(Instant::now());
            let deadline = Instant::now() + left / (total - i) as u32;
            eprintln!(
                "bench: warm {} {label} ({} requests)",
                spec.name,
                plan.warm_warmup + plan.warm_requests
            );
            let d = call.as_ref().map(|c| (&direct, c));
            let r = warm::measure(
                &spec,
                &ctx,
                &label,
                ev,
                d,
                plan.warm_warmup,
                plan.warm_requests,
                deadline,
            )
            .await;
            if let Some(f) = &r.failure {
                run.error(format!("{}: warm ({label}): {f}", spec.name));
            }
            warm_results.push(r);
        }
        warm_figures(&mut run, &warm_results, invoke_mode);
        run.figures.extend(warm::extra_figures(&warm_results));
    }

    // ---- Streaming through stream-url ----
    if on("stream") && emulator.is_some() {
        let py = python_ok.then(|| FnSpec {
            name: "python-boto3-stream".into(),
            kind: FnKind::Python {
                python: python.clone(),
                task_root: root.join("infra/bench/python"),
                handler: "handler_stream.handler".into(),
            },
        });
        stream_section(
            &mut run,
            &root,
            &ctx,
            &plan,
            &bin("stream-url"),
            py.as_ref(),
        )
        .await;
    }

    // ---- Estimator and PII filter (in process) ----
    if on("micro") {
        let micro = plan.micro;
        eprintln!(
            "bench: estimator and PII filter microbenchmarks ({} ms per benchmark)",
            micro.budget_ms
        );
        let res = tokio::task::spawn_blocking(move || {
            let mut figs = bench::micro::pii(&micro);
            let est = bench::micro::estimator(&micro)
                .map(|e| figs.extend(e))
                .and_then(|()| bench::micro::conversion(&micro).map(|f| figs.push(f)));
            (figs, est)
        })
        .await;
        match res {
            Ok((figs, est)) => {
                run.figures.extend(figs);
                if let Err(e) = est {
                    run.error(format!("estimator microbenchmark: {e}"));
                }
            }
            Err(e) => run.error(format!("microbenchmarks panicked: {e}")),
        }
    }

    // ---- Response cache: hit against miss, same run (in process) ----
    if on("cache") && emulator.is_some() {
        eprintln!(
            "bench: response cache hit vs miss ({} pairs per path, in process)",
            plan.cache.pairs
        );
        match bench::cache::measure(&bedrock_url, &plan.cache).await {
            Ok(figs) => run.figures.extend(figs),
            Err(e) => run.error(format!("response cache: {e}")),
        }
        run.skip(
            "response cache: shared tier (DynamoDB) hit latency",
            "needs DynamoDB (moto), which the bench does not run; the in-memory tier is measured, the shared tier is covered by tests/python/test_cache_e2e.py",
        );
    }

    // ---- Binary sizes ----
    if on("size") {
        size_figures(
            &mut run,
            &bins,
            &profile,
            &subjects
                .iter()
                .filter(|s| !s.implemented)
                .map(|s| s.spec.name.clone())
                .collect::<Vec<_>>(),
        );
    }

    // ---- bedrock-local throughput ----
    if on("throughput") && emulator.is_some() {
        let end = Instant::now() + Duration::from_secs(plan.throughput_budget_s);
        let mid = Instant::now() + Duration::from_secs(plan.throughput_budget_s * 2 / 3);
        eprintln!(
            "bench: bedrock-local Converse throughput ({} requests, concurrency {})",
            plan.rps_requests, plan.rps_concurrency
        );
        match throughput::converse_rps(
            &bedrock_url,
            plan.rps_concurrency,
            plan.rps_warmup,
            plan.rps_requests,
            plan.seed,
            mid,
        )
        .await
        {
            Ok(t) => {
                let mut f = Figure::new(
                    "throughput.bedrock_local.converse_rps",
                    &format!("bedrock-local Converse throughput (concurrency {})", t.concurrency),
                    "req/s",
                    single(t.rps()),
                )
                .note(format!("{} requests in {:.2} s, {} errors; client and emulator share the machine's cores", t.completed, t.elapsed_s, t.errors));
                if t.truncated {
                    f = f.note("stopped by the time bound before the request count");
                }
                if let Some(e) = &t.first_error {
                    run.error(format!("bedrock-local Converse under load: {e}"));
                }
                run.figures.push(f);
                if let Some(s) = summarize(&t.latencies_ms) {
                    run.figures.push(Figure::new(
                        "throughput.bedrock_local.converse_latency",
                        "bedrock-local Converse latency under that load",
                        "ms",
                        s,
                    ));
                }
            }
            Err(e) => run.error(format!("bedrock-local Converse throughput: {e}")),
        }
        eprintln!(
            "bench: bedrock-local ConverseStream tokens/s ({} streams of ~{} tokens)",
            plan.stream_runs, plan.stream_reply_tokens
        );
        match throughput::stream_tokens(
            &bedrock_url,
            plan.stream_reply_tokens,
            plan.stream_warmup,
            plan.stream_runs,
            plan.seed,
            end,
        )
        .await
        {
            Ok(t) => {
                if let Some(s) = summarize(&t.tokens_per_s) {
                    let toks = summarize(
                        &t.output_tokens
                            .iter()
                            .map(|&n| n as f64)
                            .collect::<Vec<_>>(),
                    )
                    .map(|s| s.median)
                    .unwrap_or(0.0);
                    let mut f = Figure::new(
                        "throughput.bedrock_local.stream_tokens_per_s",
                        "bedrock-local ConverseStream output rate, pacing off (one stream at a time)",
                        "tokens/s",
                        s,
                    )
                    .note(format!("replies of {toks:.0} output tokens (asked `[[len:{}]]`)", t.reply_tokens_asked));
                    if t.truncated {
                        f = f.note("stopped by the time bound before the stream count");
                    }
                    run.figures.push(f);
                }
                if let Some(s) = summarize(&t.first_delta_ms) {
                    run.figures.push(Figure::new(
                        "throughput.bedrock_local.stream_first_delta",
                        "bedrock-local ConverseStream time to first delta, pacing off",
                        "ms",
                        s,
                    ));
                }
            }
            Err(e) => run.error(format!("bedrock-local ConverseStream throughput: {e}")),
        }
    }

    // ---- Peers: LiteLLM and Portkey beside this gateway (issue 24) ----
    if on("peers") && emulator.is_some() {
        let input = bench::peers::PeersInput {
            paths: bench::peers::servers::PeerPaths {
                root: root.clone(),
                target: target.clone(),
                log_dir: log_dir.clone(),
            },
            ctx: &ctx,
            stream_url_bin: &bin("stream-url"),
            template: &match fixture(&root, "function-url-post-converse.json")
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(v) => v,
                Err(e) => {
                    run.error(e);
                    serde_json::Value::Null
                }
            },
            cores: machine.cores,
            install: !args.no_install,
        };
        let peer_plan = if args.quick {
            bench::peers::QUICK
        } else {
            bench::peers::FULL
        };
        let mut p = bench::peers::run(input, &peer_plan).await;
        p.load_average = Some(load_avg());
        for e in &p.errors {
            run.error(format!("peers: {e}"));
        }
        for (what, why) in &p.not_measured {
            run.skip(format!("peers: {what}"), why.clone());
        }
        run.peers = Some(p);
    }

    // ---- LMI: N concurrent paced streams in one stream-url process (issue 24) ----
    if on("lmi") {
        lmi_section(&mut run, &root, &ctx, &bins, &profile, args.quick).await;
    }

    drop(emulator);
    let failed = !run.errors.is_empty();
    run.load = Some(format!("{} at start, {} at end", load_start, load_avg()));
    finish(&args, run, plan, &machine, &profile, &bins, started).await;
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn finish(
    args: &Args,
    run: Run,
    plan: Plan,
    machine: &Machine,
    profile: &str,
    bins: &Bins,
    started: Instant,
) {
    let peers_md = run.peers.as_ref().map(|p| p.markdown());
    let peers_json = run
        .peers
        .as_ref()
        .and_then(|p| serde_json::to_value(p).ok());
    let lmi_md = run.lmi.as_ref().map(|l| l.markdown());
    let lmi_json = run.lmi.as_ref().and_then(|l| serde_json::to_value(l).ok());
    if args.only.iter().all(|o| o == "peers" || o == "lmi") {
        let mut parts = Vec::new();
        if let (Some(md), Some(json)) = (&peers_md, &peers_json) {
            parts.push(Part {
                key: "peers",
                json: json.clone(),
                md: md.clone(),
                start: bench::peers::report::MARK_START,
                end: bench::peers::report::MARK_END,
            });
        }
        if let (Some(md), Some(json)) = (&lmi_md, &lmi_json) {
            parts.push(Part {
                key: "lmi",
                json: json.clone(),
                md: md.clone(),
                start: bench::lmi::report::MARK_START,
                end: bench::lmi::report::MARK_END,
            });
        }
        match bench::doc_parts::merge(&args.out, &args.doc, &parts) {
            Ok(()) if !parts.is_empty() => {
                eprintln!(
                    "bench: {}-only run: updated its part of {} and {}",
                    args.only.join(","),
                    args.out.display(),
                    args.doc.display()
                );
                for p in &parts {
                    println!("{}", p.md);
                }
                draw_charts(args);
                return;
            }
            Ok(()) => {}
            Err(e) => {
                eprintln!("bench: cannot update the last report in place ({e}): writing a new one")
            }
        }
    }
    let report = Report {
        schema: 1,
        generated_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        mode: if args.quick { "quick" } else { "full" },
        profile: profile.to_string(),
        bin_dir: bins.describe(),
        machine: machine.clone(),
        settings: json!({"plan": plan, "bedrock_local": ["--tokens-per-sec", "0", "--ttft-ms", "0", "--latency-ms", "0", "--seed", "42"], "lambda_memory_mb": 256, "model_id": bench::direct::MODEL_ID, "python_baseline": run.python, "load_average": run.load}),
        figures: run.figures,
        not_measured: run.not_measured,
        errors: run.errors,
        duration_s: started.elapsed().as_secs_f64(),
        peers: peers_json,
        peers_md,
        lmi: lmi_json,
        lmi_md,
    };
    match report.write_json(&args.out) {
        Ok(()) => eprintln!("bench: wrote {}", args.out.display()),
        Err(e) => eprintln!("bench: cannot write {}: {e}", args.out.display()),
    }
    match report.write_markdown(&args.doc) {
        Ok(()) => eprintln!("bench: wrote {}", args.doc.display()),
        Err(e) => eprintln!("bench: cannot write {}: {e}", args.doc.display()),
    }
    draw_charts(args);
    println!(
        "{}",
        report
            .markdown()
            .split("\n## How it is measured")
            .next()
            .unwrap_or("")
    );
}

/// Redraws the SVG charts from the report just written and embeds them in the doc; false (and
/// says why) when they cannot be drawn.
fn draw_charts(args: &Args) -> bool {
    match bench::charts::refresh(&args.out, &args.doc) {
        Ok(written) => {
            for p in written {
                eprintln!("bench: wrote {}", p.display());
            }
            true
        }
        Err(e) => {
            eprintln!("bench: cannot draw the charts: {e}");
            false
        }
    }
}

/// One warm session: function, event label, event, the direct call it is paired with.
type WarmJob = (FnSpec, String, Bytes, Option<DirectCall>);

/// The warm sessions added for issue 12.2: invoke's native route (paired with InvokeModel) and
/// count with a CountTokens model (paired with CountTokens) and a local-estimate model (no
/// Bedrock call: compared with the minimal function's echo).
fn extra_warm_subjects(
    root: &Path,
    ready: &[&str],
    spec_rust: &dyn Fn(&str) -> FnSpec,
) -> Result<Vec<WarmJob>, String> {
    let json = |name: &str| -> Result<serde_json::Value, String> {
        serde_json::from_slice(&fixture(root, name)?).map_err(|e| format!("{name}: {e}"))
    };
    let mut out = Vec::new();
    if ready.contains(&"invoke") {
        let body = events::anthropic_native_body(CONVERSE_TEXT);
        out.push((
            spec_rust("invoke"),
            warm::NATIVE_LABEL.into(),
            events::native_invoke(&json("apigw-v2-post-invoke-nova.json")?, MODEL_ID, &body),
            Some(DirectCall::InvokeModel {
                model: MODEL_ID.into(),
                body: Bytes::from(body.to_string()),
            }),
        ));
    }
    if ready.contains(&"count") {
        let t = json("apigw-v2-post-count.json")?;
        out.push((
            spec_rust("count"),
            warm::COUNT_TOKENS_LABEL.into(),
            events::count_for(&t, "sonnet"),
            Some(DirectCall::CountTokens {
                model: COUNT_MODEL.into(),
                text: COUNT_TEXT.into(),
            }),
        ));
        out.push((
            spec_rust("count"),
            warm::COUNT_ESTIMATE_LABEL.into(),
            events::count_for(&t, "nova-lite"),
            None,
        ));
    }
    Ok(out)
}

/// N concurrent paced streams in one `stream-url` process per N, against its own paced
/// bedrock-local.
async fn lmi_section(
    run: &mut Run,
    root: &Path,
    ctx: &LaunchCtx,
    bins: &Bins,
    profile: &str,
    quick: bool,
) {
    let template: serde_json::Value = match fixture(root, "function-url-post-converse.json")
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            run.error(e);
            return;
        }
    };
    let input = bench::lmi::LmiInput {
        bedrock_bin: &bins.path("bedrock-local"),
        stream_url_bin: &bins.path("stream-url"),
        ctx,
        template: &template,
    };
    let plan = if quick {
        bench::lmi::QUICK
    } else {
        bench::lmi::FULL
    };
    let mut l = bench::lmi::run(input, &plan).await;
    l.load_average = Some(load_avg());
    l.profile = profile.to_string();
    l.cpu = Machine::detect().cpu;
    for e in &l.errors {
        run.error(format!("lmi: {e}"));
    }
    run.lmi = Some(l);
}

/// `stream-url` (paired with raw ConverseStream) and the Python buffered stream baseline.
async fn stream_section(
    run: &mut Run,
    root: &Path,
    ctx: &LaunchCtx,
    plan: &Plan,
    stream_bin: &Path,
    python: Option<&FnSpec>,
) {
    if !stream_bin.exists() {
        run.error(format!("stream-url not built at {}", stream_bin.display()));
        return;
    }
    let template: serde_json::Value = match fixture(root, "function-url-post-converse.json")
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            run.error(e);
            return;
        }
    };
    let sp = plan.stream;
    let end = Instant::now() + Duration::from_secs(plan.stream_budget_s);
    let spec = FnSpec {
        name: "stream-url".into(),
        kind: FnKind::Rust {
            bin: stream_bin.to_path_buf(),
        },
    };
    eprintln!(
        "bench: stream-url: {} warm + {} paced + {} relays of {} tokens, each paired with a raw ConverseStream",
        sp.warm, sp.paced, sp.relay, sp.relay_len
    );
    let third = Instant::now() + Duration::from_secs(plan.stream_budget_s * 2 / 3);
    let r = bench::streaming::measure(&spec, ctx, &template, &sp, third).await;
    if let Some(e) = &r.failure {
        run.error(format!("stream-url streaming: {e}"));
    }
    let py = match python {
        Some(spec) => {
            eprintln!("bench: Python buffered ConverseStream baseline");
            let p = bench::streaming::measure_buffered(spec, ctx, &template, &sp, end).await;
            if let Some(e) = &p.failure {
                run.error(format!("Python stream baseline: {e}"));
            }
            Some(p)
        }
        None => {
            run.skip(
                "Python streaming baseline",
                "Python baseline unavailable (see Errors)",
            );
            None
        }
    };
    run.figures
        .extend(bench::stream_report::figures(&r, py.as_ref(), &sp));
}

fn find<'a>(cold: &'a [ColdResult], name: &str) -> Option<&'a ColdResult> {
    cold.iter().find(|c| c.function == name)
}

fn cold_figures(run: &mut Run, cold: &[ColdResult], invoke_mode: Option<&str>) {
    let min_init = find(cold, MINIMAL).and_then(|c| summarize(&c.init_ms));
    let min_first = find(cold, MINIMAL).and_then(|c| summarize(&c.first_invoke_ms));
    let min_cpu = find(cold, MINIMAL).and_then(|c| summarize(&c.first_invoke_cpu_ms));
    let py_init = find(cold, PYTHON).and_then(|c| summarize(&c.init_ms));
    let py_first = find(cold, PYTHON).and_then(|c| summarize(&c.first_invoke_ms));
    for c in cold {
        let truncated = |f: Figure| {
            if c.truncated {
                f.note("stopped by the time bound before the run count")
            } else {
                f
            }
        };
        if c.function == MINIMAL || c.function == PYTHON {
            continue;
        }
        let label = c.event.as_deref().unwrap_or("init only");
        if let Some(first) = summarize(&c.first_invoke_ms) {
            if let Some(py) = &py_first {
                let ratio = first.median / py.median;
                let mut f = Figure::new(
                    &format!("cold_start.first_invoke.{}.vs_python", c.function),
                    &format!(
                        "Cold start, first invoke: {} ({label}) vs Python",
                        c.function
                    ),
                    "ms",
                    first.clone(),
                )
                .with_baseline("Python boto3 + awslambdaric (Converse)", py.clone())
                .with_target("≥ 10× faster (ratio ≤ 0.1)", ratio <= 0.1);
                if c.function != "invoke" {
                    f = f.note("not the same job as the Python baseline (a buffered Converse): compare with care");
                }
                if c.function == "invoke" && invoke_mode == Some("models") {
                    f = f.note("invoke lists models (no Bedrock call) while the Python baseline does a Converse: POST /v1/converse is not implemented yet, so this is not yet the same job");
                }
                run.figures.push(truncated(f));
            }
            if let Some(min) = &min_first {
                let ratio = first.median / min.median;
                let f = Figure::new(
                    &format!("cold_start.first_invoke.{}.vs_minimal", c.function),
                    &format!(
                        "Cold start, first invoke: {} ({label}) vs minimal Rust",
                        c.function
                    ),
                    "ms",
                    first,
                )
                .with_baseline("bench-minimal-fn (echo)", min.clone())
                .with_target("within 2× (ratio ≤ 2)", ratio <= 2.0);
                run.figures.push(truncated(f));
            }
        }
        if let (Some(cpu), Some(min)) = (summarize(&c.first_invoke_cpu_ms), &min_cpu) {
            let f = Figure::new(
                &format!("cold_start.first_invoke_cpu.{}", c.function),
                &format!(
                    "Cold start, CPU time to the first answer: {} ({label})",
                    c.function
                ),
                "ms",
                cpu,
            )
            .with_baseline("bench-minimal-fn (echo)", min.clone())
            .note("CPU time of the process's threads from spawn to the first response's arrival (`/proc/<pid>/task/*/schedstat`): the work done, less moved by other load on the machine than the wall time above");
            run.figures.push(truncated(f));
        }
        if let Some(init) = summarize(&c.init_ms) {
            let mut f = Figure::new(
                &format!("cold_start.init.{}", c.function),
                &format!("Cold start, init (spawn → first `next`): {}", c.function),
                "ms",
                init,
            );
            if let Some(min) = &min_init {
                f = f.with_baseline("bench-minimal-fn", min.clone());
            }
            if c.event.is_none() {
                f = f.note("init only: no first invoke measured (see 'Not measured')");
            }
            run.figures.push(truncated(f));
        }
    }
    if let (Some(py), Some(min)) = (&py_init, &min_init) {
        run.figures.push(
            Figure::new(
                "cold_start.init.python-boto3",
                "Cold start, init: Python boto3 baseline (for reference)",
                "ms",
                py.clone(),
            )
            .with_baseline("bench-minimal-fn", min.clone()),
        );
    }
    if let (Some(py), Some(min)) = (&py_first, &min_first) {
        run.figures.push(
            Figure::new(
                "cold_start.first_invoke.python-boto3",
                "Cold start, first invoke: Python boto3 baseline (for reference)",
                "ms",
                py.clone(),
            )
            .with_baseline("bench-minimal-fn", min.clone()),
        );
    }
    for (name, what) in [
        (MINIMAL, "minimal Rust function"),
        (PYTHON, "Python baseline"),
    ] {
        if find(cold, name).is_none_or(|c| c.first_invoke_ms.is_empty()) {
            run.skip(
                format!("cold start of the {what}"),
                "could not run (see Errors)",
            );
        }
    }
}

fn warm_figures(run: &mut Run, warm: &[WarmResult], invoke_mode: Option<&str>) {
    let minimal = warm.iter().find(|w| w.function == MINIMAL);
    let python = warm.iter().find(|w| w.function == PYTHON);
    let min_fn = minimal.and_then(|w| summarize(&w.fn_ms));
    let mb = |kb: u64| kb as f64 * 1024.0 / 1e6;
    if let Some(w) = warm.iter().find(|w| w.function == "invoke") {
        let ok = |s: &Summary| s.median < 1.0 && s.p99 < 3.0;
        if invoke_mode == Some("converse") {
            if let (Some(o), Some(d)) = (summarize(&w.overhead_ms), summarize(&w.direct_ms)) {
                let met = ok(&o);
                let max = o.max;
                run.figures.push(
                    Figure::new("warm.overhead.invoke.converse", "Warm overhead: invoke POST /v1/converse minus direct SDK Converse (paired)", "ms", o)
                        .with_baseline("direct Converse (Rust SDK → bedrock-local)", d)
                        .with_target("p50 < 1 ms, p99 < 3 ms", met)
                        .note(format!("max {max:.3} ms; {} non-2xx responses", w.non_2xx)),
                );
            }
        } else if let Some(f) = summarize(&w.fn_ms) {
            let met = ok(&f);
            let mut fig = Figure::new("warm.overhead.invoke.models", "Warm handling: invoke GET /v1/models (event handed out → response posted)", "ms", f)
                .with_target("p50 < 1 ms, p99 < 3 ms", met)
                .note("no Bedrock call on this route, so nothing is subtracted: this is the whole handling time (runtime API round trip, axum routing, catalog JSON), an upper bound of the overhead the function adds; the Converse overhead waits for POST /v1/converse");
            if let Some(m) = &min_fn {
                fig = fig.with_baseline("bench-minimal-fn echo", m.clone());
            }
            if w.non_2xx > 0 {
                fig = fig.note(format!(
                    "{} non-2xx responses (first status {:?})",
                    w.non_2xx, w.first_status
                ));
            }
            run.figures.push(fig);
        }
        if let Some(kb) = w.peak_rss_kb {
            let v = mb(kb);
            let mut f = Figure::new(
                "memory.peak_rss.invoke",
                &format!("Peak RSS after {} warm requests: invoke", w.requests_total),
                "MB",
                single(v),
            )
            .with_target("< 40 MB", v < 40.0);
            if let Some(py) = python.and_then(|p| p.peak_rss_kb) {
                f = f.with_baseline("Python boto3", single(mb(py)));
            }
            run.figures.push(f);
        }
    }
    if let Some(w) = python
        && let (Some(o), Some(d)) = (summarize(&w.overhead_ms), summarize(&w.direct_ms))
    {
        run.figures.push(
            Figure::new(
                "warm.overhead.python-boto3.converse",
                "Warm overhead: Python boto3 Converse minus direct SDK Converse (reference)",
                "ms",
                o,
            )
            .with_baseline("direct Converse (Rust SDK → bedrock-local)", d)
                .note("paired differences: a single pair can be negative when the direct call of that pair was the slower one"),
        );
    }
    if let Some(m) = min_fn {
        run.figures.push(Figure::new(
            "warm.handling.bench-minimal-fn",
            "Warm handling: minimal Rust fn echo (runtime API floor)",
            "ms",
            m,
        ));
    }
    for w in [minimal, python].into_iter().flatten() {
        if let Some(kb) = w.peak_rss_kb {
            run.figures.push(Figure::new(
                &format!("memory.peak_rss.{}", w.function),
                &format!(
                    "Peak RSS after {} warm requests: {} (reference)",
                    w.requests_total, w.function
                ),
                "MB",
                single(mb(kb)),
            ));
        }
    }
}

/// Where each binary the bench launches is: the functions from `--functions-dir` when given.
struct Bins {
    dir: PathBuf,
    functions: Option<PathBuf>,
}

impl Bins {
    /// For the results: where the binaries came from.
    fn describe(&self) -> String {
        match &self.functions {
            Some(f) => format!("{} (functions: {})", self.dir.display(), f.display()),
            None => self.dir.display().to_string(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        match &self.functions {
            Some(d) if FUNCTIONS.contains(&name) || name == MINIMAL => {
                d.join(name).join("bootstrap")
            }
            _ => self.dir.join(name),
        }
    }
}

fn size_figures(run: &mut Run, bins: &Bins, profile: &str, placeholders: &[String]) {
    let size = |n: &str| {
        std::fs::metadata(bins.path(n))
            .ok()
            .map(|m| m.len() as f64 / 1e6)
    };
    let minimal = size(MINIMAL);
    for name in FUNCTIONS {
        let Some(s) = size(name) else {
            run.skip(
                format!("{name}: binary size"),
                format!("not built: {}", bins.path(name).display()),
            );
            continue;
        };
        let mut f = Figure::new(
            &format!("size.{name}"),
            &format!("Binary size: {name} (x86_64)"),
            "MB",
            single(s),
        )
        .with_target("< 10 MB", s < 10.0);
        if let Some(m) = minimal {
            f = f.with_baseline("bench-minimal-fn", single(m));
        }
        if placeholders.iter().any(|p| p == name) {
            f = f.note("placeholder binary (`fn main() {}`): its size means nothing yet");
        }
        if profile != "release" {
            f = f.note("not a release build");
        }
        run.figures.push(f);
    }
    if let Some(s) = size("bedrock-local") {
        run.figures.push(Figure::new(
            "size.bedrock-local",
            "Binary size: bedrock-local (x86_64, reference)",
            "MB",
            single(s),
        ));
    }
    run.skip(
        "arm64 binary sizes",
        "this machine has no aarch64-unknown-linux-gnu Rust target; sizes above are x86_64",
    );
}
