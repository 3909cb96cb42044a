//! `inference-core`: everything the gateway's Lambda functions share.
//!
//! - [`config`]: typed settings from the environment, parsed once per cold start.
//! - [`catalog`]: the model catalog (capabilities, limits, profiles, prices) as data.
//! - [`ids`]: model IDs, profile IDs, regions and geographies as types.
//! - [`resolve`]: caller's model name + region -> the ID Bedrock accepts.
//! - [`policy`]: allowlist and `maxTokens` limits.
//! - [`cost`]: usage -> USD by component, exact decimals.
//! - [`error`]: the one error type and its HTTP mapping (including every Bedrock SDK error).
//! - [`telemetry`]: JSON logs and CloudWatch EMF metrics.
//! - [`models_view`]: the catalog as a deployment exposes it.
//! - `web` (feature `web`): axum/lambda_http glue: error responses, request IDs, deadlines.

pub mod body;
pub mod catalog;
pub mod config;
pub mod context;
pub mod cost;
pub mod error;
pub mod ids;
pub mod models_view;
pub mod policy;
pub mod resolve;
pub mod telemetry;
#[cfg(feature = "web")]
pub mod web;

pub use catalog::{Catalog, ModelEntry};
pub use config::{Config, ConfigError};
pub use context::CallContext;
pub use error::{ErrorBody, GatewayError};

#[cfg(test)]
mod test_util {
    /// `dec!("1.25")` without the proc-macro feature: exact parse of a literal.
    macro_rules! dec {
        ($lit:literal) => {
            <rust_decimal::Decimal as std::str::FromStr>::from_str(stringify!($lit))
                .expect("decimal literal")
        };
    }
    pub(crate) use dec;
}
