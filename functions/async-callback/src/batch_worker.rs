//! What the batch driver needs besides the jobs worker, and the reads it shares.

use futures_util::stream::{self, StreamExt};
use gateway_jobs::batch::settings::BatchSettings;
use gateway_jobs::queue::JobQueue;
use gateway_jobs::{JobId, JobRecord, JobStore, JobsSettings};
use inference_core::GatewayError;

/// Reads and writes of one tick run this many at a time.
pub const CONCURRENCY: usize = 16;

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
pub async fn read_records(
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
