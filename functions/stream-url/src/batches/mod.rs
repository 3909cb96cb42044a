//! OpenAI batches on the compat base URL (docs/jobs.md, "OpenAI batches"): `POST /v1/files`,
//! `GET /v1/files/{id}`, `GET /v1/files/{id}/content`, `POST /v1/batches`, `GET /v1/batches`,
//! `GET /v1/batches/{id}` (no cancel: a job cannot be withdrawn once submitted).
//!
//! Nothing new runs the requests: each line becomes a job of the jobs machinery
//! (`gateway_jobs`), submitted with the completion window as its deadline, so the planner picks
//! Bedrock batch where the model has it and on demand (or flex) elsewhere. The batch is read back
//! from its jobs: `GET /v1/batches/{id}` counts them and, once all are done, writes the output
//! and error files (`refresh`).

pub mod create;
pub mod files;
pub mod input;
pub mod multipart;
pub mod objects;
pub mod refresh;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use gateway_jobs::queue::JobQueue;
use gateway_jobs::results::ResultStore;
use gateway_jobs::{JobOwner, JobStore, JobsSettings};
use inference_core::{CallContext, Gateway, GatewayError};

use objects::Objects;

/// The jobs side, built once per cold start (`None` in the extension: jobs not configured).
#[derive(Debug, Clone)]
pub struct BatchesApi {
    /// Table, bucket, queue URL, batch settings.
    pub settings: JobsSettings,
    /// Job records.
    pub store: JobStore,
    /// The jobs queue (lines planned on demand or flex).
    pub queue: JobQueue,
    /// The results bucket: files, batches, and the jobs' results.
    pub results: ResultStore,
}

impl BatchesApi {
    /// Clients for the configured table, queue and bucket; `None` without a queue.
    pub fn new(sdk: &aws_config::SdkConfig, settings: JobsSettings) -> Option<BatchesApi> {
        let queue = JobQueue::new(sdk, settings.queue_url.clone()?);
        Some(BatchesApi {
            store: JobStore::new(sdk, &settings.table),
            results: ResultStore::new(sdk, &settings.bucket),
            queue,
            settings,
        })
    }

    /// The calling key's files and batches.
    pub fn objects(&self, ctx: &CallContext) -> Objects {
        let key_id = ctx.caller.as_ref().map(|c| c.key_id().clone());
        Objects::of(&self.results, &JobOwner::of(key_id.as_ref()))
    }
}

/// What the handlers get: the gateway and, when configured, the jobs side.
pub type Api = Option<Arc<BatchesApi>>;

pub(crate) fn configured(api: &Api) -> Result<&BatchesApi, GatewayError> {
    api.as_deref().ok_or_else(|| {
        GatewayError::internal(
            "batches need the async jobs configuration on stream-url (GATEWAY_JOBS_TABLE, GATEWAY_JOBS_QUEUE_URL, GATEWAY_RESULTS_BUCKET)",
        )
    })
}

/// The routes (merged by `app::router_with`; the [`Api`] comes as an extension).
pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/v1/files", post(files::create))
        .route("/v1/files/{id}", get(files::get))
        .route("/v1/files/{id}/content", get(files::content))
        .route("/v1/batches", post(create::create).get(refresh::list))
        .route("/v1/batches/{id}", get(refresh::get))
}
