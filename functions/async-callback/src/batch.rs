//! The batch driver: on each tick (an EventBridge schedule on AWS; the test or an operator
//! locally) flush every model's group that is full or due, and poll every open batch.
//! Flushing is `batch_flush`, polling and recording each record's outcome `batch_poll`, sending
//! a record back to on demand `batch_return`.

use inference_core::CallContext;
use serde_json::{Value, json};

pub use crate::batch_worker::BatchWorker;
use crate::error::CallbackError;
use crate::jobs::JobsWorker;
use crate::runner::Runner;

/// One tick: flush the groups, then poll the open batches. Errors of one group or batch are
/// logged and left for the next tick; the answer counts what happened.
pub async fn tick(
    jobs: Option<&JobsWorker>,
    runner: &dyn Runner,
    ctx: &CallContext,
) -> Result<Value, CallbackError> {
    let (Some(worker), Some(gw)) = (jobs, runner.gateway()) else {
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
