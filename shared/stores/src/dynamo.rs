//! DynamoDB attribute helpers and error mapping shared by the three stores on DynamoDB (job
//! records, API keys and usage, the response cache's shared tier).

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use inference_core::error::{ErrorKind, GatewayError};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// An item's string attribute `k`.
pub fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A failed store call as a retryable 503 naming the store and the operation: the SDK has
/// already retried throttling and transient failures, so what is left may pass later (the API
/// answers 503; a job message comes back).
/// The SDK's error chain (which names the account, role and table) goes to the log, not to
/// the caller.
pub fn store_error(store: &str, what: &str, e: impl std::error::Error) -> GatewayError {
    tracing::warn!(store, operation = what, error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "store call failed");
    GatewayError::new(
        ErrorKind::ServiceUnavailable,
        format!("{store}: {what} failed; try again later (the cause is in the gateway's logs)"),
    )
}

/// Whether a conditional write was refused because its condition did not hold.
pub fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// A conditional write's outcome: `Ok(true)` written, `Ok(false)` refused because its condition
/// did not hold (the caller decides what that means), otherwise the store's 503.
pub fn conditional<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    store: &str,
    what: &str,
) -> Result<bool, GatewayError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(store_error(store, what, e)),
    }
}
