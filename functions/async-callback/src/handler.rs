//! The handler: route each trigger to its work and report, per SQS message, only the failures
//! that should come back (partial batch response).

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use inference_core::{CallContext, GatewayError};
use serde_json::Value;

use inference_core::jobs::async_invoke::AsyncState;
use inference_core::jobs::{JobId, JobRecord};

use crate::error::CallbackError;
use crate::events::{MessageBody, ObjectRef, Trigger};
use crate::inbox;
use crate::jobs::{self, JobsWorker};
use crate::storage::Storage;

/// A boxed future borrowing the runner.
pub type RunFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// Runs one Converse request (the JSON the HTTP API takes) and returns the HTTP API's answer;
/// starts and polls async invocations for job models that need them. A trait so the inbox and
/// job logic do not care which client runs it.
pub trait Runner: Send + Sync {
    fn converse<'a>(&'a self, request: Value, ctx: &'a CallContext) -> RunFuture<'a, Value>;

    /// StartAsyncInvoke for a job's `{"model", "native"}` request, output under `output_s3_uri`;
    /// returns the invocation ARN.
    fn start_async<'a>(
        &'a self,
        _job_id: &'a JobId,
        _request: &'a Value,
        _output_s3_uri: &'a str,
    ) -> RunFuture<'a, String> {
        Box::pin(async {
            Err(GatewayError::internal(
                "async invocations are not supported by this runner",
            ))
        })
    }

    /// GetAsyncInvoke.
    fn poll_async<'a>(&'a self, _arn: &'a str) -> RunFuture<'a, AsyncState> {
        Box::pin(async {
            Err(GatewayError::internal(
                "async invocations are not supported by this runner",
            ))
        })
    }

    /// The cost of a completed async invocation of `request` (per-second video pricing), as
    /// the JSON recorded on the job; `None` when the model is not priced that way.
    fn async_cost(&self, _request: &Value) -> Option<Value> {
        None
    }

    /// The context a claimed job runs in: with the caller of the API key that submitted it, so
    /// its model call is admitted and charged to that key (`jobs::charge::run_context`).
    fn job_context<'a>(
        &'a self,
        _record: &'a JobRecord,
        ctx: &'a CallContext,
    ) -> RunFuture<'a, CallContext> {
        Box::pin(async move { Ok(ctx.clone()) })
    }

    /// Charges a completed async invocation's `cost` to the job's key.
    fn settle_async<'a>(
        &'a self,
        _record: &'a JobRecord,
        _cost: Option<&'a Value>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async {})
    }
}

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
            Some(worker) => jobs::process(state, worker, &id, receive_count, ctx).await,
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
