//! Warm overhead: one process, M events back to back. Per event, the function's time is from the
//! event handed out (`next` returned) to its response fully posted. When the function calls
//! Bedrock, the same operation is called directly with the SDK right before or after it
//! (alternating) and the pair's difference is the function's added latency. The peak RSS (`VmHWM`) is read after
//! the last request.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::direct::{Direct, DirectCall};
use crate::report::Figure;
use crate::session::{Failure, FnSpec, LaunchCtx, Session};
use crate::stats::{Summary, ms, summarize};

#[derive(Debug)]
pub struct WarmResult {
    pub function: String,
    pub event: String,
    /// Event handed out -> response posted, per measured request.
    pub fn_ms: Vec<f64>,
    /// Direct SDK Converse latency paired with each request (empty when not paired).
    pub direct_ms: Vec<f64>,
    /// fn - direct, per pair.
    pub overhead_ms: Vec<f64>,
    pub requests_total: usize,
    pub peak_rss_kb: Option<u64>,
    pub non_2xx: usize,
    pub first_status: Option<u16>,
    pub failure: Option<Failure>,
    pub truncated: bool,
}

/// `direct`: when set, pair every request with that direct SDK call.
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    label: &str,
    event: Bytes,
    direct: Option<(&Direct, &DirectCall)>,
    warmup: usize,
    n: usize,
    deadline: Instant,
) -> WarmResult {
    let mut r = WarmResult {
        function: spec.name.clone(),
        event: label.to_string(),
        fn_ms: Vec::with_capacity(n),
        direct_ms: Vec::new(),
        overhead_ms: Vec::new(),
        requests_total: 0,
        peak_rss_kb: None,
        non_2xx: 0,
        first_status: None,
        failure: None,
        truncated: false,
    };
    if let Err(f) = run(spec, ctx, event, direct, warmup, n, deadline, &mut r).await {
        r.failure = Some(f);
    }
    r
}

#[allow(clippy::too_many_arguments)]
async fn run(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    event: Bytes,
    direct: Option<(&Direct, &DirectCall)>,
    warmup: usize,
    n: usize,
    deadline: Instant,
    r: &mut WarmResult,
) -> Result<(), Failure> {
    let (mut s, _) = Session::launch(spec, ctx, None).await?;
    s.wait_first_next(Duration::from_secs(30)).await?;
    for i in 0..warmup + n {
        if i >= warmup && Instant::now() >= deadline {
            r.truncated = true;
            break;
        }
        let mut d = None;
        if let Some((client, call)) = direct
            && i % 2 == 0
        {
            d = Some(client.call(call).await.map_err(Failure::FunctionError)?);
        }
        let out = s.invoke(event.clone(), Duration::from_secs(30)).await?;
        if let Some((client, call)) = direct
            && i % 2 == 1
        {
            d = Some(client.call(call).await.map_err(Failure::FunctionError)?);
        }
        r.requests_total += 1;
        let status = out.http_status();
        r.first_status = r.first_status.or(status);
        if status.is_some_and(|s| !(200..300).contains(&s)) {
            r.non_2xx += 1;
        }
        if i >= warmup {
            let f = ms(out.duration());
            r.fn_ms.push(f);
            if let Some(d) = d {
                r.direct_ms.push(d);
                r.overhead_ms.push(f - d);
            }
        }
    }
    r.peak_rss_kb = s.peak_rss_kb();
    s.stop();
    Ok(())
}

/// Event label of invoke's native route session.
pub const NATIVE_LABEL: &str = "POST /v1/invoke/{modelId} (Anthropic native body)";
/// Event label of count with a model Bedrock counts (CountTokens).
pub const COUNT_TOKENS_LABEL: &str = "POST /v1/count (sonnet: Bedrock CountTokens)";
/// Event label of count with a model counted by the local estimator.
pub const COUNT_ESTIMATE_LABEL: &str = "POST /v1/count (nova-lite: local estimate)";

/// The warm target of issue 12: what the function adds, p50 < 1 ms and p99 < 3 ms.
const TARGET: &str = "p50 < 1 ms, p99 < 3 ms";

fn meets(s: &Summary) -> bool {
    s.median < 1.0 && s.p99 < 3.0
}

fn one(v: f64) -> Summary {
    Summary {
        n: 1,
        min: v,
        median: v,
        p99: v,
        max: v,
        mean: v,
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

/// Figures of the issue 12.2 sessions (native invoke, count with CountTokens and with the local
/// estimate): overhead (p50/p99/max) against the same call made directly, or against the minimal
/// function's echo when there is no Bedrock call, and the peak RSS of each process.
pub fn extra_figures(warm: &[WarmResult]) -> Vec<Figure> {
    let by = |label: &str| warm.iter().find(|w| w.event == label);
    let echo = warm
        .iter()
        .find(|w| w.function == "bench-minimal-fn")
        .and_then(|w| summarize(&w.fn_ms));
    let python_rss = warm
        .iter()
        .find(|w| w.function == "python-boto3")
        .and_then(|w| w.peak_rss_kb);
    let mut out = Vec::new();
    let paired = [
        (
            NATIVE_LABEL,
            "invoke.native",
            "direct InvokeModel (Rust SDK → bedrock-local)",
        ),
        (
            COUNT_TOKENS_LABEL,
            "count.count_tokens",
            "direct CountTokens (Rust SDK → bedrock-local)",
        ),
    ];
    for (label, id, base) in paired {
        let Some(w) = by(label) else { continue };
        if let (Some(o), Some(d)) = (summarize(&w.overhead_ms), summarize(&w.direct_ms)) {
            let (met, max) = (meets(&o), o.max);
            out.push(
                Figure::new(
                    &format!("warm.overhead.{id}"),
                    &format!(
                        "Warm overhead: {} {label} minus direct call (paired)",
                        w.function
                    ),
                    "ms",
                    o,
                )
                .with_baseline(base, d)
                .with_target(TARGET, met)
                .note(format!("max {max:.3} ms; {} non-2xx responses", w.non_2xx)),
            );
        }
    }
    if let Some(w) = by(COUNT_ESTIMATE_LABEL)
        && let Some(f) = summarize(&w.fn_ms)
    {
        let (met, max) = (meets(&f), f.max);
        let mut fig = Figure::new(
            "warm.handling.count.estimate",
            &format!("Warm handling: count {COUNT_ESTIMATE_LABEL} (no Bedrock call)"),
            "ms",
            f,
        )
        .with_target(TARGET, met)
        .note(format!(
            "max {max:.3} ms; {} non-2xx responses. No Bedrock call: the whole handling (runtime API round trip, routing, JSON parse, local estimate, response JSON) counts as overhead. The no-op baseline is the minimal Rust function echoing its event in the same run: the runtime API floor, so ours minus baseline is what count itself costs",
            w.non_2xx
        ));
        if let Some(e) = echo {
            fig = fig.with_baseline("bench-minimal-fn echo (no-op)", e);
        }
        out.push(fig);
    }
    for (label, id) in [
        (NATIVE_LABEL, "invoke.native"),
        (COUNT_TOKENS_LABEL, "count.count_tokens"),
        (COUNT_ESTIMATE_LABEL, "count.estimate"),
    ] {
        let Some(w) = by(label) else { continue };
        let Some(kb) = w.peak_rss_kb else { continue };
        let v = mb(kb);
        let mut f = Figure::new(
            &format!("memory.peak_rss.{id}"),
            &format!(
                "Peak RSS after {} warm requests: {} {label}",
                w.requests_total, w.function
            ),
            "MB",
            one(v),
        )
        .with_target("< 40 MB", v < 40.0);
        if let Some(py) = python_rss {
            f = f.with_baseline("Python boto3", one(mb(py)));
        }
        out.push(f);
    }
    out
}
