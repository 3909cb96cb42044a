//! Mapping from `aws-sdk-bedrockruntime` errors to [`GatewayError`](super::GatewayError).
//! (Filled in below; see `from_sdk_error`.)

/// Placeholder until the mapping lands.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamErrorCode;

/// Placeholder until the mapping lands.
pub fn from_sdk_error() {}
