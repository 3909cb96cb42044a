//! Converse and ConverseStream.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawPathParams, State};
use axum::response::Response;
use serde_json::json;

use super::plan::{guard_from, plan};
use super::stream_task::{Clock, spawn_stream};
use super::{
    St, json_response, label, pace, pause, pause_for, read_body, respond, seed, take_fault,
};
use crate::converse;
use crate::errors::{BedrockError, validation};
use crate::models::{Family, UNSUPPORTED_ACTION};
use crate::native;
use crate::server::AppState;
use crate::service_model;
use crate::stats::Op;
use crate::stream::{self, Encoder, Format};
use crate::timing::Timing;

pub async fn converse(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(converse_call(st, params, body, false).await)
}

pub async fn converse_stream(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(converse_call(st, params, body, true).await)
}

async fn converse_call(
    st: Arc<AppState>,
    params: RawPathParams,
    body: Body,
    streaming: bool,
) -> Result<Response, BedrockError> {
    let started = Instant::now();
    pause(st.config.latency_ms).await;
    let id = label(&params, "model_id")?;
    let bytes = read_body(body).await?;
    let op = if streaming {
        Op::ConverseStream
    } else {
        Op::Converse
    };
    let json = service_model::json_body(op.name(), &bytes, &[("modelId", &id)])?;
    let model = st.profiles.resolve_for_invoke(&id)?.model;
    let stream_fault = take_fault(&st, op, &[id.as_str(), model.id], &bytes, model.id)?;
    let timing = Timing::for_request(&st.config, &bytes);
    if !model.caps.converse {
        return validation(UNSUPPORTED_ACTION);
    }
    let input = converse::parse(model, &json, streaming)?;
    let guard = match &input.guardrail {
        Some(cfg) => Some(guard_from(&st, &cfg.id, &cfg.version, cfg.trace)?),
        None => None,
    };
    let mut planned = plan(&st, model, &input.chat, guard.as_ref(), seed(model, &bytes));
    if streaming {
        let steps = planned.stream_steps(guard.as_ref());
        let enc = Encoder::new(
            Format::Converse,
            model,
            String::new(),
            planned.usage.all_input(),
        );
        return Ok(spawn_stream(
            st,
            enc,
            steps,
            planned,
            stream_fault,
            Clock { started, timing },
            None,
        ));
    }
    planned.settle();
    pause(timing.ttft_ms).await;
    pause_for(pace(planned.usage.output, timing.tokens_per_sec)).await;
    let mut out = json!({
        "output": {"message": {"role": "assistant", "content": native::converse_content(&planned.generation)}},
        "stopReason": planned.generation.stop_reason.as_str(),
        "usage": stream::converse_usage(&planned.usage),
        "metrics": {"latencyMs": started.elapsed().as_millis() as u64},
    });
    if let (Some(seq), Family::Anthropic) = (&planned.generation.stop_sequence, model.family) {
        out["additionalModelResponseFields"] = json!({"stop_sequence": seq});
    }
    if let Some(t) = planned.trace {
        out["trace"] = json!({"guardrail": t});
    }
    Ok(json_response(&out))
}
