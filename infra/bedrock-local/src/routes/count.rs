//! CountTokens.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawPathParams, State};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::{St, json_response, label, pause, read_body, respond, take_fault};
use crate::converse;
use crate::errors::{BedrockError, malformed, validation};
use crate::models;
use crate::native;
use crate::server::AppState;
use crate::service_model;
use crate::stats::Op;
use crate::tokens;

pub async fn count_tokens(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(count_call(st, params, body).await)
}

async fn count_call(
    st: Arc<AppState>,
    params: RawPathParams,
    body: Body,
) -> Result<Response, BedrockError> {
    pause(st.config.latency_ms).await;
    let id = label(&params, "model_id")?;
    let bytes = read_body(body).await?;
    let json = service_model::json_body(Op::CountTokens.name(), &bytes, &[("modelId", &id)])?;
    let resolved = models::parse(&id)?;
    if resolved.profile.is_some() || id.contains(":inference-profile/") {
        return validation(format!(
            "The provided model identifier {id} is an inference profile. CountTokens accepts a foundation model ID only; retry with the foundation model ID."
        ));
    }
    let model = resolved.model;
    take_fault(
        &st,
        Op::CountTokens,
        &[id.as_str(), model.id],
        &bytes,
        model.id,
    )?;
    if !model.caps.count_tokens {
        return validation("The provided model doesn't support counting tokens.");
    }
    let input = json.get("input").ok_or_else(|| {
        BedrockError::Validation("1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null".into())
    })?;
    let chat = if let Some(c) = input.get("converse") {
        converse::parse(model, c, false)?.chat
    } else if let Some(im) = input.get("invokeModel") {
        let b64 = im.get("body").and_then(Value::as_str).unwrap_or("");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| {
                BedrockError::Validation("The invokeModel body is not valid base64.".into())
            })?;
        let native: Value = serde_json::from_slice(&raw)
            .or_else(|_| malformed("#: expected type: JSONObject, found: String"))?;
        native::parse(model, &native)?
    } else {
        return validation("The input must set exactly one of converse or invokeModel.");
    };
    let count = tokens::count_request(model.id, &chat);
    Ok(json_response(&json!({"inputTokens": count.total})))
}
