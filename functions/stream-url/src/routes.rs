//! Routes: `POST /converse` (ConverseStream) and `POST /invoke/{modelId}`
//! (InvokeModelWithResponseStream). Errors before the stream opens are JSON with their status.

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use inference_core::web::{self, ApiError};
use inference_core::{CallContext, Gateway, GatewayError};
use lambda_http::RequestExt;
use serde_json::Value;
use tokio::time::Instant;

use crate::FUNCTION;
use crate::pump::{self, PumpContext};

/// The function's router. The gateway is built once per cold start. Unknown paths are 404 and
/// other methods 405, as JSON; every response carries `x-request-id` (`web::request_scope`).
pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .route(
            "/converse",
            post(converse).fallback(web::method_not_allowed),
        )
        .route(
            "/invoke/{model}",
            post(invoke).fallback(web::method_not_allowed),
        )
        // OpenAI- and Anthropic-compatible routes (`compat`, docs/compat.md).
        .merge(crate::compat::routes())
        .fallback(web::not_found)
        // API keys, per-key budgets and rate limits (`GATEWAY_AUTH`; docs/auth.md).
        .layer(middleware::from_fn_with_state(
            gateway.auth().clone(),
            inference_core::auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(FUNCTION, web::request_scope))
        .layer(middleware::from_fn(runtime_nodelay))
        // Outermost: errors on the compat paths in the provider's shape (after every layer).
        .layer(middleware::from_fn(crate::compat::provider_errors))
        .with_state(gateway)
}

/// Before each response: small stream writes must leave at once (see `runtime_socket`).
async fn runtime_nodelay(req: Request, next: middleware::Next) -> Response {
    static ADDRS: std::sync::OnceLock<Vec<std::net::SocketAddr>> = std::sync::OnceLock::new();
    crate::runtime_socket::set_nodelay_to(
        ADDRS.get_or_init(crate::runtime_socket::runtime_api_addrs),
    );
    next.run(req).await
}

/// `POST /converse`: Converse JSON (plus `model`) in, one SSE event per ConverseStream event out.
async fn converse(State(gw): State<Gateway>, req: Request) -> Response {
    let started = Instant::now();
    let ctx = call_context(&req);
    let result = async {
        let (_, body) = read_body(&gw, req).await?;
        let call = gw.converse_stream(body, &ctx).await?;
        let cache = call
            .cache_status()
            .map(|s| http::HeaderValue::from_static(s.as_str()));
        let mut resp = pump::open(call, pump_context(&gw, &ctx, started)).await?;
        if let Some(h) = cache {
            resp.headers_mut().insert(inference_core::cache::HEADER, h);
        }
        Ok(resp)
    }
    .await;
    respond(result, &ctx)
}

/// `POST /invoke/{modelId}`: a native body in, one `chunk` event per model chunk out.
async fn invoke(State(gw): State<Gateway>, Path(model): Path<String>, req: Request) -> Response {
    let started = Instant::now();
    let ctx = call_context(&req);
    let result = async {
        let (body, _) = read_body(&gw, req).await?;
        let call = gw.invoke_stream(&model, body, &ctx).await?;
        pump::open(call, pump_context(&gw, &ctx, started)).await
    }
    .await;
    respond(result, &ctx)
}

/// The body as bytes and JSON, checked for size, media type and JSON-ness (413/415/400).
pub(crate) async fn read_body(gw: &Gateway, req: Request) -> Result<(Bytes, Value), GatewayError> {
    let limit = gw.config().max_body_bytes;
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, limit.saturating_add(1))
        .await
        .map_err(|_| GatewayError::payload_too_large(limit.saturating_add(1), limit))?;
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let json = web::parse_json_body(content_type, &bytes, limit)?;
    Ok((bytes, json))
}

/// 2020-01-01T00:00:00Z in epoch milliseconds: any real Lambda deadline is later.
const PLAUSIBLE_DEADLINE_MS: u64 = 1_577_836_800_000;

/// The call context. A deadline that is not an epoch time is ignored: `cargo lambda watch`
/// sends its timeout (`600000`) as `Lambda-Runtime-Deadline-Ms`, which would read as long past.
pub(crate) fn call_context(req: &Request) -> CallContext {
    let mut ctx = web::call_context(req, FUNCTION);
    let raw = req.lambda_context_ref().map_or(0, |c| c.deadline);
    if raw < PLAUSIBLE_DEADLINE_MS {
        ctx.deadline = None;
    }
    ctx
}

pub(crate) fn pump_context(gw: &Gateway, ctx: &CallContext, started: Instant) -> PumpContext {
    PumpContext {
        request_id: ctx.request_id.clone(),
        stop_at: ctx
            .deadline
            .and_then(|d| d.checked_sub(gw.config().deadline_margin))
            .map(Instant::from_std),
        started,
    }
}

fn respond(result: Result<Response, GatewayError>, ctx: &CallContext) -> Response {
    result.unwrap_or_else(|e| ApiError::new(e, ctx.request_id.clone()).into_response())
}
