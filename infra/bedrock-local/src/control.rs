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
use crate::models;
use crate::server::AppState;

type St = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/faults", post(arm).delete(clear))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route("/health", get(health))
        .route("/models", post(add_model))
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

/// `POST /_local/models` `{"modelId", "name"?, "inputModalities"?: ["TEXT", "IMAGE"],
/// "streaming"?: true, "onDemand"?: true}`: a chat model the table lacks, served from now on by
/// the runtime and listed by ListFoundationModels (a model Bedrock launched after the gateway's
/// release, for the live catalog's tests).
async fn add_model(body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct AddModel {
        model_id: String,
        name: Option<String>,
        #[serde(default)]
        input_modalities: Vec<String>,
        streaming: Option<bool>,
        on_demand: Option<bool>,
    }
    let req: AddModel = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
    };
    let bad = |m: String| json_reply(StatusCode::BAD_REQUEST, json!({"error": m}));
    let Some((provider, rest)) = req.model_id.split_once('.') else {
        return bad("modelId: expected provider.model".into());
    };
    if provider.is_empty() || rest.is_empty() || req.model_id.len() > 200 {
        return bad("modelId: expected provider.model".into());
    }
    if let Some(m) = req
        .input_modalities
        .iter()
        .find(|m| !["TEXT", "IMAGE"].contains(&m.as_str()))
    {
        return bad(format!("inputModalities: {m} is not TEXT or IMAGE"));
    }
    let family = match provider {
        "anthropic" => models::Family::Anthropic,
        "amazon" => models::Family::Nova,
        "meta" => models::Family::Llama,
        "cohere" => models::Family::Cohere,
        _ => models::Family::Mistral,
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let model = models::Model {
        id: leak(req.model_id.clone()),
        name: leak(req.name.unwrap_or_else(|| req.model_id.clone())),
        family,
        caps: models::Caps {
            images: req.input_modalities.iter().any(|m| m == "IMAGE"),
            streaming: req.streaming.unwrap_or(true),
            ..models::CHAT
        },
        max_output: 4096,
        context_window: 32_768,
        geos: models::NONE,
        on_demand: req.on_demand.unwrap_or(true),
    };
    match models::add(model) {
        Ok(m) => json_reply(StatusCode::CREATED, json!({"added": m.id})),
        Err(e) => json_reply(StatusCode::CONFLICT, json!({"error": e})),
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
