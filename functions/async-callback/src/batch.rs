//! The batch driver: on each tick (an EventBridge schedule on AWS; the test or an operator
//! locally) flush every model's group that is full or due, and poll every open batch.
//! Flushing is `batch_flush`, polling and recording each record's outcome `batch_poll`.

use futures_util::stream::{self, StreamExt};
use gateway_jobs::batch::settings::BatchSettings;
use gateway_jobs::queue::JobQueue;
use gateway_jobs::{JobId, JobRecord, JobStore, JobsSettings};
use inference_core::{CallContext, GatewayError};
use serde_json::{Value, json};

use crate::error::CallbackError;
use crate::handler::State;

/// Reads and writes of one tick run this many at a time.
pub(crate) const CONCURRENCY: usize = 16;

/// What the batch driver needs besides the jobs worker.
#[derive(Debug, Clone)]
pub struct BatchWorker {
    /// Role, minimum records, flush margin.
    pub settings: BatchSettings,
    /// Bedrock's control plane (CreateModelInvocationJob, GetModelInvocationJob).
    pub bedrock: aws_sdk_bedrock::Client,
    /// The jobs queue: records that fail in a batch are retried on demand through it.
    pub queue: JobQueue,
}

impl BatchWorker {
    /// From the jobs settings; `None` when batch is off. Batch needs the jobs queue.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        settings: &JobsSettings,
    ) -> Result<Option<BatchWorker>, GatewayError> {
        let Some(batch) = &settings.batch else {
            return Ok(None);
        };
        let queue_url = settings.queue_url.as_deref().ok_or_else(|| {
            GatewayError::internal(
                "configuration: GATEWAY_BATCH_ROLE_ARN needs GATEWAY_JOBS_QUEUE_URL (records that fail in a batch are retried on demand through the jobs queue)",
            )
        })?;
        Ok(Some(BatchWorker {
            settings: batch.clone(),
            bedrock: aws_sdk_bedrock::Client::new(sdk),
            queue: JobQueue::new(sdk, queue_url),
        }))
    }
}

/// Reads the records of `ids` (strings from a set), `None` where there is none.
pub(crate) async fn read_records(
    store: &JobStore,
    ids: &[String],
) -> Result<Vec<(String, Option<JobRecord>)>, GatewayError> {
    let reads = stream::iter(ids.iter().cloned())
        .map(|m| async move {
            let record = match JobId::parse(&m) {
                Ok(id) => store.get(&id).await?,
                Err(_) => None,
            };
            Ok::<_, GatewayError>((m, record))
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    reads.into_iter().collect()
}

/// One tick: flush the groups, then poll the open batches. Errors of one group or batch are
/// logged and left for the next tick; the answer counts what happened.
pub async fn tick(state: &State, ctx: &CallContext) -> Result<Value, CallbackError> {
    let (Some(worker), Some(gw)) = (&state.jobs, state.runner.gateway()) else {
        return Err(CallbackError::UnknownEvent(
            "batch tick, but jobs are not configured".into(),
        ));
    };
    let Some(batch) = &worker.batch else {
        return Ok(json!({"batch": "off (GATEWAY_BATCH_ROLE_ARN is not set)"}));
    };
    let index = worker.store.batch_index().await?;
    let mut flushed = Vec::new();
    for model in &index.models {
        match crate::batch_flush::flush_group(gw, worker, batch, model, ctx).await {
            Ok(ids) => flushed.extend(ids.into_iter().map(|b| b.to_string())),
            Err(e) => tracing::error!(model = %model, error = %e, "batch group not flushed"),
        }
    }
    let mut finished = 0;
    for id in &index.open {
        match crate::batch_poll::poll_run(gw, worker, batch, id, ctx).await {
            Ok(true) => finished += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(batch_id = %id, error = %e, "batch not polled"),
        }
    }
    Ok(json!({"flushed": flushed, "polled": index.open.len(), "finished": finished}))
}
