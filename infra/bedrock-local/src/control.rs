//! The `/_local/` control API (no auth): arm and clear faults, read and reset counters,
//! health.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::batch::FailRule;
use crate::faults::{ArmRequest, Fault};
use crate::server::AppState;

type St = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/faults", post(arm).delete(clear))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route("/health", get(health))
        .route(
            "/batch/failures",
            post(batch_failures).delete(clear_batch_failures),
        )
}

fn json_reply(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn arm(State(st): St, body: Bytes) -> Response {
    let req: ArmRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
    };
    match st.faults.arm(req) {
        Ok(()) => json_reply(StatusCode::OK, json!({"armed": true})),
        Err(e) => json_reply(StatusCode::BAD_REQUEST, json!({"error": e})),
    }
}

async fn clear(State(st): St) -> Response {
    st.faults.clear();
    json_reply(StatusCode::OK, json!({"cleared": true}))
}

async fn stats(State(st): St) -> Response {
    json_reply(StatusCode::OK, st.stats.json())
}

async fn reset(State(st): St) -> Response {
    st.stats.reset();
    st.cache.clear();
    st.faults.clear();
    st.batch_jobs.set_failures(FailRule::default());
    json_reply(StatusCode::OK, json!({"reset": true}))
}

/// Makes chosen records of the batch jobs that run from now on fail (`recordIds`, `every`).
async fn batch_failures(State(st): St, body: Bytes) -> Response {
    let rule: FailRule = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
    };
    if let Some(f) = rule.fault.as_deref().filter(|f| Fault::parse(f).is_none()) {
        return json_reply(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("unknown fault {f}")}),
        );
    }
    st.batch_jobs.set_failures(rule);
    json_reply(StatusCode::OK, json!({"armed": true}))
}

async fn clear_batch_failures(State(st): St) -> Response {
    st.batch_jobs.set_failures(FailRule::default());
    json_reply(StatusCode::OK, json!({"cleared": true}))
}

async fn health() -> Response {
    json_reply(StatusCode::OK, json!({"status": "ok"}))
}
