//! bedrock-local's own capacity, so we know the emulator is not the bottleneck of the other
//! figures: Converse requests/s over keep-alive connections at a fixed concurrency, and
//! ConverseStream tokens/s with pacing off and a long reply (`[[len:N]]` marker).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use serde_json::json;

use crate::direct::{RawConn, model_path, parse_http_url};
use crate::stats::ms;

#[derive(Debug, Default)]
pub struct ConverseThroughput {
    pub concurrency: usize,
    pub completed: usize,
    pub errors: usize,
    pub elapsed_s: f64,
    pub latencies_ms: Vec<f64>,
    pub truncated: bool,
    pub first_error: Option<String>,
}

impl ConverseThroughput {
    pub fn rps(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.completed as f64 / self.elapsed_s
        } else {
            0.0
        }
    }
}

fn converse_body(i: usize, seed: u64) -> Bytes {
    let text = format!("benchmark request {i} (seed {seed}): say something short");
    Bytes::from(json!({"messages": [{"role": "user", "content": [{"text": text}]}]}).to_string())
}

/// `total` Converse calls over `concurrency` keep-alive connections, stopping at `deadline`.
/// The first `warmup` calls are not counted.
pub async fn converse_rps(
    url: &str,
    concurrency: usize,
    warmup: usize,
    total: usize,
    seed: u64,
    deadline: Instant,
) -> Result<ConverseThroughput, String> {
    let addr = parse_http_url(url)?;
    let path = model_path("converse");
    // Warm-up: open the connections and run a few calls on each.
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(RawConn::connect(addr).await?);
    }
    for i in 0..warmup {
        let c = &mut conns[i % concurrency];
        let (status, body) = c.post(&path, converse_body(i, seed)).await?;
        if status != 200 {
            return Err(format!(
                "converse answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let next = Arc::clone(&next);
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut errors, mut first_error, mut truncated) = (0, None, false);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                if Instant::now() >= deadline {
                    truncated = true;
                    break;
                }
                let t = Instant::now();
                match conn.post(&path, converse_body(warmup + i, seed)).await {
                    Ok((200, _)) => lat.push(ms(t.elapsed())),
                    Ok((s, b)) => {
                        errors += 1;
                        first_error
                            .get_or_insert(format!("status {s}: {}", String::from_utf8_lossy(&b)));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        break;
                    }
                }
            }
            (lat, errors, first_error, truncated)
        }));
    }
    let mut out = ConverseThroughput {
        concurrency,
        ..Default::default()
    };
    for t in tasks {
        let (lat, errors, first_error, truncated) = t.await.map_err(|e| e.to_string())?;
        out.completed += lat.len();
        out.latencies_ms.extend(lat);
        out.errors += errors;
        out.truncated |= truncated;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
    }
    out.elapsed_s = start.elapsed().as_secs_f64();
    Ok(out)
}

#[derive(Debug, Default)]
pub struct StreamThroughput {
    pub reply_tokens_asked: u32,
    /// Per stream: output tokens / (last byte - request sent), tokens per second.
    pub tokens_per_s: Vec<f64>,
    /// Per stream: time to the first content event, ms.
    pub first_delta_ms: Vec<f64>,
    pub output_tokens: Vec<u64>,
    pub truncated: bool,
}

/// `count` sequential ConverseStream calls asking for about `reply_tokens` tokens each.
pub async fn stream_tokens(
    url: &str,
    reply_tokens: u32,
    warmup: usize,
    count: usize,
    seed: u64,
    deadline: Instant,
) -> Result<StreamThroughput, String> {
    let addr = parse_http_url(url)?;
    let path = model_path("converse-stream");
    let mut conn = RawConn::connect(addr).await?;
    let mut out = StreamThroughput {
        reply_tokens_asked: reply_tokens,
        ..Default::default()
    };
    for i in 0..warmup + count {
        if i >= warmup && Instant::now() >= deadline {
            out.truncated = true;
            break;
        }
        let text =
            format!("benchmark stream {i} (seed {seed}): write at length [[len:{reply_tokens}]]");
        let body = json!({
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": reply_tokens * 2},
        });
        let mut buf = Vec::new();
        let mut first_delta = None;
        let mut usage_out = None;
        let mut parse_err = None;
        let t = Instant::now();
        let status = conn
            .post_streaming(&path, Bytes::from(body.to_string()), |chunk| {
                buf.extend_from_slice(chunk);
                let r = crate::eventstream::drain(&mut buf, |payload| {
                    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
                        return;
                    };
                    if v.get("delta").is_some() && first_delta.is_none() {
                        first_delta = Some(t.elapsed());
                    }
                    if let Some(n) = v.pointer("/usage/outputTokens").and_then(|n| n.as_u64()) {
                        usage_out = Some(n);
                    }
                });
                if let Err(e) = r {
                    parse_err.get_or_insert(e);
                }
            })
            .await?;
        let elapsed = t.elapsed();
        if status != 200 {
            return Err(format!(
                "converse-stream answered {status}: {}",
                String::from_utf8_lossy(&buf)
            ));
        }
        if let Some(e) = parse_err {
            return Err(e);
        }
        let tokens = usage_out
            .ok_or("converse-stream ended without a metadata event carrying usage.outputTokens")?;
        if i >= warmup {
            out.tokens_per_s.push(tokens as f64 / elapsed.as_secs_f64());
            out.first_delta_ms
                .push(first_delta.map(ms).unwrap_or(f64::NAN));
            out.output_tokens.push(tokens);
        }
    }
    Ok(out)
}
