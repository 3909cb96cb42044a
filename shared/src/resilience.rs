//! Retries, deadlines and fallback.
//!
//! A Lambda invocation has a hard end; an SDK retry that outlives it is wasted money and a
//! confusing error. Every call therefore gets an operation timeout of (remaining time - safety
//! margin), so the SDK's retries stop in time and the caller gets a 504 instead of a killed
//! function. Fallback moves to the next model or profile only for failures that say "not now"
//! (throttling, quota, model not ready, service unavailable), never for bad requests.

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use serde::Serialize;

use crate::config::{Config, RetryMode};
use crate::error::{ErrorKind, GatewayError};

/// The SDK retry configuration for a deployment.
pub fn retry_config(config: &Config) -> RetryConfig {
    let base = match config.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    };
    base.with_max_attempts(config.max_attempts)
}

/// The client-wide timeouts (connect); the per-call operation timeout comes from the deadline.
pub fn timeout_config(config: &Config) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(config.connect_timeout)
        .build()
}

/// The operation timeout for a call that must finish by `deadline` minus `margin`.
/// `Ok(None)` when there is no deadline; 504 when no time is left.
pub fn operation_timeout(
    deadline: Option<Instant>,
    margin: Duration,
    now: Instant,
) -> Result<Option<Duration>, GatewayError> {
    let Some(deadline) = deadline else {
        return Ok(None);
    };
    match deadline
        .checked_duration_since(now)
        .and_then(|left| left.checked_sub(margin))
    {
        Some(left) if left >= Duration::from_millis(50) => Ok(Some(left)),
        _ => Err(GatewayError::timeout(
            "not enough time left before the function's deadline to call Bedrock",
        )),
    }
}

/// Whether a failure should move on to the next fallback model.
pub fn should_fall_back(error: &GatewayError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Throttled
            | ErrorKind::QuotaExceeded
            | ErrorKind::ModelNotReady
            | ErrorKind::ServiceUnavailable
    )
}

/// One abandoned attempt, reported to the caller as `fallback: [{model, error}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FallbackStep {
    /// The ID that was called (or the name that could not be used).
    pub model: String,
    /// The gateway error type that made us move on.
    pub error: String,
    /// The Bedrock error behind it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

impl FallbackStep {
    /// Records why `model` was abandoned.
    pub fn new(model: impl Into<String>, error: &GatewayError) -> Self {
        FallbackStep {
            model: model.into(),
            error: error.error_type().to_owned(),
            upstream: error.upstream().map(|u| u.error.clone()),
        }
    }
}

/// The names to try, in order: the requested model, then `GATEWAY_FALLBACK_MODELS` (without
/// repeating the requested one).
pub fn candidates(requested: &str, config: &Config) -> Vec<String> {
    let mut out = vec![requested.to_owned()];
    for f in &config.fallback_models {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(f)) {
            out.push(f.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| map.get(k).cloned()).unwrap()
    }

    #[test]
    fn deadline_becomes_an_operation_timeout() {
        let now = Instant::now();
        let margin = Duration::from_millis(500);
        assert_eq!(operation_timeout(None, margin, now).unwrap(), None);
        let t = operation_timeout(Some(now + Duration::from_secs(10)), margin, now)
            .unwrap()
            .unwrap();
        assert_eq!(t, Duration::from_millis(9500));
        let e = operation_timeout(Some(now + Duration::from_millis(400)), margin, now).unwrap_err();
        assert_eq!(e.status(), 504);
        assert!(operation_timeout(Some(now), margin, now + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn retry_settings() {
        let c = config(&[
            ("GATEWAY_RETRY_MODE", "adaptive"),
            ("GATEWAY_MAX_ATTEMPTS", "5"),
        ]);
        let r = retry_config(&c);
        assert_eq!(r.max_attempts(), 5);
        assert_eq!(r.mode(), aws_config::retry::RetryMode::Adaptive);
    }

    #[test]
    fn fallback_rules() {
        assert!(should_fall_back(&GatewayError::new(
            ErrorKind::Throttled,
            "x"
        )));
        assert!(should_fall_back(&GatewayError::new(
            ErrorKind::ModelNotReady,
            "x"
        )));
        assert!(!should_fall_back(&GatewayError::invalid_request("x")));
        assert!(!should_fall_back(&GatewayError::timeout("x")));
        let c = config(&[("GATEWAY_FALLBACK_MODELS", "haiku, sonnet")]);
        assert_eq!(candidates("sonnet", &c), vec!["sonnet", "haiku"]);
        let step = FallbackStep::new("us.x", &GatewayError::new(ErrorKind::Throttled, "x"));
        assert_eq!(
            serde_json::to_value(&step).unwrap(),
            serde_json::json!({"model": "us.x", "error": "throttled"})
        );
    }
}
