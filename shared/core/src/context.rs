//! Per-call context handed from a function to the [`Gateway`](crate::Gateway).

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
    /// The authenticated API key (`GATEWAY_AUTH=api_key`): its allowed models, budgets and
    /// rate limits apply to the call (`auth`). `None`: no per-key limits.
    pub caller: Option<std::sync::Arc<crate::auth::Caller>>,
    /// What the request asked of the response cache (`x-gateway-cache`; see `cache`).
    pub cache: crate::cache::CacheDirective,
}

impl CallContext {
    /// A context with a fresh request ID and no deadline.
    pub fn new(function: &'static str) -> Self {
        CallContext {
            request_id: new_request_id(),
            deadline: None,
            function,
            caller: None,
            cache: crate::cache::CacheDirective::Default,
        }
    }

    /// Sets the request ID.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// The caller's key's default tier (`None` without a key, or when the key sets none).
    pub fn default_tier(&self) -> Option<crate::tier::Tier> {
        self.caller
            .as_ref()
            .and_then(|c| c.record.limits.default_tier)
    }

    /// The application inference profile the caller's key is bound to, if any.
    pub fn bound_profile(&self) -> Option<&str> {
        self.caller
            .as_ref()
            .and_then(|c| c.record.limits.application_profile.as_deref())
    }

    /// Sets the authenticated caller.
    pub fn with_caller(mut self, caller: Option<std::sync::Arc<crate::auth::Caller>>) -> Self {
        self.caller = caller;
        self
    }

    /// Sets what the request asks of the response cache.
    pub fn with_cache(mut self, cache: crate::cache::CacheDirective) -> Self {
        self.cache = cache;
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

/// Smallest value read as an epoch-milliseconds deadline: 2020-01-01T00:00:00Z. Any real Lambda
/// deadline is later (it is a few minutes from now); local runtime emulators put other things in
/// `Lambda-Runtime-Deadline-Ms` (`cargo lambda watch` sends the timeout itself, e.g. `600000`),
/// and read as a date that is long past: every call would fail at once with "not enough time
/// left". The one guard for every function (stream-url had its own, with this cut-off).
const MIN_EPOCH_DEADLINE_MS: u64 = 1_577_836_800_000;

/// Converts an epoch-milliseconds deadline to an `Instant` (None for 0, or for a value too small
/// to be an epoch date: see [`MIN_EPOCH_DEADLINE_MS`]).
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms < MIN_EPOCH_DEADLINE_MS {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    let remaining = u128::from(deadline_ms).saturating_sub(now_ms);
    Some(Instant::now() + Duration::from_millis(u64::try_from(remaining).unwrap_or(u64::MAX / 2)))
}

/// A random request ID for calls that have no Lambda request ID (local runs, tests).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_that_are_not_epoch_dates_are_unknown() {
        assert!(deadline_from_epoch_ms(0).is_none());
        // cargo lambda watch: the timeout in milliseconds, not a date.
        assert!(deadline_from_epoch_ms(600_000).is_none());
        let in_a_minute = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 60_000;
        let d = deadline_from_epoch_ms(in_a_minute).unwrap();
        assert!(d > Instant::now() + Duration::from_secs(50));
    }
}
