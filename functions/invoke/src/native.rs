//! `POST /v1/invoke/{modelId}`: InvokeModel with the model's own (native) JSON body.
//!
//! The answer is the model's body, with its content type (untouched, except text the local
//! content filter masked or withheld); what the gateway adds (model called, usage, cost,
//! `maxTokens`, fallback, guardrail interventions) travels in `x-gateway-*` headers so the body
//! stays exactly what the model family's SDK code expects.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use inference_core::policy::MaxTokensSource;
use inference_core::web::{Ctx, RawJson};
use inference_core::{GatewayError, NativeReply};

use crate::state::AppState;

/// Checks the body like every JSON route (object, size, media type), then passes the bytes on.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Path(model_id): Path<String>,
    Ctx(ctx): Ctx,
    RawJson { raw, .. }: RawJson,
) -> Result<Response, GatewayError> {
    let reply = state.gateway.invoke_native(&model_id, raw, &ctx).await?;
    Ok(reply_response(reply))
}

fn reply_response(reply: NativeReply) -> Response {
    let mut headers = HeaderMap::new();
    let content_type = HeaderValue::from_str(&reply.content_type)
        .unwrap_or(HeaderValue::from_static("application/json"));
    headers.insert(http::header::CONTENT_TYPE, content_type);
    for (name, value) in gateway_headers(&reply) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    (StatusCode::OK, headers, reply.body).into_response()
}

/// The `x-gateway-*` headers of a native answer (documented in `docs/openapi.yaml`).
pub fn gateway_headers(reply: &NativeReply) -> Vec<(&'static str, String)> {
    let u = &reply.usage;
    let mut h = vec![
        ("x-gateway-model", reply.model.invoked.clone()),
        ("x-gateway-model-id", reply.model.id.clone()),
        ("x-gateway-input-tokens", u.input_tokens.to_string()),
        ("x-gateway-output-tokens", u.output_tokens.to_string()),
        (
            "x-gateway-cache-read-tokens",
            u.cache_read_tokens.to_string(),
        ),
        (
            "x-gateway-cache-write-tokens",
            u.cache_write_tokens().to_string(),
        ),
        ("x-gateway-cost-usd", reply.cost.total_text()),
        ("x-gateway-cost", reply.cost.to_json().to_string()),
    ];
    if let Some(mt) = reply.max_tokens {
        h.push(("x-gateway-max-tokens", mt.value.to_string()));
        let source = match mt.source {
            MaxTokensSource::Request => "request",
            MaxTokensSource::Default => "default",
        };
        h.push(("x-gateway-max-tokens-source", source.to_owned()));
    }
    if !reply.fallback.is_empty() {
        let steps = serde_json::to_string(&reply.fallback).unwrap_or_default();
        h.push(("x-gateway-fallback", steps));
    }
    // Guardrail interventions: the first one's action (`intervened`, `masked`, `blocked`), and
    // the report without Bedrock's assessments (those stay in the body's
    // `amazon-bedrock-trace`). Names and kinds only, never text.
    if let Some(first) = reply.guardrail.items().first() {
        h.push(("x-gateway-guardrail", first.action.to_owned()));
        if let Some(summary) = reply.guardrail.summary_json() {
            h.push(("x-gateway-guardrail-report", summary.to_string()));
        }
    }
    h
}
