//! The batch inference operations of the control plane: CreateModelInvocationJob,
//! GetModelInvocationJob, ListModelInvocationJobs and StopModelInvocationJob. Each record is
//! answered by the same native generation as InvokeModel (`invoke::native_answer`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::control_plane::{body_json, enter};
use super::invoke::native_answer;
use super::{St, json_response, label, query_map, respond};
use crate::batch::records::Outcome;
use crate::batch::{Invoker, Settings, outcome_of, request};
use crate::errors::validation;
use crate::models::{Family, Model};
use crate::server::AppState;
use crate::stats::Op;

/// Whether Bedrock runs batch jobs for the model in bedrock-local: every text model and the
/// Titan embeddings, not Nova Reel (an async-invoke model) nor Cohere Embed.
fn supports_batch(model: &Model) -> bool {
    !matches!(model.family, Family::NovaReel | Family::CohereEmbed)
}

fn settings(st: &AppState) -> Settings {
    Settings {
        region: st.config.region.clone(),
        step: Duration::from_millis(st.config.batch_step_ms),
        min_records: st.config.batch_min_records,
        max_file_bytes: st.config.batch_max_file_bytes,
    }
}

/// The records' answers: InvokeModel's native generation, without its pacing.
fn invoker(st: &Arc<AppState>) -> Invoker {
    let st = Arc::clone(st);
    Arc::new(
        move |model: &'static Model, input: &Value| match native_answer(&st, model, input) {
            Ok((output, input, out)) => Outcome::Output {
                output,
                input_tokens: u64::from(input),
                output_tokens: u64::from(out),
            },
            Err(e) => outcome_of(&e),
        },
    )
}

pub async fn create_model_invocation_job(State(st): St, body: Body) -> Response {
    respond(
        async {
            enter(&st, Op::CreateModelInvocationJob).await?;
            let req = request::create(&body_json(body).await?)?;
            // The runtime's rule: a profile-only model by its system (or application) profile.
            let model = st.profiles.resolve_for_invoke(&req.model_id)?.model;
            if !supports_batch(model) {
                return validation(format!(
                    "The model {} does not support batch inference.",
                    model.id
                ));
            }
            let arn = st
                .batch_jobs
                .create(req, model, settings(&st), invoker(&st))?;
            Ok(json_response(&json!({ "jobArn": arn })))
        }
        .await,
    )
}

pub async fn get_model_invocation_job(State(st): St, params: RawPathParams) -> Response {
    respond(
        async {
            enter(&st, Op::GetModelInvocationJob).await?;
            let id = label(&params, "id")?;
            Ok(json_response(&st.batch_jobs.get(&id)?))
        }
        .await,
    )
}

pub async fn stop_model_invocation_job(State(st): St, params: RawPathParams) -> Response {
    respond(
        async {
            enter(&st, Op::StopModelInvocationJob).await?;
            let id = label(&params, "id")?;
            st.batch_jobs.stop(&id)?;
            Ok(json_response(&json!({})))
        }
        .await,
    )
}

pub async fn list_model_invocation_jobs(State(st): St, RawQuery(q): RawQuery) -> Response {
    respond(
        async {
            enter(&st, Op::ListModelInvocationJobs).await?;
            let q = query_map(q.as_deref())?;
            Ok(json_response(&st.batch_jobs.list(&q)?))
        }
        .await,
    )
}
