//! The call pipeline: every model call the functions make goes through the same three stages.
//!
//! - **admit** ([`admit`]): the requested name (or `model: "auto"`) resolved, the allowlist,
//!   the `maxTokens` policy, the guardrail plan, the local filter on the input, the response
//!   cache lookup, and the caller's key (allowed models, rate limits, budget reservation).
//! - **attempt** ([`attempt`]): one candidate loop for all four call kinds (Converse,
//!   ConverseStream, InvokeModel, InvokeModelWithResponseStream): the requested model, then the
//!   deployment's fallbacks, each admitted, sent with the deadline's timeout, failures recorded.
//! - **record** ([`record`]): one [`CallRecord`](record::CallRecord) per answered call (usage,
//!   cost, latency, fallback, guardrail, cache) writes its metrics record, and the caller's key
//!   is settled through it. Failed attempts are recorded by the attempt stage
//!   (`record_failure`); ApplyGuardrail, CountTokens and a blocked input write their own record.
//!
//! [`converse`], [`native`] and [`stream`] compose these stages for each call kind; [`Gateway`]
//! holds what the stages share (configuration, catalog, SDK client, policy, filter, cache, auth).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::catalog::Catalog;
use crate::catalog_store::CatalogStore;
use crate::client::BedrockClient;
use crate::config::Config;
use crate::context::CallContext;
use crate::control::ControlPlane;
use crate::error::GatewayError;
use crate::filter::Filter;
use crate::policy::Policy;
use crate::telemetry::CallMetrics;

pub(crate) mod admit;
pub(crate) mod attempt;
mod cache;
mod converse;
mod count;
mod guardrail;
mod native;
pub(crate) mod record;
mod requested;
pub(crate) mod stream;
mod token_headers;

pub use count::CountInput;
pub use native::NativeReply;
pub use requested::{CallBody, Known, Requested};
pub use stream::{CHUNK_EVENT, ConverseStreamCall, InvokeStreamCall};

/// Everything the functions call. Cheap to clone (shared state behind `Arc`s).
#[derive(Debug, Clone)]
pub struct Gateway {
    config: Arc<Config>,
    catalog: Arc<CatalogStore>,
    client: BedrockClient,
    /// Bedrock's control plane (`None` in tests that build the gateway without it).
    control: Option<ControlPlane>,
    policy: Policy,
    /// The local content filter (`None` when the policy changes nothing).
    filter: Option<Filter>,
    /// The response cache (`None`: off; see `cache`).
    cache: Option<Arc<crate::cache::ResponseCache>>,
    /// API keys, budgets and rate limits (`GATEWAY_AUTH`; none by default).
    auth: crate::auth::Auth,
    /// Catalog lookups of a call's model so far ([`Gateway::resolutions`]).
    resolutions: Arc<AtomicU64>,
}

impl Gateway {
    /// Assembles a gateway from parts built at cold start.
    pub fn new(config: Config, catalog: Catalog, client: BedrockClient) -> Gateway {
        let policy = Policy::from_config(&config);
        let filter =
            (!config.content_policy.is_inactive()).then(|| Filter::new(&config.content_policy));
        Gateway {
            config: Arc::new(config),
            catalog: Arc::new(CatalogStore::new(catalog)),
            client,
            control: None,
            policy,
            filter,
            auth: crate::auth::Auth::none(),
            cache: None,
            resolutions: Arc::default(),
        }
    }

    /// Adds the response cache (`gateway_stores::cache::from_sdk_config` in `main`; see `cache`).
    pub fn with_cache(mut self, cache: crate::cache::ResponseCache) -> Gateway {
        self.cache = Some(Arc::new(cache));
        self
    }

    /// The response cache, when the deployment has one.
    pub fn response_cache(&self) -> Option<&Arc<crate::cache::ResponseCache>> {
        self.cache.as_ref()
    }

    /// Adds API-key authentication and metering (`GATEWAY_AUTH=api_key`; see `auth`).
    pub fn with_auth(mut self, auth: crate::auth::Auth) -> Gateway {
        self.auth = auth;
        self
    }

    /// The deployment's authentication, for the HTTP layer (`auth::authenticate`).
    pub fn auth(&self) -> &crate::auth::Auth {
        &self.auth
    }

    /// How many times this gateway (and its clones) looked a call's model up in the catalog:
    /// the tests' check that a call resolves its model once, whichever route it came by. The
    /// router's scoring of `model: "auto"` candidates (`routing::route`) is not counted.
    pub fn resolutions(&self) -> u64 {
        self.resolutions.load(Ordering::Relaxed)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The catalog now (a snapshot; see `catalog_store`).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.get()
    }

    /// The replaceable catalog (the live catalog's refresh writes it).
    pub fn catalog_store(&self) -> &Arc<CatalogStore> {
        &self.catalog
    }

    /// Adds Bedrock's control plane: application inference profiles become callable.
    pub fn with_control_plane(mut self, control: ControlPlane) -> Gateway {
        self.control = Some(control);
        self
    }

    /// The control plane, when the deployment has one.
    pub fn control_plane(&self) -> Option<&ControlPlane> {
        self.control.as_ref()
    }

    /// Learns the model behind `name` when it is an application inference profile's ARN the
    /// catalog does not know yet (GetInferenceProfile, once per profile and warm function), so
    /// that resolution can price and police it. Other names: nothing to do.
    pub async fn learn_model(&self, name: &str) -> Result<(), GatewayError> {
        let crate::ids::ModelRef::ApplicationProfileArn(arn) = crate::ids::ModelRef::parse(name)
        else {
            return Ok(());
        };
        if self.catalog().application_profile(&arn).is_some() {
            return Ok(());
        }
        let Some(control) = &self.control else {
            return Ok(());
        };
        if let Some(profile) = control.application_profile(&arn).await? {
            self.catalog.update(|c| c.with_application_profile(profile));
        }
        Ok(())
    }

    /// The SDK client wrapper.
    pub fn client(&self) -> &BedrockClient {
        &self.client
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The local content filter (`None` when the deployment's policy changes nothing).
    pub fn content_filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// A metrics record for one operation of the request.
    pub(crate) fn metrics(&self, ctx: &CallContext, operation: &str, model: &str) -> CallMetrics {
        CallMetrics {
            model: model.to_owned(),
            function: ctx.function.to_owned(),
            operation: operation.to_owned(),
            request_id: ctx.request_id.clone(),
            ..CallMetrics::default()
        }
    }
}
