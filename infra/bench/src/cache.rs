//! Response cache (issue 13): a hit's latency against a miss's, measured in the same run, in
//! process through `Gateway::converse` and `Gateway::converse_stream` (memory tier) against the
//! bench's bedrock-local. Pairs alternate: a new prompt (a miss: the model is called and the
//! answer stored), then the same prompt again (a hit). Bounded by a pair count and a time budget.
//!
//! bedrock-local answers in about a millisecond with pacing off, so the ratio here is the
//! worst case for the cache: against Bedrock a miss takes hundreds of milliseconds or more.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use inference_core::cache::{CacheDirective, ResponseCache};
use inference_core::{BedrockClient, CallContext, Catalog, Config, Gateway};
use serde_json::{Value, json};

use crate::report::Figure;
use crate::stats::summarize;

/// Bounds of the section.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CachePlan {
    /// Miss/hit pairs per path.
    pub pairs: usize,
    /// Time budget per path (at least one pair).
    pub budget_ms: u64,
}

fn gateway(bedrock_url: &str) -> Result<Gateway, String> {
    let vars: HashMap<&str, &str> = HashMap::from([
        ("AWS_REGION", "us-east-1"),
        ("GATEWAY_CACHE", "on"),
        ("GATEWAY_METRICS", "false"),
    ]);
    let config =
        Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).map_err(|e| e.to_string())?;
    let catalog = Catalog::load(&config).map_err(|e| e.to_string())?;
    let sdk = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(bedrock_url)
        .http_client(inference_core::sdk_http::https_client())
        .credentials_provider(Credentials::new("AKIDBENCH", "bench", None, None, "bench"))
        .build();
    let settings = config.cache.clone();
    Ok(Gateway::new(
        config,
        catalog,
        BedrockClient::from_sdk(aws_sdk_bedrockruntime::Client::from_conf(sdk)),
    )
    .with_cache(ResponseCache::new(settings)))
}

fn body(i: usize) -> Value {
    json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": format!("Hello, cache {i}")}]}]})
}

fn ctx() -> CallContext {
    CallContext::new("bench").with_cache(CacheDirective::Use)
}

async fn converse(gw: &Gateway, i: usize, want: &str) -> Result<f64, String> {
    let t = Instant::now();
    let v = gw
        .converse(body(i), &ctx())
        .await
        .map_err(|e| e.to_string())?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    check(&v, want)?;
    Ok(ms)
}

/// Opens the stream and reads every event and the summary: the whole answer's latency.
async fn stream(gw: &Gateway, i: usize, want: &str) -> Result<f64, String> {
    let t = Instant::now();
    let mut call = gw
        .converse_stream(body(i), &ctx())
        .await
        .map_err(|e| e.to_string())?;
    let mut events = 0usize;
    while call.recv().await.map_err(|e| e.to_string())?.is_some() {
        events += 1;
    }
    let done = call.summary();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if events == 0 {
        return Err("a stream without events".into());
    }
    check(&done, want)?;
    Ok(ms)
}

fn check(v: &Value, want: &str) -> Result<(), String> {
    match v.pointer("/cache/status").and_then(Value::as_str) {
        Some(s) if s == want => Ok(()),
        other => Err(format!("expected a cache {want}, got {other:?}")),
    }
}

/// Both paths' figures: hit latency with the miss latency as its baseline (ratio = hit / miss).
pub async fn measure(bedrock_url: &str, plan: &CachePlan) -> Result<Vec<Figure>, String> {
    let gw = gateway(bedrock_url)?;
    let mut figures = Vec::new();
    for streamed in [false, true] {
        let end = Instant::now() + Duration::from_millis(plan.budget_ms);
        let (mut miss, mut hit) = (Vec::new(), Vec::new());
        // One discarded pair warms the connection pool and the code paths.
        let offset = if streamed { 1_000_000 } else { 0 };
        let mut i = offset;
        while hit.is_empty() || (hit.len() < plan.pairs && Instant::now() < end) {
            let (m, h) = if streamed {
                (stream(&gw, i, "miss").await?, stream(&gw, i, "hit").await?)
            } else {
                (
                    converse(&gw, i, "miss").await?,
                    converse(&gw, i, "hit").await?,
                )
            };
            if i > offset {
                miss.push(m);
                hit.push(h);
            }
            i += 1;
        }
        let (Some(h), Some(m)) = (summarize(&hit), summarize(&miss)) else {
            return Err("no pairs measured".into());
        };
        let (id, title, base) = if streamed {
            (
                "cache.stream.hit_latency",
                "Response cache hit, ConverseStream (replay of the stored events, read to the end)",
                "cache miss: ConverseStream to bedrock-local, same run",
            )
        } else {
            (
                "cache.converse.hit_latency",
                "Response cache hit, Converse (in process, memory tier)",
                "cache miss: Converse to bedrock-local, same run",
            )
        };
        let n = hit.len();
        figures.push(
            Figure::new(id, title, "ms", h)
                .with_baseline(base, m)
                .note(format!(
                    "{n} alternating miss/hit pairs; a miss calls bedrock-local (pacing off, ~1 ms) and stores the answer; against Bedrock a miss takes far longer, so the ratio only improves"
                )),
        );
    }
    Ok(figures)
}
