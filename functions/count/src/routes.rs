//! The routes of the `count` function: an axum `Router` handed to `lambda_http`.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use inference_core::web::{self, Ctx, JsonBody, Scope};
use inference_core::{Gateway, GatewayError};
use serde_json::Value;

use crate::api;

/// Both routes; anything else is a JSON 404, a wrong method a JSON 405. Every response carries
/// `x-request-id` and runs in the request's log span (`web::request_scope`). Bodies over
/// `GATEWAY_MAX_BODY_BYTES` are 413, not JSON 415, malformed 400 with the position serde reports.
pub fn router(gateway: Gateway) -> Router {
    let scope = Scope::new("count", gateway.config().max_body_bytes);
    let routes = Router::new()
        .route("/v1/count", post(count))
        .route("/v1/estimate", post(estimate));
    web::edge(routes, scope, Some(gateway.auth().clone())).with_state(gateway)
}

/// `POST /v1/count`.
async fn count(
    State(gateway): State<Gateway>,
    Ctx(ctx): Ctx,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, GatewayError> {
    Ok(Json(api::count_tokens(&gateway, body, &ctx).await?))
}

/// `POST /v1/estimate`.
async fn estimate(
    State(gateway): State<Gateway>,
    Ctx(ctx): Ctx,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, GatewayError> {
    Ok(Json(api::estimate(&gateway, body, &ctx).await?))
}
