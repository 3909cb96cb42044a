//! `inference-core`: everything the gateway's Lambda functions share.
//!
//! - [`auth`]: API keys, per-key budgets and rate limits (`GATEWAY_AUTH`).
//! - [`pipeline`]: the [`Gateway`] the functions call: every model call as admit -> attempt ->
//!   record stages.
//! - [`call`]: the typed values a call carries between stages ([`call::CallMeta`], replies).
//! - [`client`]: the Bedrock SDK client.
//! - [`guard`]: the local content filter on every body shape and stream; guardrail reports.
//! - [`config`]: typed settings from the environment, parsed once per cold start.
//! - [`catalog`]: the model catalog (capabilities, limits, profiles, prices) as data.
//! - [`ids`]: model IDs, profile IDs, regions and geographies as types.
//! - [`resolve`]: caller's model name + region -> the ID Bedrock accepts.
//! - [`policy`]: allowlist and `maxTokens` limits.
//! - [`convert`]: Converse JSON <-> SDK types (requests, responses, stream events).
//! - [`cost`]: usage -> USD by component, exact decimals.
//! - [`error`]: the one error type and its HTTP mapping (including every Bedrock SDK error).
//! - [`resilience`]: SDK retries, deadline-derived timeouts, fallback.
//! - [`family`]: the model families as one closed enum.
//! - [`native`]: InvokeModel bodies per family (max-tokens field, usage).
//! - [`telemetry`]: JSON logs and CloudWatch EMF metrics.
//! - [`models_view`]: the catalog as a deployment exposes it.
//! - [`routing`]: `model: "auto"`: the cheapest allowed model that fits the request.
//! - [`cache`]: the response cache (in-memory LRU; DynamoDB tier with feature `cache`).
//! - `jobs` (feature `jobs`): async jobs: records, queue, results, webhooks.
//! - `web` (feature `web`): axum/lambda_http glue: error responses, request IDs, deadlines.

pub mod auth;
pub mod body;
pub mod cache;
pub mod call;
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
pub mod family;
pub mod filter;
pub mod guard;
pub mod ids;
#[cfg(feature = "jobs")]
pub mod jobs;
pub mod models_view;
pub mod native;
pub mod pipeline;
pub mod policy;
pub mod resilience;
pub mod resolve;
pub mod routing;
pub mod telemetry;
#[cfg(feature = "web")]
pub mod web;

pub use call::{CallMeta, Reply};
pub use catalog::{Catalog, ModelEntry};
pub use client::BedrockClient;
pub use config::{Config, ConfigError};
pub use context::CallContext;
pub use error::{ErrorBody, GatewayError};
pub use guard::GUARDRAIL_EVENT;
pub use pipeline::{
    CHUNK_EVENT, ConverseStreamCall, CountInput, Gateway, InvokeStreamCall, NativeReply,
};

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

    /// A configuration from `(variable, value)` pairs instead of the environment.
    pub(crate) fn config_from(
        vars: &[(&str, &str)],
    ) -> Result<crate::config::Config, crate::config::ConfigError> {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::config::Config::from_lookup(move |k| map.get(k).cloned())
    }

    /// A gateway over `config` whose SDK client points nowhere (for code that never sends).
    pub(crate) fn offline_gateway(config: crate::config::Config) -> crate::Gateway {
        let catalog = crate::catalog::Catalog::load(&config).expect("catalog");
        let sdk = aws_sdk_bedrockruntime::Client::from_conf(
            aws_sdk_bedrockruntime::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_sdk_bedrockruntime::config::Region::new("us-east-1"))
                .build(),
        );
        crate::Gateway::new(config, catalog, crate::BedrockClient::from_sdk(sdk))
    }
}
