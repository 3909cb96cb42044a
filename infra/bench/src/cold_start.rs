//! Cold start: N fresh processes, each launched as Lambda launches one, with its first event
//! already queued. `init` = spawn to the first `GET next`; `first invoke` = spawn to the first
//! response fully posted. Every process is killed by pid afterwards.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::session::{Failure, FnSpec, LaunchCtx, Session};
use crate::stats::ms;

#[derive(Debug)]
pub struct ColdResult {
    pub function: String,
    /// What the first event asks for; `None`: init only.
    pub event: Option<String>,
    pub init_ms: Vec<f64>,
    pub first_invoke_ms: Vec<f64>,
    /// CPU time of the process from spawn to the first response's arrival (its threads then).
    pub first_invoke_cpu_ms: Vec<f64>,
    /// HTTP status of the first measured response (API Gateway / Function URL events).
    pub first_status: Option<u16>,
    pub failure: Option<Failure>,
    pub truncated: bool,
    pub warmup_runs: usize,
}

/// One target of [`measure`]: a function and the event its first launch finds queued (`None`:
/// init only; the label says what the event asks for).
pub struct Target<'a> {
    pub spec: &'a FnSpec,
    pub event: Option<(&'a str, Bytes)>,
}

/// `warmup` discarded rounds (page cache, allocator, Python bytecode caches), then `n` measured
/// ones; each round launches every target once, in turn. Interleaved, a slow spell of the shared
/// machine falls on the baseline and the functions alike, so their ratio moves less than when
/// each target's launches run as one block. Stops early at `deadline` (reported as truncated); a
/// target that fails is not launched again.
pub async fn measure(
    targets: &[Target<'_>],
    ctx: &LaunchCtx,
    warmup: usize,
    n: usize,
    deadline: Instant,
) -> Vec<ColdResult> {
    let mut results: Vec<ColdResult> = targets
        .iter()
        .map(|t| ColdResult {
            function: t.spec.name.clone(),
            event: t.event.as_ref().map(|(l, _)| l.to_string()),
            init_ms: Vec::new(),
            first_invoke_ms: Vec::new(),
            first_invoke_cpu_ms: Vec::new(),
            first_status: None,
            failure: None,
            truncated: false,
            warmup_runs: warmup,
        })
        .collect();
    for round in 0..warmup + n {
        for (t, r) in targets.iter().zip(results.iter_mut()) {
            if r.failure.is_some() || r.truncated {
                continue;
            }
            if Instant::now() >= deadline {
                r.truncated = true;
                continue;
            }
            match one(t.spec, ctx, t.event.as_ref().map(|(_, b)| b.clone())).await {
                Ok(Launch {
                    init,
                    first,
                    status,
                }) => {
                    if round >= warmup {
                        r.init_ms.push(init);
                        if let Some((wall, cpu)) = first {
                            r.first_invoke_ms.push(wall);
                            r.first_invoke_cpu_ms.extend(cpu);
                        }
                    }
                    r.first_status = r.first_status.or(status);
                }
                Err(f) => r.failure = Some(f),
            }
        }
    }
    results
}

/// What one launch measured.
struct Launch {
    init: f64,
    /// First invoke: wall time and (when `/proc` could be read) CPU time, in ms.
    first: Option<(f64, Option<f64>)>,
    status: Option<u16>,
}

async fn one(spec: &FnSpec, ctx: &LaunchCtx, event: Option<Bytes>) -> Result<Launch, Failure> {
    let (mut s, id) = Session::launch(spec, ctx, event).await?;
    let first_next = s.wait_first_next(Duration::from_secs(30)).await?;
    let init = ms(first_next.duration_since(s.spawned_at));
    let mut first = None;
    let mut status = None;
    if let Some(id) = id {
        let out = s.wait_outcome(&id, Duration::from_secs(30)).await?;
        let cpu = s.child.cpu_ms();
        first = Some((ms(out.done.duration_since(s.spawned_at)), cpu));
        status = out.http_status();
    }
    s.stop();
    Ok(Launch {
        init,
        first,
        status,
    })
}

/// One launch with `event`, returning the response's HTTP status (to probe whether a route is
/// implemented) and the raw body.
pub async fn probe(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    event: Bytes,
) -> Result<(Option<u16>, Bytes), Failure> {
    let (mut s, id) = Session::launch(spec, ctx, Some(event)).await?;
    let id = id.unwrap_or_default();
    s.wait_first_next(Duration::from_secs(30)).await?;
    let out = s.wait_outcome(&id, Duration::from_secs(30)).await?;
    s.stop();
    Ok((out.http_status(), out.body))
}
