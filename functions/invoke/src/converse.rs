//! `POST /v1/converse`: Bedrock's Converse API with the deployment's policy applied.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::{HeaderMap, HeaderValue};
use inference_core::GatewayError;
use inference_core::web::{Ctx, JsonBody};
use serde_json::Value;

use crate::state::AppState;

/// The body is Bedrock's Converse request in boto3's JSON plus `model`; the answer is Bedrock's
/// Converse output plus `model`, `resolved`, `max_tokens`, `cost`, `request_id` and `fallback`.
/// Everything between (resolution, allowlist, caps, guardrail, retries, cost, metrics) is
/// `inference-core`'s.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Ctx(ctx): Ctx,
    JsonBody(json): JsonBody,
) -> Result<(HeaderMap, Json<Value>), GatewayError> {
    let reply = state.gateway.converse_reply(json, &ctx).await?;
    // What the response cache did (`x-gateway-cache`), when it was asked.
    let mut headers = HeaderMap::new();
    if let Some(c) = &reply.meta.cache {
        headers.insert(
            inference_core::cache::HEADER,
            HeaderValue::from_static(c.status),
        );
    }
    Ok((headers, Json(reply.into_json())))
}
