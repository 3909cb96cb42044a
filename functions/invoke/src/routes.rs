//! The router of the `invoke` function and the catalog routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, response::IntoResponse};
use inference_core::web::{self, Scope};
use inference_core::{GatewayError, models_view};
use serde_json::Value;

use crate::state::AppState;
use crate::{converse, guardrail, jobs, native, usage};

/// Every route of the function; unknown paths are 404 and known paths with another method 405,
/// both as JSON errors. Every response carries `x-request-id` (`web::request_scope`).
pub fn router(state: Arc<AppState>) -> Router {
    let scope = Scope::new("invoke", state.gateway.config().max_body_bytes);
    let routes = Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{model}", get(describe_model))
        .route("/v1/converse", post(converse::handle))
        .route("/v1/invoke/{modelId}", post(native::handle))
        .route("/v1/guardrail/check", post(guardrail::handle))
        .route("/v1/jobs", post(jobs::create))
        .route("/v1/jobs/webhook-secret", get(jobs::webhook_secret))
        .route("/v1/jobs/{id}", get(jobs::get))
        .route("/v1/usage", get(usage::handle));
    web::edge(routes, scope, Some(state.gateway.auth().clone())).with_state(state)
}

/// `GET /v1/models`: the catalog as this deployment allows it.
async fn list_models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let gw = &state.gateway;
    Json(models_view::list_models(&gw.catalog(), gw.config()))
}

/// `GET /v1/models/{model}`: one model by any name a caller may use (alias, ID, profile, ARN).
async fn describe_model(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
) -> Result<impl IntoResponse, GatewayError> {
    let gw = &state.gateway;
    // An application inference profile's ARN is described as its model once learnt.
    gw.learn_model(&model).await?;
    Ok(Json(models_view::describe_model(
        &gw.catalog(),
        gw.config(),
        &model,
    )?))
}
