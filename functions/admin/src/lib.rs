//! `admin`: the operator-only routes under `/v1/admin/` (docs/auth.md): issue, list, read,
//! change and revoke API keys, and read every key's usage.
//!
//! A fifth function with its own role, the only one that may write the keys table. On AWS its
//! routes always require IAM (SigV4) authorisation, whatever the HTTP API's `AuthMode`; the
//! function itself takes no API key (an API key must never be able to mint keys). The work is
//! `gateway_stores::admin::KeyAdmin`, shared with the `gateway-admin` CLI.
//!
//! It also serves the console (`/console/`, docs/console.md): static pages that call these
//! routes from the operator's browser.

pub mod access;
pub mod console;

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gateway_stores::admin::{KeyAdmin, KeyChange, NewKey};
use http::StatusCode;
use inference_core::GatewayError;
use inference_core::auth::KeyId;
use inference_core::auth::report::UsageQuery;
use inference_core::web::{self, Ctx, JsonBody, Scope};
use serde_json::{Value, json};

use access::AdminToken;
use console::ConsoleConfig;

/// Largest admin request body: a key's owner, models and limits fit many times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

type Admin = State<Arc<KeyAdmin>>;

/// A typed body: size (413), media type (415), JSON object (400), then its fields (400 naming
/// the field). Taken as a `Result` where the route checks its path first.
type Body<T> = Result<JsonBody<T>, GatewayError>;

/// Every route; unknown paths 404, other methods 405, both as JSON errors; `x-request-id` on
/// every response.
pub fn router(admin: Arc<KeyAdmin>) -> Router {
    router_with(admin, ConsoleConfig::default(), AdminToken::default())
}

/// [`router`] with the console's configuration and the local admin token (`GATEWAY_ADMIN_TOKEN`,
/// [`access`]): without the token every route but the console's static files is 401.
pub fn router_with(admin: Arc<KeyAdmin>, console: ConsoleConfig, token: AdminToken) -> Router {
    let routes = Router::new()
        .route("/v1/admin/keys", get(list).post(issue))
        .route(
            "/v1/admin/keys/{key_id}",
            get(read).patch(change).delete(revoke),
        )
        .route("/v1/admin/usage", get(usage))
        .merge(console::routes(console))
        .layer(axum::middleware::from_fn_with_state(
            token,
            access::require_token,
        ));
    web::edge(routes, Scope::new("admin", MAX_BODY_BYTES), None).with_state(admin)
}

/// A JSON answer with the request ID.
fn answer(status: StatusCode, mut v: Value, ctx: &Ctx) -> Response {
    if let Some(o) = v.as_object_mut() {
        o.insert("request_id".into(), json!(ctx.0.request_id));
    }
    (status, Json(v)).into_response()
}

fn record_view(record: &inference_core::auth::KeyRecord) -> Value {
    json!({"object": "api_key", "record": record})
}

/// `POST /v1/admin/keys`: 201 with the key, shown once.
async fn issue(
    State(admin): Admin,
    ctx: Ctx,
    JsonBody(new): JsonBody<NewKey>,
) -> Result<Response, GatewayError> {
    let issued = admin.issue(&new).await?;
    let mut v = serde_json::to_value(&issued)
        .map_err(|e| GatewayError::internal(format!("issued key: {e}")))?;
    v["object"] = json!("api_key");
    Ok(answer(StatusCode::CREATED, v, &ctx))
}

/// `GET /v1/admin/keys`: every key's record; never a key or a hash.
async fn list(State(admin): Admin, ctx: Ctx) -> Result<Response, GatewayError> {
    let keys = admin.list().await?;
    Ok(answer(
        StatusCode::OK,
        json!({"object": "list", "data": keys}),
        &ctx,
    ))
}

/// `GET /v1/admin/keys/{key_id}`.
async fn read(
    State(admin): Admin,
    Path(raw): Path<String>,
    ctx: Ctx,
) -> Result<Response, GatewayError> {
    let record = admin.get(&KeyId::parse(&raw)?).await?;
    Ok(answer(StatusCode::OK, record_view(&record), &ctx))
}

/// `PATCH /v1/admin/keys/{key_id}`: limits (`null` removes one) and models.
async fn change(
    State(admin): Admin,
    Path(raw): Path<String>,
    ctx: Ctx,
    body: Body<KeyChange>,
) -> Result<Response, GatewayError> {
    let id = KeyId::parse(&raw)?;
    let JsonBody(change) = body?;
    let record = admin.update(&id, &change.into()).await?;
    Ok(answer(StatusCode::OK, record_view(&record), &ctx))
}

/// `DELETE /v1/admin/keys/{key_id}`: revoke; again is the same answer.
async fn revoke(
    State(admin): Admin,
    Path(raw): Path<String>,
    ctx: Ctx,
) -> Result<Response, GatewayError> {
    let record = admin.revoke(&KeyId::parse(&raw)?).await?;
    Ok(answer(StatusCode::OK, record_view(&record), &ctx))
}

/// `GET /v1/admin/usage`: the report an admin key gets from `GET /v1/usage`.
async fn usage(
    State(admin): Admin,
    ctx: Ctx,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Response, GatewayError> {
    let Query(q) =
        query.map_err(|e| GatewayError::invalid_request(format!("query: {}", e.body_text())))?;
    Ok(answer(StatusCode::OK, admin.usage(&q, None).await?, &ctx))
}
