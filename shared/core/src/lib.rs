//! `inference-core`: the call pipeline and everything around it that the gateway's Lambda
//! functions share. Model knowledge (catalog, resolution, policy, cost, conversion, the local
//! filter) is the `gateway-model` crate below it, re-exported here under the same paths.
//!
//! - [`pipeline`]: the [`Gateway`] the functions call: every model call as admit -> attempt ->
//!   record stages.
//! - [`client`]: the Bedrock SDK client; [`control`]: the control-plane client (profiles).
//! - [`catalog_store`]: the catalog a warm function uses, replaceable while it serves.
//! - [`context`]: one request's call context.
//! - [`auth`]: API keys, per-key budgets and rate limits (`GATEWAY_AUTH`), over store traits.
//! - [`cache`]: the response cache (in-memory LRU; a shared tier behind a trait).
//! - [`serve`]: the runtime every function's `main` runs.
//!
//! The DynamoDB stores behind the traits, and the composition root (`Services::load`), are the
//! `gateway-stores` crate above this one.
//! - `web` (feature `web`): the HTTP edge: call-context and JSON-body extractors, error
//!   responses, request IDs.

pub use gateway_model::{
    batch_offer, body, call, catalog, clock, config, convert, cost, error, estimate, family,
    filter, guard, ids, json_path, live_catalog, models_view, native, policy, prompt_cache,
    resilience, resolve, routing, sdk_http, sources, telemetry, tier,
};

pub mod auth;
pub mod cache;
pub mod catalog_store;
pub mod client;
pub mod context;
pub mod control;
#[cfg(feature = "web")]
pub mod loopback;
pub mod pipeline;
pub mod serve;
pub mod tls_roots;
#[cfg(feature = "web")]
pub mod web;

pub use client::BedrockClient;
pub use context::CallContext;
pub use gateway_model::{
    CallMeta, Catalog, Config, ConfigError, ErrorBody, GUARDRAIL_EVENT, GatewayError, ModelEntry,
    Reply,
};
pub use pipeline::{
    CHUNK_EVENT, CallBody, ConverseStreamCall, CountInput, Gateway, InvokeStreamCall, Known,
    NativeReply, Requested,
};

#[cfg(test)]
mod test_util {
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
