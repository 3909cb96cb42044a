//! `admin`: the operator-only routes under `/v1/admin/` (docs/auth.md): issue, list, read,
//! change and revoke API keys, and read every key's usage.
//!
//! A fifth function with its own role, the only one that may write the keys table. On AWS its
//! routes always require IAM (SigV4) authorisation, whatever the HTTP API's `AuthMode`; the
//! function itself takes no API key (an API key must never be able to mint keys). The work is
//! `inference_core::auth::admin::KeyAdmin`, shared with the `gateway-admin` CLI.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use inference_core::GatewayError;
use inference_core::auth::KeyId;
use inference_core::auth::admin::{KeyAdmin, KeyChange, NewKey};
use inference_core::auth::report::UsageQuery;
use inference_core::web::{self, ApiError};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Largest admin request body: a key's owner, models and limits fit many times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

type Admin = State<Arc<KeyAdmin>>;

/// Every route; unknown paths 404, other methods 405, both as JSON errors; `x-request-id` on
/// every response.
pub fn router(admin: Arc<KeyAdmin>) -> Router {
    Router::new()
        .route(
            "/v1/admin/keys",
            get(list).post(issue).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/admin/keys/{key_id}",
            get(read)
                .patch(change)
                .delete(revoke)
                .fallback(web::method_not_allowed),
        )
        .route(
            "/v1/admin/usage",
            get(usage).fallback(web::method_not_allowed),
        )
        .fallback(web::not_found)
        .layer(middleware::from_fn_with_state("admin", web::request_scope))
        .with_state(admin)
}

/// The request ID `web::request_scope` fixed for this request (in its `x-request-id`).
fn id_of(headers: &HeaderMap) -> String {
    headers
        .get(web::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A JSON answer with the request ID, or the error as the gateway's JSON error.
fn answer(status: StatusCode, result: Result<Value, GatewayError>, request_id: String) -> Response {
    match result {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.insert("request_id".into(), json!(request_id));
            }
            (status, axum::Json(v)).into_response()
        }
        Err(e) => ApiError::new(e, request_id).into_response(),
    }
}

/// A typed body: size (413), media type (415), JSON object (400), then its fields (400 naming
/// the field).
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, GatewayError> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    let value = web::parse_json_body(ct, bytes, MAX_BODY_BYTES)?;
    serde_json::from_value(value).map_err(|e| GatewayError::invalid_request(format!("body: {e}")))
}

fn record_view(record: &inference_core::auth::KeyRecord) -> Value {
    json!({"object": "api_key", "record": record})
}

/// `POST /v1/admin/keys`: 201 with the key, shown once.
async fn issue(State(admin): Admin, headers: HeaderMap, bytes: Bytes) -> Response {
    let rid = id_of(&headers);
    let result = async {
        let new: NewKey = body(&headers, &bytes)?;
        let issued = admin.issue(&new).await?;
        let mut v = serde_json::to_value(&issued)
            .map_err(|e| GatewayError::internal(format!("issued key: {e}")))?;
        v["object"] = json!("api_key");
        Ok(v)
    }
    .await;
    answer(StatusCode::CREATED, result, rid)
}

/// `GET /v1/admin/keys`: every key's record; never a key or a hash.
async fn list(State(admin): Admin, headers: HeaderMap) -> Response {
    let result = admin.list().await;
    let result = result.map(|keys| json!({"object": "list", "data": keys}));
    answer(StatusCode::OK, result, id_of(&headers))
}

/// `GET /v1/admin/keys/{key_id}`.
async fn read(State(admin): Admin, Path(raw): Path<String>, headers: HeaderMap) -> Response {
    let result = async { Ok(record_view(&admin.get(&KeyId::parse(&raw)?).await?)) }.await;
    answer(StatusCode::OK, result, id_of(&headers))
}

/// `PATCH /v1/admin/keys/{key_id}`: limits (`null` removes one) and models.
async fn change(
    State(admin): Admin,
    Path(raw): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let rid = id_of(&headers);
    let result = async {
        let id = KeyId::parse(&raw)?;
        let change: KeyChange = body(&headers, &bytes)?;
        Ok(record_view(&admin.update(&id, &change.into()).await?))
    }
    .await;
    answer(StatusCode::OK, result, rid)
}

/// `DELETE /v1/admin/keys/{key_id}`: revoke; again is the same answer.
async fn revoke(State(admin): Admin, Path(raw): Path<String>, headers: HeaderMap) -> Response {
    let result = async { Ok(record_view(&admin.revoke(&KeyId::parse(&raw)?).await?)) }.await;
    answer(StatusCode::OK, result, id_of(&headers))
}

/// `GET /v1/admin/usage`: the report an admin key gets from `GET /v1/usage`.
async fn usage(
    State(admin): Admin,
    query: Result<Query<UsageQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let rid = id_of(&headers);
    let result = async {
        let Query(q) = query
            .map_err(|e| GatewayError::invalid_request(format!("query: {}", e.body_text())))?;
        admin.usage(&q, None).await
    }
    .await;
    answer(StatusCode::OK, result, rid)
}
