//! `POST /v1/converse`: Bedrock's Converse API with the deployment's policy applied.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use inference_core::web::ApiError;

use crate::request::JsonRequest;
use crate::routes::AppState;

/// The body is Bedrock's Converse request in boto3's JSON plus `model`; the answer is Bedrock's
/// Converse output plus `model`, `resolved`, `max_tokens`, `cost`, `request_id` and `fallback`.
/// Everything between (resolution, allowlist, caps, guardrail, retries, cost, metrics) is
/// `inference-core`'s.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let gw = &state.gateway;
    let JsonRequest { ctx, json, .. } =
        match JsonRequest::read(req, gw.config().max_body_bytes).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
    match gw.converse(json, &ctx).await {
        Ok(v) => {
            let status = v.pointer("/cache/status").and_then(|s| s.as_str());
            let header = status.and_then(|s| http::HeaderValue::from_str(s).ok());
            let mut resp = axum::Json(v).into_response();
            if let Some(h) = header {
                resp.headers_mut().insert(inference_core::cache::HEADER, h);
            }
            resp
        }
        Err(e) => ApiError::new(e, ctx.request_id).into_response(),
    }
}
