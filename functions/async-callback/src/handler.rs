//! The handler: route each trigger to its work and report, per SQS message, only the failures
//! that should come back (partial batch response).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use inference_core::CallContext;
use serde_json::Value;

use crate::error::CallbackError;
use crate::events::{MessageBody, Trigger};
pub use crate::inbox_object::process_inbox_object;
use crate::jobs;
pub use crate::state::State;

pub use crate::runner::{Answer, RunFuture, Runner};

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
        Trigger::Schedule => {
            crate::batch::tick(state.jobs.as_ref(), state.runner.as_ref(), ctx).await
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
