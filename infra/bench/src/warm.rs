//! Warm overhead: one process, M events back to back. Per event, the function's time is from the
//! event handed out (`next` returned) to its response fully posted. When the function calls
//! Bedrock, the same operation is called directly with the SDK right before or after it
//! (alternating) and the pair's difference is the function's added latency. The peak RSS (`VmHWM`) is read after
//! the last request.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::direct::{Direct, DirectCall};
use crate::session::{Failure, FnSpec, LaunchCtx, Session};
use crate::stats::ms;

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
