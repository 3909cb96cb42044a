//! InvokeModel and InvokeModelWithResponseStream (native bodies, embeddings).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::Value;

use super::plan::{Guard, guard_from, plan};
use super::stream_task::{Clock, spawn_stream};
use super::{
    St, json_response, label, pace, pause, pause_for, read_body, respond, seed, take_fault,
};
use crate::chat::ChatRequest;
use crate::errors::{BedrockError, malformed, validation};
use crate::models::{Family, Model, UNSUPPORTED_ACTION};
use crate::native::{self, NativeExtras};
use crate::server::AppState;
use crate::service_model::{self, Wire};
use crate::stats::Op;
use crate::stream::{Encoder, Format};
use crate::timing::Timing;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

fn invoke_guard(st: &AppState, h: &HeaderMap) -> Result<Option<Guard>, BedrockError> {
    let Some(id) = header(h, "x-amzn-bedrock-guardrailidentifier") else {
        return Ok(None);
    };
    let version = header(h, "x-amzn-bedrock-guardrailversion").ok_or_else(|| {
        BedrockError::Validation(
            "Guardrail version is required when a guardrail identifier is provided.".into(),
        )
    })?;
    let trace = matches!(
        header(h, "x-amzn-bedrock-trace"),
        Some("ENABLED" | "ENABLED_FULL")
    );
    guard_from(st, id, version, trace).map(Some)
}

pub async fn invoke(
    State(st): St,
    params: RawPathParams,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(invoke_call(st, params, headers, body, false).await)
}

pub async fn invoke_stream(
    State(st): St,
    params: RawPathParams,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(invoke_call(st, params, headers, body, true).await)
}

async fn invoke_call(
    st: Arc<AppState>,
    params: RawPathParams,
    headers: HeaderMap,
    body: Body,
    streaming: bool,
) -> Result<Response, BedrockError> {
    let started = Instant::now();
    pause(st.config.latency_ms).await;
    let id = label(&params, "model_id")?;
    let op = if streaming {
        Op::InvokeModelWithResponseStream
    } else {
        Op::InvokeModel
    };
    let wire = Wire {
        labels: &[("modelId", &id)],
        headers: Some(&headers),
        ..Wire::default()
    };
    service_model::check(op.name(), &wire, None)?;
    let model = st.profiles.resolve_for_invoke(&id)?.model;
    let bytes = read_body(body).await?;
    let stream_fault = take_fault(&st, op, &[id.as_str(), model.id], &bytes, model.id)?;
    let timing = Timing::for_request(&st.config, &bytes);
    let json: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return malformed("#: expected type: JSONObject, found: String"),
    };
    let seed = seed(model, &bytes);
    match model.family {
        Family::NovaReel => return validation(UNSUPPORTED_ACTION),
        Family::TitanEmbed | Family::CohereEmbed => {
            if streaming {
                return validation("The model is unsupported for streaming.");
            }
            let (out, input_tokens) = native::embed(model, &json, seed)?;
            let mut r = json_response(&out);
            token_headers(&mut r, input_tokens, 0, started);
            return Ok(r);
        }
        _ => {}
    }
    let guard = invoke_guard(&st, &headers)?;
    if !streaming {
        let (out, input, output) = native_answer_with(&st, model, &json, seed, guard.as_ref())?;
        pause(timing.ttft_ms).await;
        pause_for(pace(output, timing.tokens_per_sec)).await;
        let mut r = json_response(&out);
        token_headers(&mut r, input, output, started);
        return Ok(r);
    }
    let chat = native::parse(model, &json)?;
    check_stream_tools(model, &chat)?;
    let mut planned = plan(&st, model, &chat, guard.as_ref(), seed);
    let steps = planned.stream_steps(guard.as_ref());
    let enc = Encoder::new(
        Format::Native(model.family),
        model,
        message_id(seed),
        planned.usage.all_input(),
    );
    Ok(spawn_stream(
        st,
        enc,
        steps,
        planned,
        stream_fault,
        Clock { started, timing },
        Some("application/json"),
    ))
}

fn message_id(seed: u64) -> String {
    format!("{:024x}", seed as u128 * 0x1_0000_0001)
}

/// InvokeModel's answer to a native body, without pacing or guardrail: what a batch record
/// gets. Returns the native response and its input and output token counts.
pub(super) fn native_answer(
    st: &AppState,
    model: &'static Model,
    json: &Value,
) -> Result<(Value, u32, u32), BedrockError> {
    let bytes = serde_json::to_vec(json).unwrap_or_default();
    let seed = seed(model, &bytes);
    match model.family {
        Family::NovaReel => validation(UNSUPPORTED_ACTION),
        Family::TitanEmbed | Family::CohereEmbed => {
            let (out, input_tokens) = native::embed(model, json, seed)?;
            Ok((out, input_tokens, 0))
        }
        _ => native_answer_with(st, model, json, seed, None),
    }
}

fn native_answer_with(
    st: &AppState,
    model: &'static Model,
    json: &Value,
    seed: u64,
    guard: Option<&Guard>,
) -> Result<(Value, u32, u32), BedrockError> {
    let chat = native::parse(model, json)?;
    let mut planned = plan(st, model, &chat, guard, seed);
    planned.settle();
    let extras = NativeExtras {
        guardrail_intervened: planned.intervened,
        trace: planned.trace.clone(),
        metrics: None,
    };
    let out = native::response(
        model,
        &chat,
        &planned.generation,
        &planned.usage,
        &message_id(seed),
        &extras,
    );
    Ok((out, planned.usage.all_input(), planned.usage.output))
}

fn check_stream_tools(model: &Model, chat: &ChatRequest) -> Result<(), BedrockError> {
    if !chat.tools.is_empty() && !model.caps.stream_tools {
        return validation("This model doesn't support tool use in streaming mode.");
    }
    if !model.caps.streaming {
        return validation("The model is unsupported for streaming.");
    }
    Ok(())
}

fn token_headers(r: &mut Response, input: u32, output: u32, started: Instant) {
    let h = r.headers_mut();
    h.insert("X-Amzn-Bedrock-Input-Token-Count", HeaderValue::from(input));
    h.insert(
        "X-Amzn-Bedrock-Output-Token-Count",
        HeaderValue::from(output),
    );
    h.insert(
        "X-Amzn-Bedrock-Invocation-Latency",
        HeaderValue::from(started.elapsed().as_millis() as u64),
    );
}
