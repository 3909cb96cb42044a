//! `inference-core`: everything the gateway's Lambda functions share.
//!
//! - [`auth`]: API keys, per-key budgets and rate limits (`GATEWAY_AUTH`).
//! - [`client`]: the Bedrock SDK client and the [`Gateway`] facade the functions call.
//! - [`config`]: typed settings from the environment, parsed once per cold start.
//! - [`catalog`]: the model catalog (capabilities, limits, profiles, prices) as data.
//! - [`ids`]: model IDs, profile IDs, regions and geographies as types.
//! - [`resolve`]: caller's model name + region -> the ID Bedrock accepts.
//! - [`policy`]: allowlist and `maxTokens` limits.
//! - [`convert`]: Converse JSON <-> SDK types (requests, responses, stream events).
//! - [`cost`]: usage -> USD by component, exact decimals.
//! - [`error`]: the one error type and its HTTP mapping (including every Bedrock SDK error).
//! - [`resilience`]: SDK retries, deadline-derived timeouts, fallback.
//! - [`native`]: InvokeModel bodies per family (max-tokens field, usage).
//! - [`telemetry`]: JSON logs and CloudWatch EMF metrics.
//! - [`models_view`]: the catalog as a deployment exposes it.
//! - [`routing`]: `model: "auto"`: the cheapest allowed model that fits the request.
//! - [`services`]: the composition root: SDK configuration loaded once, every client from it.
//! - [`cache`]: the response cache (in-memory LRU; DynamoDB tier with feature `cache`).
//! - `jobs` (feature `jobs`): async jobs: records, queue, results, webhooks.
//! - `web` (feature `web`): the HTTP edge: call-context and JSON-body extractors, error
//!   responses, request IDs.

pub mod auth;
pub mod body;
pub mod cache;
pub mod catalog;
pub mod client;
pub mod config;
pub mod context;
pub mod convert;
pub mod cost;
#[cfg(any(feature = "jobs", feature = "keys", feature = "cache"))]
pub(crate) mod dynamo;
pub mod error;
pub mod estimate;
pub mod filter;
pub mod ids;
#[cfg(feature = "jobs")]
pub mod jobs;
pub mod models_view;
pub mod native;
pub mod policy;
pub mod resilience;
pub mod resolve;
pub mod routing;
pub mod services;
pub mod telemetry;
#[cfg(feature = "web")]
pub mod web;

pub use catalog::{Catalog, ModelEntry};
pub use client::InvokeStreamCall;
pub use client::{BedrockClient, ConverseStreamCall, Gateway, NativeReply};
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
