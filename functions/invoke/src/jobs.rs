//! `POST /v1/jobs` and `GET /v1/jobs/{id}`: record a job, enqueue it, report it.
//! `GET /v1/jobs/webhook-secret`: the calling API key's webhook signing key.
//!
//! Write order is what makes "nothing lost" hold: with an idempotency key, the key's item first
//! (per API key, pointing at a random job ID; `gateway_jobs::idempotency`), then the record
//! (conditional put), then the message. If the send fails the record is marked `failed`
//! (`enqueue_failed`) and the caller gets 503; a retry with the same idempotency key puts the
//! job back to `queued` and sends again. The lifecycle is in `docs/jobs.md`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use gateway_jobs::charge;
use gateway_jobs::idempotency::{IdempotentJob, KeyClaim};
use gateway_jobs::record::{Resubmit, now_ms, resubmit};
use gateway_jobs::submit::{self, Submission};
use gateway_jobs::{JobId, JobOwner, JobRecord};
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
    let batch_on = jobs.settings.batch.is_some();
    let sub = submit::validate(gw, json, jobs.settings.url_policy, batch_on).await?;
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
    let mut id = JobId::random();
    if let Some(key) = &sub.idempotency_key {
        // The key is the submitting key's own (or the deployment's, without keys): another
        // owner's same key is another job. A held key names its job, which this submission then
        // reads, or writes if the first submission died before it could.
        let owner = JobOwner::of(key_id.as_ref());
        let proposed = IdempotentJob {
            job_id: id.clone(),
            request_hash: sub.request_hash.clone(),
        };
        if let KeyClaim::Held(held) = jobs
            .store
            .claim_idempotency_key(&owner, key, &proposed, now)
            .await?
        {
            if held.request_hash != sub.request_hash {
                return Err(conflict());
            }
            id = held.job_id;
        }
    }
    let request_hash = sub.request_hash.clone();
    if let Some(record) = submit::record_as(&jobs.store, id.clone(), sub, key_id, now).await? {
        if !record.is_batch_planned() {
            enqueue_or_fail(jobs, &id).await?;
        }
        let mode = record
            .plan
            .as_ref()
            .map_or("on_demand", |p| p.mode.as_str());
        tracing::info!(job_id = %id, kind = record.kind.as_str(), model = %record.model, mode, "job queued");
        return Ok((StatusCode::ACCEPTED, record));
    }
    // The idempotency key's job exists already (written by an earlier or a concurrent
    // submission with the same key).
    let existing = jobs
        .store
        .get(&id)
        .await?
        .ok_or_else(|| GatewayError::internal("job vanished between write and read"))?;
    match resubmit(&existing, &request_hash, now) {
        Resubmit::Conflict => Err(conflict()),
        Resubmit::Existing => Ok((StatusCode::OK, existing)),
        Resubmit::Reenqueue if existing.is_batch_planned() => {
            // Held for a batch (long waits are normal): make sure it is in its group; the
            // flusher, not a message, runs it.
            jobs.store.add_to_batch_group(&existing.model, &id).await?;
            Ok((StatusCode::OK, existing))
        }
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

fn conflict() -> GatewayError {
    GatewayError::conflict("idempotency_key was already used for a different request")
}

/// Sends the job's message; on failure marks the record `failed` (`enqueue_failed`) so it is
/// never left `queued` with no message, and answers 503.
async fn enqueue_or_fail(jobs: &JobsApi, id: &JobId) -> Result<(), GatewayError> {
    let message = "the job could not be queued; submit it again with the same idempotency_key";
    if submit::enqueue_or_mark_failed(&jobs.store, &jobs.queue, id, message).await {
        return Ok(());
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

/// `GET /v1/jobs/webhook-secret`: the key that signs the calling API key's webhook deliveries
/// (derived from the deployment's key, `WebhookSecret::for_owner`), so a tenant can verify its
/// own deliveries and cannot forge another tenant's. Without API keys there is no per-caller
/// key: deliveries are signed with the deployment's key, which only operators read.
pub async fn webhook_secret(
    State(state): State<Arc<AppState>>,
    Ctx(ctx): Ctx,
) -> Result<Response, GatewayError> {
    let jobs = state.jobs.as_ref().ok_or_else(not_configured)?;
    let Some(caller) = ctx.caller.as_ref() else {
        return Err(GatewayError::not_found(
            "webhook keys are per API key, and this deployment runs without API keys (GATEWAY_AUTH=none): deliveries are signed with the deployment's key (GATEWAY_WEBHOOK_SECRET), which operators read from its secret",
        ));
    };
    let deployment = jobs.webhook_secret().await?.ok_or_else(|| {
        GatewayError::internal(
            "no webhook signing key is configured on this deployment (GATEWAY_WEBHOOK_SECRET): webhooks are not sent",
        )
    })?;
    let key_id = &caller.record.id;
    let own = deployment.for_owner(&JobOwner::Key(key_id.clone()));
    let body = json!({
        "key_id": key_id,
        "webhook_secret": String::from_utf8_lossy(own.expose()),
        "algorithm": "HMAC-SHA256",
        "signature_header": gateway_jobs::SIGNATURE_HEADER,
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(response)
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
