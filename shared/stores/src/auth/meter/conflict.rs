//! Retries of writes that met a settlement transaction on the same item. DynamoDB refuses a
//! write to an item a transaction is changing (`TransactionConflictException`, or a transaction's
//! cancellation reason `TransactionConflict`) without applying it, and the SDK does not retry
//! either: the meter retries them itself, a bounded number of times with jittered backoff.

use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

/// Attempts of a write DynamoDB refuses for a conflict (the first one included).
pub(super) const ATTEMPTS: u32 = 8;

/// Whether DynamoDB refused a write because a transaction was changing its item (nothing was
/// written; trying again later is safe).
pub(super) fn is_conflict<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "TransactionConflictException")
}

/// Waits before attempt `attempt + 1`: a random time up to 20 ms × 2^attempt (at most about
/// 2.5 s), so writers that conflicted once do not meet again.
pub(super) async fn pause(attempt: u32) {
    let ceiling_ms = 20u64 << attempt.min(7);
    // UUID v4's bits come from the operating system's generator: random enough for a jitter.
    let jitter = u64::try_from(uuid::Uuid::new_v4().as_u128() % u128::from(ceiling_ms + 1))
        .unwrap_or(ceiling_ms);
    tokio::time::sleep(Duration::from_millis(jitter.max(1))).await;
}

/// Sends an `UpdateItem` (admission's conditional reservations, the request count), again
/// while it conflicts with a settlement transaction on its item, up to [`ATTEMPTS`] times.
pub(super) async fn update(
    u: UpdateItemFluentBuilder,
) -> Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>> {
    let mut attempt = 0;
    loop {
        let r = u.clone().send().await;
        match &r {
            Err(e) if is_conflict(e) && attempt + 1 < ATTEMPTS => {
                pause(attempt).await;
                attempt += 1;
            }
            _ => return r,
        }
    }
}
