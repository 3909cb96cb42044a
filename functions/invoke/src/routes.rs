//! The router of the `invoke` function, its shared state and the catalog routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use inference_core::web::{self, ApiError};
use inference_core::{Gateway, auth, models_view};

use crate::jobs::{self, JobsApi};
use crate::{converse, guardrail, native};

/// Everything a handler needs, built once per cold start.
pub struct AppState {
    /// Configuration, catalog, policy and the Bedrock client.
    pub gateway: Gateway,
    /// The jobs table, queue and bucket (`None`: jobs not configured; the routes answer 500).
    pub jobs: Option<JobsApi>,
}

impl AppState {
    /// Wraps a gateway built in `main` (or by a test against `bedrock-local`).
    pub fn new(gateway: Gateway) -> Self {
        AppState {
            gateway,
            jobs: None,
        }
    }

    /// Adds the jobs API's clients.
    pub fn with_jobs(mut self, jobs: Option<JobsApi>) -> Self {
        self.jobs = jobs;
        self
    }
}

/// Every route of the function; unknown paths are 404 and known paths with another method 405,
/// both as JSON errors. Every response carries `x-request-id` (`web::request_scope`).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/v1/models",
            get(list_models).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/models/{model}",
            get(describe_model).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/converse",
            post(converse::handle).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/invoke/{modelId}",
            post(native::handle).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/guardrail/check",
            post(guardrail::handle).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/jobs",
            post(jobs::create).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/jobs/{id}",
            get(jobs::get).fallback(web::method_not_allowed),
        )
        .route(
            "/v1/usage",
            get(crate::usage::handle).fallback(web::method_not_allowed),
        )
        .fallback(web::not_found)
        // API keys, per-key budgets and rate limits (`GATEWAY_AUTH`; docs/auth.md).
        .layer(middleware::from_fn_with_state(
            state.gateway.auth().clone(),
            auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state("invoke", web::request_scope))
        .with_state(state)
}

/// `GET /v1/models`: the catalog as this deployment allows it.
async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    let gw = &state.gateway;
    axum::Json(models_view::list_models(gw.catalog(), gw.config())).into_response()
}

/// `GET /v1/models/{model}`: one model by any name a caller may use (alias, ID, profile, ARN).
async fn describe_model(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    req: Request,
) -> Response {
    let gw = &state.gateway;
    match models_view::describe_model(gw.catalog(), gw.config(), &model) {
        Ok(view) => axum::Json(view).into_response(),
        Err(error) => ApiError::new(error, web::request_id(&req)).into_response(),
    }
}
