//! `GET /v1/usage`: the calling key's usage by UTC day and model (an admin key: every key's).

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use inference_core::GatewayError;
use inference_core::auth::Caller;
use inference_core::auth::report::{UsageQuery, usage_report};
use inference_core::web::{self, ApiError};

use crate::routes::AppState;

/// The handler; the caller is the one `auth::authenticate` put into the request.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Response {
    let request_id = web::request_id(&req);
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            let e = GatewayError::invalid_request(format!("query: {}", e.body_text()));
            return ApiError::new(e, request_id).into_response();
        }
    };
    let caller = req.extensions().get::<Arc<Caller>>().cloned();
    let meter = state.gateway.auth().meter();
    match usage_report(caller.as_deref(), meter, &query, &request_id).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => ApiError::new(e, request_id).into_response(),
    }
}
