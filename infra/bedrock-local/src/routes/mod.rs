//! Handlers of the Bedrock Runtime operations and of the control plane (`control_plane`,
//! `batch_jobs`): one
//! module per operation group, with what every
//! text operation shares in `plan` (guardrail, generation, usage) and `stream_task` (the paced
//! event-stream producer). This module keeps the request plumbing (path labels, bodies, pauses,
//! scripted faults).

mod async_jobs;
mod batch_jobs;
mod control_plane;
mod converse;
mod count;
mod guardrail;
mod invoke;
mod plan;
mod stream_task;

pub use async_jobs::{get_async, list_async, start_async};
pub use batch_jobs::{
    create_model_invocation_job, get_model_invocation_job, list_model_invocation_jobs,
    stop_model_invocation_job,
};
pub use control_plane::{
    create_inference_profile, delete_inference_profile, get_foundation_model,
    get_inference_profile, list_foundation_models, list_inference_profiles, list_tags_for_resource,
    tag_resource, untag_resource,
};
pub use converse::{converse, converse_stream};
pub use count::count_tokens;
pub use guardrail::apply_guardrail;
pub use invoke::{invoke, invoke_stream};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use crate::errors::{BedrockError, validation};
use crate::faults::Fault;
use crate::models::Model;
use crate::server::AppState;
use crate::stats::Op;
use crate::tokens::Fnv;
use crate::validation::{MAX_BODY_BYTES, body_too_large};

type St = State<Arc<AppState>>;

/// Decodes a percent-encoded path label or query value.
pub fn percent_decode(s: &str) -> Result<String, BedrockError> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => {
                    return validation("The request path contains an invalid percent-encoding.");
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| BedrockError::Validation("The request path is not valid UTF-8.".into()))
}

/// The query string as decoded name → value pairs (`+` is a space, as form encoding has it).
fn query_map(q: Option<&str>) -> Result<HashMap<String, String>, BedrockError> {
    let mut map = HashMap::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(percent_decode(k)?, percent_decode(&v.replace('+', " "))?);
    }
    Ok(map)
}

fn label(params: &RawPathParams, name: &str) -> Result<String, BedrockError> {
    let raw = params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .unwrap_or("");
    percent_decode(raw)
}

async fn read_body(body: Body) -> Result<Bytes, BedrockError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| body_too_large())
}

fn respond(r: Result<Response, BedrockError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn pause(ms: u64) {
    pause_for(Duration::from_millis(ms)).await;
}

/// Sleeps only when there is something to wait: even a zero `sleep` waits for the next
/// timer tick (about 1 ms), which would cap throughput with timing off.
async fn pause_for(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

fn pace(tokens: u32, tokens_per_sec: f64) -> Duration {
    if tokens_per_sec > 0.0 && tokens > 0 {
        Duration::from_secs_f64(f64::from(tokens) / tokens_per_sec)
    } else {
        Duration::ZERO
    }
}

fn seed(model: &Model, body: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.write(model.id.as_bytes());
    h.write(body);
    h.0
}

fn json_response(value: &Value) -> Response {
    let mut r = (
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Applies a fault taken for this call: non-stream faults end the call now; a stream fault
/// is handed back for the stream to fire later.
fn take_fault(
    st: &AppState,
    op: Op,
    ids: &[&str],
    body: &[u8],
    model_id: &str,
) -> Result<Option<Fault>, BedrockError> {
    let streaming = matches!(op, Op::ConverseStream | Op::InvokeModelWithResponseStream);
    match st.faults.take(op.name(), ids, body, streaming) {
        None => Ok(None),
        Some(f) => {
            st.stats.faults_injected.fetch_add(1, Relaxed);
            if f.is_stream() {
                Ok(Some(f))
            } else {
                Err(f.error(model_id, &st.config.region))
            }
        }
    }
}
