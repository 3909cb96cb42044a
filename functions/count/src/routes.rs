//! The routes of the `count` function: an axum `Router` handed to `lambda_http`.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use inference_core::web::{self, ApiError};
use inference_core::{CallContext, Gateway, GatewayError};
use serde_json::Value;

use crate::api;

/// Both routes; anything else is a JSON 404, a wrong method a JSON 405. Every response carries
/// `x-request-id` and runs in the request's log span (`web::request_scope`).
pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .route("/v1/count", post(count).fallback(web::method_not_allowed))
        .route(
            "/v1/estimate",
            post(estimate).fallback(web::method_not_allowed),
        )
        .fallback(web::not_found)
        // API keys and requests per minute (`GATEWAY_AUTH`; docs/auth.md).
        .layer(middleware::from_fn_with_state(
            gateway.auth().clone(),
            inference_core::auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state("count", web::request_scope))
        .with_state(gateway)
}

/// `POST /v1/count`.
async fn count(State(gateway): State<Gateway>, req: Request) -> Response {
    let (ctx, body) = match read(&gateway, req).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    answer(api::count_tokens(&gateway, body, &ctx).await, &ctx)
}

/// `POST /v1/estimate`.
async fn estimate(State(gateway): State<Gateway>, req: Request) -> Response {
    let (ctx, body) = match read(&gateway, req).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    answer(api::estimate(&gateway, body, &ctx).await, &ctx)
}

/// The call context and the JSON body (413 over `GATEWAY_MAX_BODY_BYTES`, 415 not JSON, 400
/// malformed with the position serde reports).
async fn read(gateway: &Gateway, req: Request) -> Result<(CallContext, Value), ApiError> {
    let ctx = web::call_context(&req, "count");
    let limit = gateway.config().max_body_bytes;
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read one byte past the limit so an oversize body is told apart from a read failure.
    let bytes = axum::body::to_bytes(req.into_body(), limit.saturating_add(1))
        .await
        .map_err(|_| {
            ApiError::new(
                GatewayError::payload_too_large(limit.saturating_add(1), limit),
                &ctx.request_id,
            )
        })?;
    let body = web::parse_json_body(content_type.as_deref(), &bytes, limit)
        .map_err(|e| ApiError::new(e, &ctx.request_id))?;
    Ok((ctx, body))
}

fn answer(result: Result<Value, GatewayError>, ctx: &CallContext) -> Response {
    match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => ApiError::new(e, &ctx.request_id).into_response(),
    }
}
