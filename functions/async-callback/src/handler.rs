//! The handler: route each trigger to its work and report, per SQS message, only the failures
//! that should come back (partial batch response).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use inference_core::CallContext;
use serde_json::Value;

use crate::error::CallbackError;
use crate::events::{MessageBody, ObjectRef, Trigger};
use crate::inbox;
use crate::jobs::{self, JobsWorker};
use crate::storage::Storage;

pub use crate::runner::{RunFuture, Runner};

/// Everything the handler needs, built once per cold start.
pub struct State {
    pub runner: Box<dyn Runner>,
    pub storage: Storage,
    /// The jobs table, bucket and webhook sender (`None`: jobs not configured; job messages
    /// then come back and end in the DLQ rather than being dropped).
    pub jobs: Option<JobsWorker>,
}

/// Entry point for every trigger. Returns the SQS partial batch response for SQS events and an
/// empty object for direct S3 events (an error then makes Lambda retry the S3 event).
pub async fn handle(
    state: &State,
    event: Value,
    ctx: &CallContext,
) -> Result<Value, CallbackError> {
    match Trigger::from_json(event)? {
        Trigger::Sqs(sqs) => {
            // The records of a batch are independent (jobs are claimed with a compare-and-set,
            // so even two copies of one job in a batch run it once): run them concurrently.
            let outcomes =
                futures_util::future::join_all(sqs.records.iter().map(|record| async move {
                    let body = record.body.as_deref().unwrap_or("");
                    let receive_count = record
                        .attributes
                        .get("ApproximateReceiveCount")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1);
                    (
                        record,
                        handle_message(state, body, receive_count, ctx).await,
                    )
                }))
                .await;
            let mut failures = Vec::new();
            for (record, outcome) in outcomes {
                if let Err(reason) = outcome {
                    let id = record.message_id.clone().unwrap_or_default();
                    // Logged without the body: it may hold a prompt.
                    tracing::warn!(message_id = %id, error = %reason, "message will be retried");
                    // The event types are non-exhaustive: build from Default, then set.
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    failures.push(failure);
                }
            }
            let mut response = SqsBatchResponse::default();
            response.batch_item_failures = failures;
            Ok(serde_json::to_value(response)?)
        }
        Trigger::S3(objects) => {
            for object in &objects {
                process_inbox_object(state, object, ctx).await?;
            }
            Ok(Value::Object(Default::default()))
        }
    }
}

async fn handle_message(
    state: &State,
    body: &str,
    receive_count: u32,
    ctx: &CallContext,
) -> Result<(), CallbackError> {
    match MessageBody::parse(body) {
        MessageBody::S3Test => Ok(()),
        MessageBody::Job(id) => match &state.jobs {
            Some(worker) => jobs::process(state.runner.as_ref(), worker, &id, receive_count, ctx).await,
            None => Err(CallbackError::UnknownEvent(
                "job message, but jobs are not configured (GATEWAY_JOBS_TABLE, GATEWAY_RESULTS_BUCKET)".into(),
            )),
        },
        MessageBody::S3(objects) => {
            for object in &objects {
                process_inbox_object(state, object, ctx).await?;
            }
            Ok(())
        }
        MessageBody::Unknown(why) => Err(CallbackError::UnknownEvent(why)),
    }
}

/// Runs every request of one inbox object and writes one result line per request to `outbox/`.
pub async fn process_inbox_object(
    state: &State,
    object: &ObjectRef,
    ctx: &CallContext,
) -> Result<(), CallbackError> {
    let Some(out_key) = inbox::outbox_key(&object.key) else {
        tracing::info!(key = %object.key, "ignoring object outside inbox/");
        return Ok(());
    };
    let bytes = state.storage.get(&object.bucket, &object.key).await?;
    let mut results = Vec::new();
    for line in inbox::parse_requests(&bytes) {
        let result = match line.request {
            Err(message) => inbox::error_line(line.line, "invalid_request", &message, false),
            Ok(request) => match state.runner.converse(request, ctx).await {
                Ok(response) => inbox::ok_line(line.line, response),
                Err(e) => {
                    inbox::error_line(line.line, e.error_type(), e.message(), e.is_retryable())
                }
            },
        };
        results.push(result);
    }
    let ok = results
        .iter()
        .filter(|r| r["ok"] == Value::Bool(true))
        .count();
    tracing::info!(key = %object.key, out = %out_key, lines = results.len(), ok, "inbox object processed");
    state
        .storage
        .put_jsonl(&object.bucket, &out_key, inbox::to_jsonl(&results)?)
        .await
}
