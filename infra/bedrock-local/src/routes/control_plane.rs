//! Handlers of the Bedrock control-plane operations (service `bedrock`, API 2023-04-20):
//! foundation models, inference profiles and their tags. Faults reach them only when armed
//! for the operation by name (`Faults::take_named`).

use std::sync::atomic::Ordering::Relaxed;

use axum::body::Body;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{St, json_response, label, pause, query_map, read_body, respond};
use crate::errors::BedrockError;
use crate::foundation;
use crate::profiles::request;
use crate::server::AppState;
use crate::stats::Op;

/// The common start of every control-plane call: the configured latency, then an armed fault.
pub(super) async fn enter(st: &AppState, op: Op) -> Result<(), BedrockError> {
    pause(st.config.latency_ms).await;
    match st.faults.take_named(op.name()) {
        Some(f) => {
            st.stats.faults_injected.fetch_add(1, Relaxed);
            Err(f.error("", &st.config.region))
        }
        None => Ok(()),
    }
}

pub(super) async fn body_json(body: Body) -> Result<Value, BedrockError> {
    request::json_object(&read_body(body).await?)
}

pub async fn list_foundation_models(State(st): St, RawQuery(q): RawQuery) -> Response {
    respond(
        async {
            enter(&st, Op::ListFoundationModels).await?;
            let q = query_map(q.as_deref())?;
            Ok(json_response(&foundation::list(&st.config.region, &q)?))
        }
        .await,
    )
}

pub async fn get_foundation_model(State(st): St, params: RawPathParams) -> Response {
    respond(
        async {
            enter(&st, Op::GetFoundationModel).await?;
            let id = label(&params, "model_id")?;
            Ok(json_response(&foundation::get(&st.config.region, &id)?))
        }
        .await,
    )
}

pub async fn list_inference_profiles(State(st): St, RawQuery(q): RawQuery) -> Response {
    respond(
        async {
            enter(&st, Op::ListInferenceProfiles).await?;
            let q = query_map(q.as_deref())?;
            Ok(json_response(&st.profiles.list(&st.config.region, &q)?))
        }
        .await,
    )
}

pub async fn get_inference_profile(State(st): St, params: RawPathParams) -> Response {
    respond(
        async {
            enter(&st, Op::GetInferenceProfile).await?;
            let id = label(&params, "id")?;
            Ok(json_response(&st.profiles.get(&st.config.region, &id)?))
        }
        .await,
    )
}

/// CreateInferenceProfile answers 201 Created, as the service model says.
pub async fn create_inference_profile(State(st): St, body: Body) -> Response {
    respond(
        async {
            enter(&st, Op::CreateInferenceProfile).await?;
            let req = request::create(&body_json(body).await?)?;
            let arn = st.profiles.create(&st.config.region, req)?;
            let mut r = json_response(&json!({"inferenceProfileArn": arn, "status": "ACTIVE"}));
            *r.status_mut() = StatusCode::CREATED;
            Ok(r)
        }
        .await,
    )
}

pub async fn delete_inference_profile(State(st): St, params: RawPathParams) -> Response {
    respond(
        async {
            enter(&st, Op::DeleteInferenceProfile).await?;
            let id = label(&params, "id")?;
            st.profiles.delete(&id)?;
            Ok(json_response(&json!({})))
        }
        .await,
    )
}

pub async fn list_tags_for_resource(State(st): St, body: Body) -> Response {
    respond(
        async {
            enter(&st, Op::ListTagsForResource).await?;
            let body = body_json(body).await?;
            Ok(json_response(
                &st.profiles.tags(request::resource_arn(&body)?)?,
            ))
        }
        .await,
    )
}

pub async fn tag_resource(State(st): St, body: Body) -> Response {
    respond(
        async {
            enter(&st, Op::TagResource).await?;
            let body = body_json(body).await?;
            let arn = request::resource_arn(&body)?;
            let tags = match request::tags(&body, "tags")? {
                Some(t) => t,
                None => {
                    return Err(BedrockError::Validation(
                        "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null".into(),
                    ));
                }
            };
            st.profiles.tag(arn, &tags)?;
            Ok(json_response(&json!({})))
        }
        .await,
    )
}

pub async fn untag_resource(State(st): St, body: Body) -> Response {
    respond(
        async {
            enter(&st, Op::UntagResource).await?;
            let body = body_json(body).await?;
            let arn = request::resource_arn(&body)?;
            st.profiles.untag(arn, &request::tag_keys(&body)?)?;
            Ok(json_response(&json!({})))
        }
        .await,
    )
}
