//! Per-call context handed from a function to the [`Gateway`](crate::client::Gateway).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Who is calling and by when the answer must be ready.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The Lambda request ID (or a generated one locally): logged, returned, put in metrics.
    pub request_id: String,
    /// When the Lambda invocation ends; calls are cut short before it (minus a safety margin).
    pub deadline: Option<Instant>,
    /// The calling function (`invoke`, `stream-url`, `count`, `async-callback`): the `Function`
    /// metric dimension.
    pub function: &'static str,
}

impl CallContext {
    /// A context with a fresh request ID and no deadline.
    pub fn new(function: &'static str) -> Self {
        CallContext { request_id: new_request_id(), deadline: None, function }
    }

    /// Sets the request ID.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the deadline from Lambda's `deadline` (milliseconds since the Unix epoch, as in
    /// `lambda_runtime::Context::deadline`). Zero means unknown.
    pub fn with_deadline_epoch_ms(self, deadline_ms: u64) -> Self {
        let deadline = deadline_from_epoch_ms(deadline_ms);
        self.with_deadline(deadline)
    }
}

/// Converts an epoch-milliseconds deadline to an `Instant` (None for 0).
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis();
    let remaining = u128::from(deadline_ms).saturating_sub(now_ms);
    Some(Instant::now() + Duration::from_millis(u64::try_from(remaining).unwrap_or(u64::MAX / 2)))
}

/// A random request ID for calls that have no Lambda request ID (local runs, tests).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
