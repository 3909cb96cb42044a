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
    /// HTTP status of the first measured response (API Gateway / Function URL events).
    pub first_status: Option<u16>,
    pub failure: Option<Failure>,
    pub truncated: bool,
    pub warmup_runs: usize,
}

/// `warmup` discarded launches (page cache, allocator, Python bytecode caches), then `n`
/// measured ones, stopping early at `deadline` (reported as truncated).
pub async fn measure(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    event: Option<(&str, Bytes)>,
    warmup: usize,
    n: usize,
    deadline: Instant,
) -> ColdResult {
    let mut r = ColdResult {
        function: spec.name.clone(),
        event: event.as_ref().map(|(l, _)| l.to_string()),
        init_ms: Vec::new(),
        first_invoke_ms: Vec::new(),
        first_status: None,
        failure: None,
        truncated: false,
        warmup_runs: warmup,
    };
    for i in 0..warmup + n {
        if Instant::now() >= deadline {
            r.truncated = true;
            break;
        }
        match one(spec, ctx, event.as_ref().map(|(_, b)| b.clone())).await {
            Ok((init, first, status)) => {
                if i >= warmup {
                    r.init_ms.push(init);
                    if let Some(f) = first {
                        r.first_invoke_ms.push(f);
                    }
                }
                r.first_status = r.first_status.or(status);
            }
            Err(f) => {
                r.failure = Some(f);
                break;
            }
        }
    }
    r
}

async fn one(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    event: Option<Bytes>,
) -> Result<(f64, Option<f64>, Option<u16>), Failure> {
    let (mut s, id) = Session::launch(spec, ctx, event).await?;
    let first_next = s.wait_first_next(Duration::from_secs(30)).await?;
    let init = ms(first_next.duration_since(s.spawned_at));
    let mut first = None;
    let mut status = None;
    if let Some(id) = id {
        let out = s.wait_outcome(&id, Duration::from_secs(30)).await?;
        first = Some(ms(out.done.duration_since(s.spawned_at)));
        status = out.http_status();
    }
    s.stop();
    Ok((init, first, status))
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
