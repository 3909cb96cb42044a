//! `gateway-model`: what the gateway knows about models and requests, with no I/O of its own
//! (beside the SDK's request and error types it converts to and from).
//!
//! - [`ids`]: model IDs, profile IDs, regions and geographies as types.
//! - [`config`]: typed settings from the environment, parsed once per cold start.
//! - [`error`]: the one error type and its HTTP mapping (including every Bedrock SDK error).
//! - [`catalog`]: the model catalog (capabilities, limits, profiles, prices) as data.
//! - [`family`]: the model families as one closed enum.
//! - [`native`]: InvokeModel bodies per family (max-tokens field, usage).
//! - [`resolve`]: caller's model name + region -> the ID Bedrock accepts.
//! - [`policy`]: allowlist and `maxTokens` limits.
//! - [`prompt_cache`]: the cache points a deployment places itself on long prefixes.
//! - [`cost`]: usage -> USD by component, exact decimals.
//! - [`estimate`]: the local token estimate.
//! - [`convert`]: Converse JSON <-> SDK types (requests, responses, stream events).
//! - [`call`]: the typed values a call carries between the pipeline's stages.
//! - [`filter`]: the local PII filter; [`guard`]: it over every body shape and stream, and
//!   guardrail reports.
//! - [`routing`]: `model: "auto"`: the cheapest allowed model that fits the request.
//! - [`resilience`]: SDK retries, deadline-derived timeouts, fallback candidates.
//! - [`sdk_http`]: the HTTPS client (rustls with `ring`) every SDK configuration uses.
//! - [`telemetry`]: JSON logs and CloudWatch EMF metrics.
//! - [`live_catalog`]: the shipped catalog merged with the control plane's model list.
//! - [`models_view`]: the catalog as a deployment exposes it.
//! - [`body`]: the request-body rules every JSON route applies.
//! - [`clock`]: the wall clock as Unix seconds and milliseconds.
//!
//! The call pipeline, the stores, jobs and the HTTP edge are `inference-core`, which depends on
//! this crate (never the other way).

pub mod batch_offer;
pub mod body;
pub mod call;
pub mod catalog;
pub mod catalog_origin;
pub mod catalog_tiers;
pub mod clock;
pub mod config;
pub mod convert;
pub mod cost;
pub mod error;
pub mod estimate;
pub mod family;
pub mod filter;
pub mod guard;
pub mod ids;
pub mod json_path;
pub mod live_catalog;
pub mod models_view;
pub mod native;
pub mod policy;
pub mod prompt_cache;
pub mod resilience;
pub mod resolve;
pub mod routing;
pub mod sdk_http;
pub mod sources;
pub mod telemetry;
pub mod text_walk;
pub mod tier;

pub use call::{CallMeta, Reply};
pub use catalog::{Catalog, ModelEntry};
pub use config::{Config, ConfigError};
pub use error::{ErrorBody, GatewayError};
pub use guard::GUARDRAIL_EVENT;

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
