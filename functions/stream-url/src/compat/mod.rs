//! OpenAI- and Anthropic-compatible routes, so existing clients work unchanged (docs/compat.md).
//!
//! They live in `stream-url` so one base URL serves streamed and plain calls alike. Each route
//! translates the provider's request into the gateway's own (Converse JSON, or the native Claude
//! body for Anthropic Messages), calls the same [`Gateway`] methods as the gateway's routes (so
//! policy, guardrails, cost and metrics apply), and translates the answer back. A parameter that
//! cannot be honoured is refused (400 in the provider's error shape), never dropped, except what
//! a real client sends on its own and cannot leave out (Claude Code's beta flags and fields,
//! Codex's Responses fields): that is dropped and named in `x-gateway-dropped` ([`dropped`]).

pub mod anthropic;
pub mod anthropic_fit;
pub mod dropped;
pub mod embeddings;
pub mod error;
pub mod models;
pub mod openai;
pub mod responses;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, header};
use inference_core::web::{Ctx, JsonBody};
use inference_core::{CallContext, Gateway};
use serde_json::Value;

pub use error::{CResult, CompatError, Provider};

/// Header with the call's total cost in USD (decimal text), on every non-streamed answer.
pub const COST_HEADER: &str = "x-gateway-cost-usd";

/// The compat routes (merged into the function's router by `app::router`, which adds the 405
/// fallback for them too).
pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/v1/chat/completions", post(openai::handle))
        .route("/v1/responses", post(responses::handle))
        .route("/v1/responses/input_tokens", post(responses::input_tokens))
        .route("/v1/embeddings", post(embeddings::handle))
        .route("/v1/messages", post(anthropic::handle))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/models", get(models::handle))
        .route("/v1/models/{model}", get(models::handle_one))
}

/// Middleware (outermost layer of the function's router): errors answered on a compat path in
/// the gateway's shape (by the API-key layer, the 404/405 fallbacks: any response carrying its
/// `GatewayError`) are rendered again in the provider's shape, so the clients raise their own
/// typed errors.
pub async fn provider_errors(req: Request, next: Next) -> Response {
    let Some(provider) = error::provider_of(req.uri().path()) else {
        return next.run(req).await;
    };
    error::reshape(provider, next.run(req).await)
}

/// The request's context, headers and JSON body, checked like every route's (`web::JsonBody`:
/// size, media type, JSON object). `_gw` stays for the callers: the limit is the router's.
pub(crate) async fn read_json(
    _gw: &Gateway,
    req: Request,
) -> (CallContext, HeaderMap, CResult<Value>) {
    let (mut parts, body) = req.into_parts();
    let Ok(Ctx(ctx)) = Ctx::from_request_parts(&mut parts, &()).await;
    let headers = parts.headers.clone();
    let body = JsonBody::<Value>::from_request(Request::from_parts(parts, body), &())
        .await
        .map(|JsonBody(v)| v)
        .map_err(CompatError::from);
    (ctx, headers, body)
}

/// A `200 application/json` answer with the cost header.
pub(crate) fn json_response(body: &Value, cost_usd: Option<&str>) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(c) = cost_usd.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(COST_HEADER, c);
    }
    resp
}

/// A string field of a JSON object (`None` when absent or null).
pub(crate) fn opt<'a>(o: &'a serde_json::Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

/// The requested model, resolved, when it resolves: its catalog entry is what the OpenAI
/// translations check a request's features against, and the call reuses the resolution
/// (`CallBody`). A name that does not resolve is `None` here and is refused with its own error
/// when the call resolves it.
pub(crate) fn requested_model(
    gw: &Gateway,
    body: &Value,
    capability: inference_core::catalog::Capability,
) -> Option<inference_core::Known> {
    gw.requested_model(body)
        .ok()
        .and_then(|name| gw.resolve_known(&name, capability).ok())
}
