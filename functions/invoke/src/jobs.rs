//! `POST /v1/jobs` and `GET /v1/jobs/{id}`: record a job, enqueue it, report it.
//!
//! Write order is what makes "nothing lost" hold: the record is written first (conditional put),
//! then the message is sent. If the send fails the record is marked `failed`
//! (`enqueue_failed`) and the caller gets 503; a retry with the same idempotency key puts the
//! job back to `queued` and sends again. The lifecycle is in `docs/jobs.md`.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use inference_core::GatewayError;
use inference_core::auth::KeyId;
use inference_core::jobs::charge;
use inference_core::jobs::queue::JobQueue;
use inference_core::jobs::record::{ENQUEUE_FAILED, Resubmit, now_ms, resubmit};
use inference_core::jobs::results::ResultStore;
use inference_core::jobs::submit::{self, Submission};
use inference_core::jobs::{JobError, JobId, JobRecord, JobStore, JobsSettings};
use inference_core::web::{self, ApiError};
use serde_json::{Value, json};

use crate::request::JsonRequest;
use crate::routes::AppState;

/// The AWS side of the jobs API, built once per cold start.
#[derive(Debug, Clone)]
pub struct JobsApi {
    /// Table, bucket, URL policy.
    pub settings: JobsSettings,
    /// Job records.
    pub store: JobStore,
    /// The jobs queue.
    pub queue: JobQueue,
    /// The results bucket (presigned links).
    pub results: ResultStore,
}

impl JobsApi {
    /// Clients for the configured table, queue and bucket; `None` when jobs are not configured.
    pub fn new(sdk: &aws_config::SdkConfig, settings: JobsSettings) -> Option<JobsApi> {
        let queue_url = settings.queue_url.clone()?;
        Some(JobsApi {
            store: JobStore::new(sdk, &settings.table),
            queue: JobQueue::new(sdk, queue_url),
            results: ResultStore::new(sdk, &settings.bucket),
            settings,
        })
    }
}

fn not_configured() -> GatewayError {
    GatewayError::internal(
        "async jobs are not configured on this deployment (GATEWAY_JOBS_TABLE, GATEWAY_JOBS_QUEUE_URL, GATEWAY_RESULTS_BUCKET)",
    )
}

/// `POST /v1/jobs`.
pub async fn create(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let gw = &state.gateway;
    let JsonRequest { ctx, json, .. } =
        match JsonRequest::read(req, gw.config().max_body_bytes).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
    let result = match &state.jobs {
        None => Err(not_configured()),
        Some(jobs) => match submit::validate(gw, json, jobs.settings.url_policy).await {
            // With a key: its models and budgets are checked now, and the job is charged to it
            // when it runs (`jobs::charge`).
            Ok(sub) => match charge::admit_submission(gw, &ctx, &sub).await {
                Ok(key_id) => submit_job(jobs, sub, key_id).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
    };
    match result {
        Ok((status, record)) => job_response(status, &record),
        Err(e) => ApiError::new(e, ctx.request_id).into_response(),
    }
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
    req: Request,
) -> Response {
    let request_id = web::request_id(&req);
    let caller = web::call_context(&req, "invoke").caller;
    let result = async {
        let jobs = state.jobs.as_ref().ok_or_else(not_configured)?;
        let id = JobId::parse(&id)?;
        let record = jobs
            .store
            .get(&id)
            .await?
            // With keys, a job (and its result link) is the submitting key's, or an admin's
            // to read; anyone else gets the same 404 as for a job that does not exist.
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
        Ok::<_, GatewayError>((record, link, jobs.results.bucket().to_owned()))
    }
    .await;
    match result {
        Ok((record, link, bucket)) => {
            let mut v = record.summary(Some(&bucket));
            if let (Some((url, expires)), Some(r)) = (link, v.get_mut("result")) {
                r["url"] = Value::String(url);
                r["url_expires_at"] = json!(inference_core::jobs::record::rfc3339(expires * 1000));
            }
            axum::Json(v).into_response()
        }
        Err(e) => ApiError::new(e, request_id).into_response(),
    }
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
