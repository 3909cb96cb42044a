//! `POST /v1/jobs` and `GET /v1/jobs/{id}`: record a job, enqueue it, report it.
//!
//! Write order is what makes "nothing lost" hold: the record is written first (conditional put),
//! then the message is sent. If the send fails the record is marked `failed`
//! (`enqueue_failed`) and the caller gets 503; a retry with the same idempotency key puts the
//! job back to `queued` and sends again. The lifecycle is in `docs/jobs.md`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use gateway_jobs::charge;
use gateway_jobs::record::{ENQUEUE_FAILED, Resubmit, now_ms, resubmit};
use gateway_jobs::submit::{self, Submission};
use gateway_jobs::{JobError, JobId, JobRecord};
use http::{HeaderValue, StatusCode};
use inference_core::GatewayError;
use inference_core::auth::KeyId;
use inference_core::web::{Ctx, JsonBody};
use serde_json::{Value, json};

use crate::state::{AppState, JobsApi};

fn not_configured() -> GatewayError {
    GatewayError::internal(
        "async jobs are not configured on this deployment (GATEWAY_JOBS_TABLE, GATEWAY_JOBS_QUEUE_URL, GATEWAY_RESULTS_BUCKET)",
    )
}

/// `POST /v1/jobs`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Ctx(ctx): Ctx,
    JsonBody(json): JsonBody,
) -> Result<Response, GatewayError> {
    let gw = &state.gateway;
    let jobs = state.jobs.as_ref().ok_or_else(not_configured)?;
    let sub = submit::validate(gw, json, jobs.settings.url_policy).await?;
    // With a key: its models and budgets are checked now, and the job is charged to it when it
    // runs (`jobs::charge`).
    let key_id = charge::admit_submission(gw, &ctx, &sub).await?;
    let (status, record) = submit_job(jobs, sub, key_id).await?;
    Ok(job_response(status, &record))
}

/// Records and enqueues a checked submission; returns the status to answer with and the job.
async fn submit_job(
    jobs: &JobsApi,
    sub: Submission,
    key_id: Option<KeyId>,
) -> Result<(StatusCode, JobRecord), GatewayError> {
    let now = now_ms();
    let id = match &sub.idempotency_key {
        Some(k) => JobId::for_idempotency_key(k),
        None => JobId::random(),
    };
    let mut record = JobRecord::new(
        id.clone(),
        sub.kind,
        sub.model,
        sub.request,
        sub.request_hash.clone(),
        sub.idempotency_key.map(|k| k.as_str().to_owned()),
        sub.webhook_url.map(|u| u.as_str().to_owned()),
        now,
    );
    record.key_id = key_id;
    if jobs.store.create(&record).await? {
        enqueue_or_fail(jobs, &id).await?;
        tracing::info!(job_id = %id, kind = record.kind.as_str(), model = %record.model, "job queued");
        return Ok((StatusCode::ACCEPTED, record));
    }
    // The idempotency key's job exists already.
    let existing = jobs
        .store
        .get(&id)
        .await?
        .ok_or_else(|| GatewayError::internal("job vanished between write and read"))?;
    match resubmit(&existing, &sub.request_hash, now) {
        Resubmit::Conflict => Err(GatewayError::conflict(
            "idempotency_key was already used for a different request",
        )),
        Resubmit::Existing => Ok((StatusCode::OK, existing)),
        Resubmit::Reenqueue => {
            if jobs.store.requeue(&id, now).await? {
                enqueue_or_fail(jobs, &id).await?;
                tracing::info!(job_id = %id, "job re-enqueued on resubmission");
            }
            let current = jobs.store.get(&id).await?.unwrap_or(existing);
            Ok((StatusCode::ACCEPTED, current))
        }
    }
}

/// Sends the job's message; on failure marks the record `failed` (`enqueue_failed`) so it is
/// never left `queued` with no message, and answers 503.
async fn enqueue_or_fail(jobs: &JobsApi, id: &JobId) -> Result<(), GatewayError> {
    let Err(e) = jobs.queue.enqueue(id).await else {
        return Ok(());
    };
    tracing::error!(job_id = %id, error = %e, "enqueue failed");
    let reason = JobError {
        error_type: ENQUEUE_FAILED.into(),
        message: "the job could not be queued; submit it again with the same idempotency_key"
            .into(),
        retryable: true,
    };
    if let Err(mark) = jobs.store.mark_enqueue_failed(id, &reason, now_ms()).await {
        tracing::error!(job_id = %id, error = %mark, "could not mark the job as not enqueued");
    }
    Err(GatewayError::new(
        inference_core::error::ErrorKind::ServiceUnavailable,
        "the job could not be queued; retry (with the same idempotency_key to get the same job)",
    ))
}

/// `GET /v1/jobs/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, GatewayError> {
    let caller = ctx.caller;
    let jobs = state.jobs.as_ref().ok_or_else(not_configured)?;
    let id = JobId::parse(&id)?;
    let record = jobs
        .store
        .get(&id)
        .await?
        // With keys, a job (and its result link) is the submitting key's, or an admin's to read;
        // anyone else gets the same 404 as for a job that does not exist.
        .filter(|r| {
            caller
                .as_ref()
                .is_none_or(|c| c.record.admin || r.key_id.as_ref() == Some(&c.record.id))
        })
        .ok_or_else(|| GatewayError::not_found(format!("no job {id}")))?;
    let link = match &record.result_key {
        Some(key) => match jobs.results.presign_get(key).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "could not presign the result");
                None
            }
        },
        None => None,
    };
    let mut v = record.summary(Some(jobs.results.bucket()));
    if let (Some((url, expires)), Some(r)) = (link, v.get_mut("result")) {
        r["url"] = Value::String(url);
        r["url_expires_at"] = json!(gateway_jobs::record::rfc3339(expires * 1000));
    }
    Ok(Json(v))
}

fn job_response(status: StatusCode, record: &JobRecord) -> Response {
    let body = record.summary(None);
    let location = format!("/v1/jobs/{}", record.job_id);
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
    response
}
