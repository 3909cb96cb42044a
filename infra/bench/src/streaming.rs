//! Streaming through `stream-url` (issue 7 / 12.3), in one function process under the harness's
//! runtime API, each request paired (alternating order) with the same ConverseStream sent
//! straight to bedrock-local over a raw keep-alive connection (no SDK, no signing), so that the
//! difference is what the function adds:
//!
//! 1. *warm*: short unpaced replies back to back — time to the first content event and to the
//!    end of the stream, and the peak RSS after them;
//! 2. *paced*: `[[ttft_ms:N]]` / `[[tokens_per_sec:N]]` markers, the same for both sides — time to
//!    the first content event (what a user waits for); each request also goes to a second
//!    stream-url process with the content filter off (`GATEWAY_PII_POLICY=off`), whose
//!    difference from the first is what the default filter's hold-back costs a paced stream;
//! 3. *relay*: a long reply (`[[len:N]]`) with pacing off — output tokens / (last byte − first
//!    byte). The direct side is the bench's own client (hyper, each event decoded as it
//!    arrives), and that client, not bedrock-local, bounds it: curl read the same reply several
//!    times faster (by hand, 2026-12-07). So it is a reference, not the emulator's own rate; the
//!    function's side is timed where the bench's Runtime API receives it and may be bounded by
//!    the bench as well.
//!
//! Function times start when `next` hands the event out and end at the arrival, at the runtime
//! API, of the frame that carried the first byte of the first `contentBlockDelta` event.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::direct::{RawConn, model_path, parse_http_url};
use crate::session::{Failure, FnSpec, LaunchCtx, Outcome, Session};
use crate::stats::ms;
use crate::stream_body::StreamedBody;

/// Counts and pacing of one streaming run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StreamPlan {
    pub warmup: usize,
    pub warm: usize,
    pub paced: usize,
    pub ttft_ms: u64,
    pub tokens_per_sec: u32,
    pub paced_len: u32,
    pub relay: usize,
    pub relay_len: u32,
}

/// One request's text and inference settings, the same on both sides of a pair.
#[derive(Debug, Clone)]
pub struct Ask {
    pub text: String,
    pub max_tokens: u32,
}

impl Ask {
    /// Short unpaced reply (the emulator's default length); `i` varies the prompt.
    pub fn short(i: usize) -> Ask {
        Ask {
            text: format!("bench stream {i}: hello [[tokens_per_sec:0]] [[ttft_ms:0]]"),
            max_tokens: 1024,
        }
    }

    pub fn paced(i: usize, p: &StreamPlan) -> Ask {
        Ask {
            text: format!(
                "bench paced {i}: hello [[len:{}]] [[ttft_ms:{}]] [[tokens_per_sec:{}]]",
                p.paced_len, p.ttft_ms, p.tokens_per_sec
            ),
            max_tokens: p.paced_len * 2 + 64,
        }
    }

    pub fn relay(i: usize, len: u32) -> Ask {
        Ask {
            text: format!(
                "bench relay {i}: write at length [[len:{len}]] [[tokens_per_sec:0]] [[ttft_ms:0]]"
            ),
            max_tokens: len * 2,
        }
    }

    fn converse_body(&self) -> Value {
        json!({
            "messages": [{"role": "user", "content": [{"text": self.text}]}],
            "inferenceConfig": {"maxTokens": self.max_tokens},
        })
    }

    /// The Function URL event for `POST /converse`, from the fixture `template`.
    pub fn event(&self, template: &Value, model_alias: &str) -> Bytes {
        let mut body = self.converse_body();
        body["model"] = json!(model_alias);
        let mut ev = template.clone();
        let text = body.to_string();
        ev["body"] = json!(text);
        if let Some(h) = ev.get_mut("headers").and_then(Value::as_object_mut) {
            h.insert("content-length".into(), json!(text.len().to_string()));
        }
        Bytes::from(ev.to_string())
    }
}

/// One stream's timing, from request start (function: event handed out; direct: request sent).
#[derive(Debug, Clone, Copy)]
pub struct StreamTiming {
    pub first_byte: Duration,
    pub first_content: Duration,
    pub last_byte: Duration,
    pub output_tokens: u64,
}

impl StreamTiming {
    /// Output tokens per second between the first and the last byte.
    pub fn relay_tps(&self) -> f64 {
        let d = self.last_byte.saturating_sub(self.first_byte).as_secs_f64();
        if d > 0.0 {
            self.output_tokens as f64 / d
        } else {
            f64::NAN
        }
    }
}

/// The same ConverseStream, straight to bedrock-local on a raw connection.
pub async fn direct_stream(conn: &mut RawConn, ask: &Ask) -> Result<StreamTiming, String> {
    let path = model_path("converse-stream");
    let body = Bytes::from(ask.converse_body().to_string());
    let (mut buf, mut first_byte, mut first_content, mut last_byte) =
        (Vec::new(), None, None, None);
    let (mut tokens, mut err) = (None, None);
    let t = Instant::now();
    let status = conn
        .post_streaming(&path, body, |chunk| {
            let now = t.elapsed();
            first_byte.get_or_insert(now);
            last_byte = Some(now);
            buf.extend_from_slice(chunk);
            let r = crate::eventstream::drain(&mut buf, |payload| {
                let Ok(v) = serde_json::from_slice::<Value>(payload) else {
                    return;
                };
                if v.get("delta").is_some() {
                    first_content.get_or_insert(now);
                }
                if let Some(n) = v.pointer("/usage/outputTokens").and_then(Value::as_u64) {
                    tokens = Some(n);
                }
            });
            if let Err(e) = r {
                err.get_or_insert(e);
            }
        })
        .await?;
    if status != 200 {
        return Err(format!(
            "direct converse-stream answered {status}: {}",
            String::from_utf8_lossy(&buf)
        ));
    }
    if let Some(e) = err {
        return Err(e);
    }
    Ok(StreamTiming {
        first_byte: first_byte.ok_or("direct stream: empty body")?,
        first_content: first_content.ok_or("direct stream: no content delta")?,
        last_byte: last_byte.unwrap_or_default(),
        output_tokens: tokens.ok_or("direct stream: no usage.outputTokens")?,
    })
}

/// The timing of a `stream-url` outcome, read from the runtime API's arrival timestamps.
pub fn function_timing(out: &Outcome) -> Result<StreamTiming, String> {
    if let Some(e) = &out.error {
        return Err(format!("streamed response ended with an error: {e}"));
    }
    let parsed = StreamedBody::parse(&out.body)?;
    if let Some(s) = parsed.status.filter(|s| !(200..300).contains(s)) {
        return Err(format!("stream-url answered {s}: {}", tail(&out.body)));
    }
    if let Some(e) = parsed.error_event() {
        return Err(format!("stream-url error event: {}", e.data));
    }
    let first = parsed
        .first_content()
        .ok_or("no contentBlockDelta event in the stream")?;
    let since = |at: Option<Instant>| at.map(|a| a.duration_since(out.handed_out));
    Ok(StreamTiming {
        first_byte: since(out.first_byte()).ok_or("empty streamed body")?,
        first_content: since(out.arrival_of(first.start))
            .ok_or("first content event never arrived")?,
        last_byte: since(out.arrivals.last().map(|a| a.at)).unwrap_or_default(),
        output_tokens: parsed
            .output_tokens()
            .ok_or("no usage.outputTokens in the done event")?,
    })
}

fn tail(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[b.len().saturating_sub(300)..]).into_owned()
}

/// Paired samples of one phase.
#[derive(Debug, Default, Clone)]
pub struct Pairs {
    pub fn_first_content_ms: Vec<f64>,
    pub direct_first_content_ms: Vec<f64>,
    pub fn_complete_ms: Vec<f64>,
    pub direct_complete_ms: Vec<f64>,
    pub fn_relay_tps: Vec<f64>,
    pub direct_relay_tps: Vec<f64>,
    pub output_tokens: Vec<u64>,
}

impl Pairs {
    fn push(&mut self, f: &StreamTiming, d: &StreamTiming) {
        self.fn_first_content_ms.push(ms(f.first_content));
        self.direct_first_content_ms.push(ms(d.first_content));
        self.fn_complete_ms.push(ms(f.last_byte));
        self.direct_complete_ms.push(ms(d.last_byte));
        self.fn_relay_tps.push(f.relay_tps());
        self.direct_relay_tps.push(d.relay_tps());
        self.output_tokens.push(f.output_tokens);
    }

    /// Per-pair differences `a - b`.
    pub fn diff(a: &[f64], b: &[f64]) -> Vec<f64> {
        a.iter().zip(b).map(|(a, b)| a - b).collect()
    }
}

/// Everything measured on `stream-url`.
#[derive(Debug, Default)]
pub struct StreamResult {
    pub warm: Pairs,
    pub paced: Pairs,
    /// The paced requests again, on a process with the content filter off.
    pub paced_unfiltered: Pairs,
    pub relay: Pairs,
    pub requests_total: usize,
    /// `VmHWM` after the warm phase, and at the very end (after the long relays).
    pub rss_after_warm_kb: Option<u64>,
    pub rss_end_kb: Option<u64>,
    pub truncated: bool,
    pub failure: Option<String>,
}

/// Runs the three phases on one `stream-url` process; stops at `deadline` (truncated).
pub async fn measure(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    template: &Value,
    plan: &StreamPlan,
    deadline: Instant,
) -> StreamResult {
    let mut r = StreamResult::default();
    if let Err(e) = run(spec, ctx, template, plan, deadline, &mut r).await {
        r.failure = Some(e);
    }
    r
}

async fn run(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    template: &Value,
    plan: &StreamPlan,
    deadline: Instant,
    r: &mut StreamResult,
) -> Result<(), String> {
    let f = |e: Failure| e.to_string();
    let mut conn = RawConn::connect(parse_http_url(&ctx.bedrock_url)?).await?;
    let (mut s, _) = Session::launch(spec, ctx, None).await.map_err(f)?;
    s.wait_first_next(Duration::from_secs(30))
        .await
        .map_err(f)?;
    let unfiltered = LaunchCtx {
        env: vec![("GATEWAY_PII_POLICY".into(), "off".into())],
        ..ctx.clone()
    };
    let (mut s_off, _) = Session::launch(spec, &unfiltered, None).await.map_err(f)?;
    s_off
        .wait_first_next(Duration::from_secs(30))
        .await
        .map_err(f)?;
    let phases: [(usize, usize); 3] = [(plan.warmup, plan.warm), (0, plan.paced), (0, plan.relay)];
    for (phase, (warmup, n)) in phases.into_iter().enumerate() {
        for i in 0..warmup + n {
            if i >= warmup && Instant::now() >= deadline {
                r.truncated = true;
                break;
            }
            let ask = match phase {
                0 => Ask::short(i),
                1 => Ask::paced(i, plan),
                _ => Ask::relay(i, plan.relay_len),
            };
            let (ft, dt) = pair(&mut s, &mut conn, template, i, &ask).await?;
            r.requests_total += 1;
            if i >= warmup {
                [&mut r.warm, &mut r.paced, &mut r.relay][phase].push(&ft, &dt);
            }
            if phase == 1 {
                let (ft, dt) = pair(&mut s_off, &mut conn, template, i, &ask).await?;
                r.paced_unfiltered.push(&ft, &dt);
            }
        }
        if phase == 0 {
            r.rss_after_warm_kb = s.peak_rss_kb();
        }
    }
    r.rss_end_kb = s.peak_rss_kb();
    s.stop();
    s_off.stop();
    Ok(())
}

/// One function request and its direct twin, direct first on even `i`.
async fn pair(
    s: &mut Session,
    conn: &mut RawConn,
    template: &Value,
    i: usize,
    ask: &Ask,
) -> Result<(StreamTiming, StreamTiming), String> {
    let direct_first = i.is_multiple_of(2);
    let mut d = None;
    if direct_first {
        d = Some(direct_stream(conn, ask).await?);
    }
    let out = s
        .invoke(ask.event(template, "haiku"), Duration::from_secs(60))
        .await
        .map_err(|e| e.to_string())?;
    if !direct_first {
        d = Some(direct_stream(conn, ask).await?);
    }
    let ft = function_timing(&out)?;
    Ok((ft, d.ok_or("no direct stream")?))
}

/// The Python baseline's buffered "streaming" handler: consumes ConverseStream and returns the
/// whole reply at the end, so its client sees the first token only when the stream is complete.
#[derive(Debug, Default)]
pub struct BufferedResult {
    /// Event handed out -> response posted, paced requests.
    pub paced_complete_ms: Vec<f64>,
    /// Output tokens / (event handed out -> response posted), long replies.
    pub relay_tps: Vec<f64>,
    pub output_tokens: Vec<u64>,
    pub peak_rss_kb: Option<u64>,
    pub failure: Option<String>,
}

/// `paced` paced requests, then `relay` long replies, on one Python process.
pub async fn measure_buffered(
    spec: &FnSpec,
    ctx: &LaunchCtx,
    template: &Value,
    plan: &StreamPlan,
    deadline: Instant,
) -> BufferedResult {
    let mut r = BufferedResult::default();
    let res = async {
        let f = |e: Failure| e.to_string();
        let (mut s, _) = Session::launch(spec, ctx, None).await.map_err(f)?;
        s.wait_first_next(Duration::from_secs(30))
            .await
            .map_err(f)?;
        // One discarded request: imports and connection set-up on the first call.
        s.invoke(
            Ask::short(0).event(template, "haiku"),
            Duration::from_secs(60),
        )
        .await
        .map_err(f)?;
        for i in 0..plan.paced.min(20) {
            if Instant::now() >= deadline {
                break;
            }
            let out = s
                .invoke(
                    Ask::paced(i, plan).event(template, "haiku"),
                    Duration::from_secs(60),
                )
                .await
                .map_err(f)?;
            buffered_tokens(&out)?;
            r.paced_complete_ms.push(ms(out.duration()));
        }
        for i in 0..plan.relay {
            if Instant::now() >= deadline {
                break;
            }
            let out = s
                .invoke(
                    Ask::relay(i, plan.relay_len).event(template, "haiku"),
                    Duration::from_secs(120),
                )
                .await
                .map_err(f)?;
            let n = buffered_tokens(&out)?;
            r.relay_tps.push(n as f64 / out.duration().as_secs_f64());
            r.output_tokens.push(n);
        }
        r.peak_rss_kb = s.peak_rss_kb();
        s.stop();
        Ok::<_, String>(())
    }
    .await;
    if let Err(e) = res {
        r.failure = Some(e);
    }
    r
}

/// `usage.outputTokens` of the buffered handler's JSON body (inside the API Gateway response).
fn buffered_tokens(out: &Outcome) -> Result<u64, String> {
    let v: Value = serde_json::from_slice(&out.body).map_err(|e| e.to_string())?;
    if out.http_status() != Some(200) {
        return Err(format!(
            "Python stream handler answered: {}",
            tail(&out.body)
        ));
    }
    let body: Value =
        serde_json::from_str(v["body"].as_str().unwrap_or("{}")).map_err(|e| e.to_string())?;
    body.pointer("/usage/outputTokens")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no usage.outputTokens in {}", tail(&out.body)))
}
