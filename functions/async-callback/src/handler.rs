//! The handler: route each trigger to its work and report, per SQS message, only the failures
//! that should come back (partial batch response).

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use inference_core::{CallContext, GatewayError};
use serde_json::Value;

use crate::error::CallbackError;
use crate::events::{MessageBody, ObjectRef, Trigger};
use crate::inbox;
use crate::storage::Storage;

/// Runs one Converse request (the JSON the HTTP API takes) and returns the HTTP API's answer.
/// A trait so the inbox logic does not care which client runs it.
pub trait Runner: Send + Sync {
    fn converse<'a>(
        &'a self,
        request: Value,
        ctx: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<Value, GatewayError>> + Send + 'a>>;
}

/// Everything the handler needs, built once per cold start.
pub struct State {
    pub runner: Box<dyn Runner>,
    pub storage: Storage,
}

/// Entry point for every trigger. Returns the SQS partial batch response for SQS events and an
/// empty object for direct S3 events (an error then makes Lambda retry the S3 event).
pub async fn handle(state: &State, event: Value, ctx: &CallContext) -> Result<Value, CallbackError> {
    match Trigger::from_json(event)? {
        Trigger::Sqs(sqs) => {
            let mut failures = Vec::new();
            for record in &sqs.records {
                let id = record.message_id.clone().unwrap_or_default();
                let body = record.body.as_deref().unwrap_or("");
                if let Err(reason) = handle_message(state, body, ctx).await {
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

async fn handle_message(state: &State, body: &str, ctx: &CallContext) -> Result<(), CallbackError> {
    match MessageBody::parse(body) {
        MessageBody::S3Test => Ok(()),
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
                Err(e) => inbox::error_line(line.line, e.error_type(), e.message(), e.is_retryable()),
            },
        };
        results.push(result);
    }
    let ok = results.iter().filter(|r| r["ok"] == Value::Bool(true)).count();
    tracing::info!(key = %object.key, out = %out_key, lines = results.len(), ok, "inbox object processed");
    state
        .storage
        .put_jsonl(&object.bucket, &out_key, inbox::to_jsonl(&results)?)
        .await
}
