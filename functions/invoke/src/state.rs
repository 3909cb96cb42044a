//! What the handlers share, built once per cold start: the gateway and the jobs API's clients.

use std::sync::Arc;

use gateway_jobs::presign::ResultLinks;
use gateway_jobs::queue::JobQueue;
use gateway_jobs::webhook::WebhookSecret;
use gateway_jobs::{JobStore, JobsSettings};
use inference_core::{Gateway, GatewayError};
use tokio::sync::OnceCell;

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

/// The AWS side of the jobs API, built once per cold start.
#[derive(Debug, Clone)]
pub struct JobsApi {
    /// Table, bucket, URL policy.
    pub settings: JobsSettings,
    /// Job records.
    pub store: JobStore,
    /// The jobs queue.
    pub queue: JobQueue,
    /// Presigned links into the results bucket (SigV4 by hand: invoke links results and never
    /// reads them, so its binary does without the S3 crate).
    pub results: ResultLinks,
    /// The SDK configuration, to read the webhook key when first asked for.
    sdk: aws_config::SdkConfig,
    /// The deployment's webhook key, read on the first `GET /v1/jobs/webhook-secret` (not at
    /// cold start: every other route of this function does without it).
    webhook_secret: Arc<OnceCell<Option<WebhookSecret>>>,
}

impl JobsApi {
    /// Clients for the configured table, queue and bucket; `None` when jobs are not configured.
    pub fn new(sdk: &aws_config::SdkConfig, settings: JobsSettings) -> Option<JobsApi> {
        let queue_url = settings.queue_url.clone()?;
        Some(JobsApi {
            store: JobStore::new(sdk, &settings.table),
            queue: JobQueue::new(sdk, queue_url),
            results: ResultLinks::new(sdk, &settings.bucket),
            settings,
            sdk: sdk.clone(),
            webhook_secret: Arc::new(OnceCell::new()),
        })
    }

    /// The deployment's webhook signing key (`None`: none configured), read once.
    pub async fn webhook_secret(&self) -> Result<Option<WebhookSecret>, GatewayError> {
        self.webhook_secret
            .get_or_try_init(|| gateway_jobs::secrets::resolve(&self.sdk, &self.settings.secret))
            .await
            .cloned()
    }
}
