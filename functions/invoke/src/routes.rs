//! The routes of the `invoke` function and their handlers.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use inference_core::web::{self, ApiError};
use inference_core::{Catalog, Config, models_view};

/// Everything a handler needs, built once per cold start.
pub struct AppState {
    pub config: Config,
    pub catalog: Catalog,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/models", get(list_models).fallback(web::method_not_allowed))
        .route("/v1/models/{model}", get(describe_model).fallback(web::method_not_allowed))
        .fallback(web::not_found)
        .with_state(state)
}

/// `GET /v1/models`: the catalog as this deployment allows it.
async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(models_view::list_models(&state.catalog, &state.config)).into_response()
}

/// `GET /v1/models/{model}`: one model by any name a caller may use (alias, ID, profile, ARN).
async fn describe_model(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    req: Request,
) -> Response {
    match models_view::describe_model(&state.catalog, &state.config, &model) {
        Ok(view) => axum::Json(view).into_response(),
        Err(error) => ApiError::new(error, web::request_id(&req)).into_response(),
    }
}
