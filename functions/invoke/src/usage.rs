//! `GET /v1/usage`: the calling key's usage by UTC day and model (an admin key: every key's).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use inference_core::GatewayError;
use inference_core::auth::report::{UsageQuery, usage_report};
use inference_core::web::Ctx;
use serde_json::Value;

use crate::state::AppState;

/// The handler; the caller is the one `auth::authenticate` put into the request.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Ctx(ctx): Ctx,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<Value>, GatewayError> {
    let Query(query) =
        query.map_err(|e| GatewayError::invalid_request(format!("query: {}", e.body_text())))?;
    let meter = state.gateway.auth().meter();
    let report = usage_report(ctx.caller.as_deref(), meter, &query, &ctx.request_id).await?;
    Ok(Json(report))
}
