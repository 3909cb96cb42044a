//! What an administrator may set as a key's limits (`gateway-stores`' key administration
//! checks them before any write).

use std::fmt;

use super::{Limits, MAX_STREAMS_LIMIT};
use crate::error::GatewayError;

fn check_limit<T: PartialOrd + Default + fmt::Display>(
    name: &str,
    v: Option<T>,
) -> Result<(), GatewayError> {
    match v {
        Some(v) if v <= T::default() => Err(GatewayError::invalid_request(format!(
            "limits.{name}: must be positive, got {v} (remove a limit instead of setting it to 0)"
        ))),
        _ => Ok(()),
    }
}

impl Limits {
    /// Refuses zero or negative limits.
    pub fn check(&self) -> Result<(), GatewayError> {
        check_limit("budget_day_usd", self.budget_day_usd)?;
        check_limit("budget_month_usd", self.budget_month_usd)?;
        check_limit("requests_per_minute", self.requests_per_minute)?;
        check_limit("tokens_per_minute", self.tokens_per_minute)?;
        check_limit("max_concurrent_streams", self.max_concurrent_streams)?;
        if let Some(n) = self.max_concurrent_streams
            && n > MAX_STREAMS_LIMIT
        {
            return Err(GatewayError::invalid_request(format!(
                "limits.max_concurrent_streams: at most {MAX_STREAMS_LIMIT}, got {n}"
            )));
        }
        if let Some(arn) = &self.application_profile
            && !matches!(
                crate::ids::ModelRef::parse(arn),
                crate::ids::ModelRef::ApplicationProfileArn(_)
            )
        {
            return Err(GatewayError::invalid_request(
                "limits.application_profile: expected an application inference profile's ARN \
                 (arn:aws:bedrock:REGION:ACCOUNT:application-inference-profile/ID)",
            ));
        }
        Ok(())
    }
}
