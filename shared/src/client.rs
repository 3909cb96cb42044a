//! The Bedrock client wrapper and the [`Gateway`] facade the functions call.
//!
//! The SDK client is built once per cold start from the standard AWS configuration chain, so
//! `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` and dummy credentials point it at `bedrock-local` with no
//! "am I local" code path. The facade applies, in order: resolution, allowlist, `maxTokens`
//! policy, the deployment guardrail, the deadline, fallback; then prices the usage, logs and
//! writes one EMF record per call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ConverseStreamOutput, ConverseTokensRequest, CountTokensInput, GuardrailContentBlock,
    GuardrailContentQualifier, GuardrailContentSource, GuardrailTextBlock,
    InvokeModelTokensRequest, StopReason,
};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::catalog::{Capability, Catalog, Mode};
use crate::config::Config;
use crate::context::CallContext;
use crate::convert::request::GuardrailSpec;
use crate::convert::response::guardrail_assessment_to_json;
use crate::convert::{
    ConverseParts, converse_output_to_json, stream_event_to_json, usage_from_sdk,
};
use crate::cost::{Cost, Usage, cost_of};
use crate::error::{GatewayError, from_sdk_error};
use crate::filter::{EntityKind, Filter};
use crate::native;
use crate::policy::{MaxTokens, Policy};
use crate::resilience::{
    FallbackStep, candidates, operation_timeout, retry_config, should_fall_back, timeout_config,
};
use crate::resolve::{Resolved, resolve};
use crate::telemetry::{CallMetrics, log_content};

mod cache_stream;
mod count;
mod guard;
mod invoke_stream;
mod token_headers;
pub use count::CountInput;
pub use guard::{
    GUARDRAIL_EVENT, GuardrailReport, Intervention, Source as GuardrailSource,
    Stage as GuardrailStage, acting_policies, blocked_output_message,
};
pub use invoke_stream::{CHUNK_EVENT, InvokeStreamCall};

use guard::{Screen, StreamGuard, StreamShape, Visit};
use token_headers::TokenHeaders;

/// The Bedrock Runtime SDK client, configured from [`Config`].
#[derive(Debug, Clone)]
pub struct BedrockClient {
    client: Client,
}

impl BedrockClient {
    /// Loads the standard AWS configuration (region, credentials, endpoint overrides) and applies
    /// the gateway's retry and connect-timeout settings. Async because credential and region
    /// providers are; call once per cold start.
    pub async fn new(config: &Config) -> BedrockClient {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(config.region.as_str().to_owned()))
            .retry_config(retry_config(config))
            .timeout_config(timeout_config(config))
            .load()
            .await;
        BedrockClient {
            client: Client::new(&shared),
        }
    }

    /// From an SDK configuration loaded once per cold start (`services::Services::load`): the
    /// same client as [`BedrockClient::new`] (the deployment's region, the gateway's retry and
    /// timeout settings) without loading the configuration chain again.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> BedrockClient {
        let shared = sdk
            .to_builder()
            .region(aws_config::Region::new(config.region.as_str().to_owned()))
            .retry_config(retry_config(config))
            .timeout_config(timeout_config(config))
            .build();
        BedrockClient {
            client: Client::new(&shared),
        }
    }

    /// Wraps an already built SDK client (tests, custom setups).
    pub fn from_sdk(client: Client) -> BedrockClient {
        BedrockClient { client }
    }

    /// A client for a fixed endpoint (`bedrock-local` in tests) with dummy static credentials and
    /// the gateway's retry and timeout settings, so every test crate builds it the same way.
    #[cfg(feature = "test-util")]
    pub fn for_endpoint(config: &Config, endpoint_url: &str) -> BedrockClient {
        use aws_sdk_bedrockruntime::config::{Credentials, Region};
        let sdk = aws_sdk_bedrockruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.as_str().to_owned()))
            .endpoint_url(endpoint_url)
            .credentials_provider(Credentials::new("test", "test", None, None, "test-util"))
            .retry_config(retry_config(config))
            .timeout_config(timeout_config(config))
            .build();
        BedrockClient::from_sdk(Client::from_conf(sdk))
    }

    /// The SDK client.
    pub fn sdk(&self) -> &Client {
        &self.client
    }
}

/// A native InvokeModel answer.
#[derive(Debug, Clone)]
pub struct NativeReply {
    /// The model's JSON body, untouched.
    pub body: Bytes,
    /// Its content type.
    pub content_type: String,
    /// Token usage read from the body.
    pub usage: Usage,
    /// What it cost.
    pub cost: Cost,
    /// What was called.
    pub model: crate::resolve::ResolvedView,
    /// The `maxTokens` applied (None for embeddings).
    pub max_tokens: Option<MaxTokens>,
    /// Abandoned attempts.
    pub fallback: Vec<FallbackStep>,
    /// Guardrail interventions (Bedrock's, the local filter's); empty when none.
    pub guardrail: GuardrailReport,
}

/// Everything the functions call. Cheap to clone (shared state behind `Arc`s).
#[derive(Debug, Clone)]
pub struct Gateway {
    config: Arc<Config>,
    catalog: Arc<Catalog>,
    client: BedrockClient,
    policy: Policy,
    /// The local content filter (`None` when the policy changes nothing).
    filter: Option<Filter>,
    /// The response cache (`None`: off; see `cache`).
    cache: Option<Arc<crate::cache::ResponseCache>>,
    /// API keys, budgets and rate limits (`GATEWAY_AUTH`; none by default).
    auth: crate::auth::Auth,
}

/// A Converse request after resolution and policy, ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The resolved model.
    pub resolved: Resolved,
    /// The request parts (with maxTokens and guardrail applied).
    pub parts: ConverseParts,
    /// The `maxTokens` sent.
    pub max_tokens: MaxTokens,
}

impl Gateway {
    /// Assembles a gateway from parts built at cold start.
    pub fn new(config: Config, catalog: Catalog, client: BedrockClient) -> Gateway {
        let policy = Policy::from_config(&config);
        let filter =
            (!config.content_policy.is_inactive()).then(|| Filter::new(&config.content_policy));
        Gateway {
            config: Arc::new(config),
            catalog: Arc::new(catalog),
            client,
            policy,
            filter,
            auth: crate::auth::Auth::none(),
            cache: None,
        }
    }

    /// Adds the response cache (`ResponseCache::from_config` in `main`; see `cache`).
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

    /// Configuration, catalog and client from the environment (one call in `main`).
    pub async fn from_env() -> Result<Gateway, GatewayError> {
        let config = Config::from_env()?;
        let catalog = Catalog::load(&config)?;
        let client = BedrockClient::new(&config).await;
        Ok(Gateway::new(config, catalog, client))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
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

    /// Screens a Converse request body with the local content filter, in place: masked texts
    /// replace the originals; a blocked entity is a 400 `guardrail_blocked` naming its kind and
    /// field (and is counted). Returns the masking intervention, if any. Every Converse path
    /// calls it; async job submission can too, before storing a request.
    pub fn screen_converse_input(
        &self,
        body: &mut Value,
        ctx: &CallContext,
        operation: &str,
    ) -> Result<Option<Intervention>, GatewayError> {
        let model = self.metrics_model(body.get("model").and_then(Value::as_str));
        self.screen_input(ctx, operation, &model, body, guard::converse_input)
    }

    /// The bare model ID of `name` for metrics (the name itself when it does not resolve).
    fn metrics_model(&self, name: Option<&str>) -> String {
        let name = name
            .map(str::to_owned)
            .or_else(|| self.config.default_model.clone())
            .unwrap_or_default();
        resolve(&self.catalog, &self.config, &name)
            .map(|r| r.model.id.to_string())
            .unwrap_or(name)
    }

    fn screen_input(
        &self,
        ctx: &CallContext,
        operation: &str,
        model: &str,
        body: &mut Value,
        walk: impl FnOnce(&mut Value, &mut Visit),
    ) -> Result<Option<Intervention>, GatewayError> {
        let Some(filter) = &self.filter else {
            return Ok(None);
        };
        let mut screen = Screen::new(filter);
        walk(body, &mut |p, s| screen.text(p, s));
        let blocked: Option<EntityKind> = screen.blocked().map(|(k, _)| *k);
        screen.input_verdict().inspect_err(|e| {
            if let Some(kind) = blocked {
                let mut report = GuardrailReport::default();
                report.push(
                    Intervention::local(
                        GuardrailStage::Input,
                        "blocked",
                        &std::collections::BTreeSet::from([kind]),
                    ),
                    &ctx.request_id,
                );
                let mut m = self.metrics(ctx, operation, model);
                report.record(&mut m);
                m.error_type = Some(e.error_type().to_owned());
                m.emit(&self.config);
            }
        })
    }

    /// Screens a native body's texts (per the family of `first`, the resolved model: fallback
    /// stays within a family) with the local content filter, in place.
    fn screen_native_input(
        &self,
        first: Option<&Resolved>,
        body: &mut Value,
        ctx: &CallContext,
        operation: &str,
    ) -> Result<Option<Intervention>, GatewayError> {
        let Some(r) = first else {
            return Ok(None);
        };
        let (provider, family) = (r.model.provider.as_str(), r.model.family.as_str());
        self.screen_input(ctx, operation, r.model.id.as_str(), body, |v, f| {
            guard::native_input(provider, family, v, f)
        })
    }

    /// Which guardrail goes into the call's `guardrailConfig`, and which caller guardrail (if
    /// any) runs in addition through ApplyGuardrail. A caller's `guardrailConfig` is refused
    /// (400) unless `GATEWAY_ALLOW_CALLER_GUARDRAIL` is on or it names the deployment's own
    /// guardrail; the deployment's guardrail is never removed or replaced.
    fn guardrail_plan(
        &self,
        caller: Option<&GuardrailSpec>,
    ) -> Result<(Option<GuardrailSpec>, Option<GuardrailSpec>), GatewayError> {
        let deployment = self.config.guardrail.as_ref().map(|g| {
            let mut spec = GuardrailSpec::from_settings(g);
            spec.stream_processing_mode = caller.and_then(|c| c.stream_processing_mode.clone());
            spec
        });
        let Some(c) = caller else {
            return Ok((deployment, None));
        };
        let same = self
            .config
            .guardrail
            .as_ref()
            .is_some_and(|d| d.id == c.identifier && d.version == c.version);
        if same {
            return Ok((deployment, None));
        }
        if !self.config.allow_caller_guardrail {
            return Err(GatewayError::invalid_request(
                "guardrailConfig: this deployment does not accept caller guardrails \
                 (GATEWAY_ALLOW_CALLER_GUARDRAIL is off); remove guardrailConfig, the \
                 deployment's own guardrail and content policy apply to every call",
            ));
        }
        Ok(match deployment {
            // The caller's is the only one: Bedrock applies it natively.
            None => (Some(c.clone()), None),
            Some(d) => (Some(d), Some(c.clone())),
        })
    }

    /// Runs a caller guardrail with ApplyGuardrail over `texts`; `Some((outputs, assessments))`
    /// when it intervened.
    async fn apply_caller_guardrail(
        &self,
        spec: &GuardrailSpec,
        source: GuardrailContentSource,
        texts: &[String],
        ctx: &CallContext,
    ) -> Result<Option<(Vec<String>, Value)>, GatewayError> {
        if texts.iter().all(|t| t.is_empty()) {
            return Ok(None);
        }
        let blocks = texts
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| {
                GuardrailTextBlock::builder()
                    .text(t)
                    .build()
                    .map(GuardrailContentBlock::Text)
                    .map_err(|e| GatewayError::internal(format!("guardrail content: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let started = Instant::now();
        let out = self
            .send_apply_guardrail(
                &spec.identifier,
                &spec.version,
                source,
                blocks,
                started,
                ctx,
            )
            .await?;
        let intervened = out.action().as_str() == "GUARDRAIL_INTERVENED";
        let mut m = self.metrics(ctx, "ApplyGuardrail", "guardrail");
        m.latency = Some(started.elapsed());
        m.emit(&self.config);
        if !intervened {
            return Ok(None);
        }
        let outputs = out
            .outputs()
            .iter()
            .filter_map(|o| o.text().map(str::to_owned))
            .collect();
        let assessments = Value::Array(
            out.assessments()
                .iter()
                .map(guardrail_assessment_to_json)
                .collect(),
        );
        Ok(Some((outputs, assessments)))
    }

    /// The model a body names (`model`), or the deployment default.
    pub fn requested_model(&self, body: &Value) -> Result<String, GatewayError> {
        match body.get("model") {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Some(Value::String(_)) | None => self.config.default_model.clone().ok_or_else(|| {
                GatewayError::invalid_request(
                    "model: required (this deployment has no GATEWAY_DEFAULT_MODEL)",
                )
            }),
            Some(other) => Err(GatewayError::invalid_request(format!(
                "model: expected a string, got {}",
                crate::convert::kind(other)
            ))),
        }
    }

    /// Resolves `name` and checks the allowlist and that the model can do `capability`.
    pub fn resolve_allowed(
        &self,
        name: &str,
        capability: Capability,
    ) -> Result<Resolved, GatewayError> {
        let resolved = resolve(&self.catalog, &self.config, name)?;
        self.policy
            .check_allowed(&resolved.model, Some(&resolved.target))?;
        if !resolved.model.supports(capability) {
            return Err(GatewayError::invalid_request(format!(
                "model {} does not support {}",
                resolved.model.id,
                match capability {
                    Capability::Converse => "Converse (use /v1/invoke for embedding models)",
                    Capability::Streaming => "streaming",
                    Capability::CountTokens => "CountTokens (use an estimate instead)",
                    _ => capability.as_str(),
                }
            )));
        }
        Ok(resolved)
    }

    /// [`Gateway::prepare`], then the caller's admission (API key: allowed models, budgets,
    /// tokens per minute) for that model: what every Converse candidate must pass.
    async fn prepare_admitted(
        &self,
        name: &str,
        parts: &ConverseParts,
        capability: Capability,
        body: &Value,
        ctx: &CallContext,
    ) -> Result<Prepared, GatewayError> {
        let prepared = self.prepare(name, parts, capability)?;
        self.admit_call(
            ctx,
            &prepared.resolved,
            crate::auth::Body::Converse(body),
            Some(prepared.max_tokens.value),
        )
        .await?;
        Ok(prepared)
    }

    /// Resolution, policy and guardrail for one candidate model of a Converse body.
    pub fn prepare(
        &self,
        name: &str,
        parts: &ConverseParts,
        capability: Capability,
    ) -> Result<Prepared, GatewayError> {
        let resolved = self.resolve_allowed(name, capability)?;
        let max_tokens = self
            .policy
            .max_tokens(&resolved.model, parts.max_tokens())?;
        let mut parts = parts.clone();
        parts.set_max_tokens(max_tokens.value);
        // The deployment's guardrail is always the call's; a caller's runs beside it (or is
        // refused): see `guardrail_plan`.
        parts.guardrail = self.guardrail_plan(parts.guardrail.as_ref())?.0;
        Ok(Prepared {
            resolved,
            parts,
            max_tokens,
        })
    }

    fn timeout_override(
        &self,
        ctx: &CallContext,
    ) -> Result<Option<aws_sdk_bedrockruntime::config::Builder>, GatewayError> {
        let t = operation_timeout(ctx.deadline, self.config.deadline_margin, Instant::now())?;
        Ok(t.map(|d| {
            aws_sdk_bedrockruntime::config::Builder::default().timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(self.config.connect_timeout)
                    .operation_timeout(d)
                    .build(),
            )
        }))
    }

    pub(crate) fn metrics(&self, ctx: &CallContext, operation: &str, model: &str) -> CallMetrics {
        CallMetrics {
            model: model.to_owned(),
            function: ctx.function.to_owned(),
            operation: operation.to_owned(),
            request_id: ctx.request_id.clone(),
            ..CallMetrics::default()
        }
    }

    fn record_failure(
        &self,
        ctx: &CallContext,
        operation: &str,
        model: &str,
        started: Instant,
        e: &GatewayError,
        fallbacks: usize,
    ) {
        let mut m = self.metrics(ctx, operation, model);
        m.latency = Some(started.elapsed());
        m.errors = 1;
        m.throttles = u64::from(matches!(e.error_type(), "throttled" | "quota_exceeded"));
        m.fallbacks = fallbacks as u64;
        m.error_type = Some(e.error_type().to_owned());
        m.emit(&self.config);
        tracing::warn!(request_id = %ctx.request_id, operation, model, error_type = e.error_type(), status = e.status().as_u16(), error = %e, "bedrock call failed");
    }

    /// Converse: the body in Bedrock's JSON (plus `model`), the answer in Bedrock's JSON plus
    /// `model`, `resolved`, `max_tokens`, `cost`, `request_id`, `fallback` (when used) and
    /// `guardrail` (when a guardrail intervened). The local content filter screens the request
    /// first and the answer last; a caller guardrail (where allowed) runs on both sides.
    pub async fn converse(&self, body: Value, ctx: &CallContext) -> Result<Value, GatewayError> {
        let result = self.converse_call(body, ctx).await;
        // A caller's key is settled from what the answer reports (`auth`).
        let actual = result
            .as_ref()
            .ok()
            .and_then(crate::auth::Actual::from_response);
        self.settle_call(ctx, actual).await;
        result
    }

    /// [`Gateway::converse`] before per-key settlement.
    async fn converse_call(&self, body: Value, ctx: &CallContext) -> Result<Value, GatewayError> {
        let mut body = body;
        let requested = self.requested_model(&body)?;
        let (requested, routing) = self.route_auto(&mut body, requested, ctx, false)?;
        let mut report = GuardrailReport::default();
        if let Some(i) = self.screen_converse_input(&mut body, ctx, "Converse")? {
            report.push(i, &ctx.request_id);
        }
        let parts = ConverseParts::from_json(&body, &["model"])?;
        let (_, caller) = self.guardrail_plan(parts.guardrail.as_ref())?;
        log_content(&self.config, "prompt", &body);
        let started = Instant::now();
        let kind = crate::cache::AnswerKind::Converse;
        let mut cache = self
            .cache_probe(kind, &requested, &parts, caller.as_ref(), ctx)
            .await?;
        if let Some(mut v) = self.cache_hit_response(&cache, ctx, started) {
            crate::routing::annotate(&mut v, routing.as_ref());
            return Ok(v);
        }
        if let Some(spec) = &caller {
            let mut texts = Vec::new();
            guard::converse_input(&mut body, &mut |_, s| texts.push(s.clone()));
            let checked = self
                .apply_caller_guardrail(spec, GuardrailContentSource::Input, &texts, ctx)
                .await?;
            if let Some((outputs, assessments)) = checked {
                // Blocked before the model, as Bedrock answers a blocked input.
                let prepared = self.prepare(&requested, &parts, Capability::Converse)?;
                let mut i = Intervention::bedrock(GuardrailSource::Caller, Some(assessments));
                i.stage = Some(GuardrailStage::Input);
                report.push(i, &ctx.request_id);
                let mut v = json!({
                    "output": {"message": {"role": "assistant", "content": [{"text": outputs.concat()}]}},
                    "stopReason": "guardrail_intervened",
                    "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
                    "metrics": {"latencyMs": started.elapsed().as_millis() as u64},
                });
                let cost = cost_of(
                    &self.catalog,
                    &prepared.resolved.model,
                    prepared.resolved.pricing,
                    &Usage::default(),
                );
                let mut m = self.metrics(ctx, "Converse", prepared.resolved.model.id.as_str());
                m.latency = Some(started.elapsed());
                report.record(&mut m);
                m.emit(&self.config);
                decorate(&mut v, &prepared, &cost, ctx, &[]);
                v["guardrail"] = report.to_json().unwrap_or(Value::Null);
                return Ok(v);
            }
        }
        let mut fallback = Vec::new();
        let names = candidates(&requested, &self.config);
        let mut last_err = None;
        for (i, name) in names.iter().enumerate() {
            let prepared = match self
                .prepare_admitted(name, &parts, Capability::Converse, &body, ctx)
                .await
            {
                Ok(p) => p,
                // The caller's own model failing policy is the caller's error; a fallback model
                // that does not fit is skipped and recorded.
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    fallback.push(FallbackStep::new(name.clone(), &e));
                    continue;
                }
            };
            let invoked = prepared.resolved.target.id();
            let call = prepared
                .parts
                .clone()
                .apply(self.client.sdk().converse().model_id(&invoked));
            let result = match self.timeout_override(ctx)? {
                Some(o) => call.customize().config_override(o).send().await,
                None => call.send().await,
            };
            match result {
                Ok(out) => {
                    let usage = out.usage().map(usage_from_sdk).unwrap_or_default();
                    let cost = cost_of(
                        &self.catalog,
                        &prepared.resolved.model,
                        prepared.resolved.pricing,
                        &usage,
                    );
                    let mut v = converse_output_to_json(&out);
                    if *out.stop_reason() == StopReason::GuardrailIntervened {
                        let trace = v.pointer("/trace/guardrail").cloned();
                        report.push(
                            Intervention::bedrock(GuardrailSource::Bedrock, trace),
                            &ctx.request_id,
                        );
                    }
                    if let Some(spec) = &caller {
                        self.caller_output(spec, &mut v, &mut report, ctx).await?;
                    }
                    if let Some(filter) = &self.filter
                        && let Some(i) =
                            guard::screen_output(filter, &mut v, guard::converse_output)
                    {
                        if i.action == "blocked" {
                            v["stopReason"] = json!("guardrail_intervened");
                        }
                        report.push(i, &ctx.request_id);
                    }
                    log_content(&self.config, "completion", &v["output"]);
                    let mut m = self.metrics(ctx, "Converse", prepared.resolved.model.id.as_str());
                    m.latency = Some(started.elapsed());
                    m.input_tokens = usage.input_tokens;
                    m.output_tokens = usage.output_tokens;
                    m.cache_read_tokens = usage.cache_read_tokens;
                    m.cache_write_tokens = usage.cache_write_tokens();
                    m.cost = Some(cost.total());
                    m.fallbacks = fallback.len() as u64;
                    report.record(&mut m);
                    cache.record(&mut m);
                    m.emit(&self.config);
                    let clean = report.is_empty() && fallback.is_empty();
                    cache.store_converse(&v, &usage, &cost, clean).await;
                    tracing::info!(request_id = %ctx.request_id, model = %invoked, input_tokens = usage.input_tokens, output_tokens = usage.output_tokens, cost = %cost.total(), "converse");
                    decorate(&mut v, &prepared, &cost, ctx, &fallback);
                    cache.annotate(&mut v);
                    crate::routing::annotate(&mut v, routing.as_ref());
                    if let Some(g) = report.to_json() {
                        v["guardrail"] = g;
                    }
                    return Ok(v);
                }
                Err(sdk) => {
                    let e = from_sdk_error(sdk);
                    self.record_failure(
                        ctx,
                        "Converse",
                        prepared.resolved.model.id.as_str(),
                        started,
                        &e,
                        fallback.len(),
                    );
                    if !should_fall_back(&e) {
                        return Err(e);
                    }
                    fallback.push(FallbackStep::new(invoked, &e));
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| GatewayError::internal("no model could be called")))
    }

    /// A caller guardrail on a Converse answer's text blocks: on intervention they are replaced
    /// by the guardrail's outputs and the stop reason becomes `guardrail_intervened`.
    async fn caller_output(
        &self,
        spec: &GuardrailSpec,
        v: &mut Value,
        report: &mut GuardrailReport,
        ctx: &CallContext,
    ) -> Result<(), GatewayError> {
        let texts: Vec<String> = v
            .pointer("/output/message/content")
            .and_then(Value::as_array)
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b.get("text").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let checked = self
            .apply_caller_guardrail(spec, GuardrailContentSource::Output, &texts, ctx)
            .await?;
        let Some((outputs, assessments)) = checked else {
            return Ok(());
        };
        if let Some(Value::Array(blocks)) = v.pointer_mut("/output/message/content") {
            blocks.retain(|b| b.get("text").is_none());
            blocks.insert(0, json!({"text": outputs.concat()}));
        }
        v["stopReason"] = json!("guardrail_intervened");
        let mut i = Intervention::bedrock(GuardrailSource::Caller, Some(assessments));
        i.stage = Some(GuardrailStage::Output);
        report.push(i, &ctx.request_id);
        Ok(())
    }

    /// ConverseStream: opens the stream (with fallback before the first event) and returns a
    /// handle that yields events as JSON and accounts for usage and cost at the end.
    pub async fn converse_stream(
        &self,
        body: Value,
        ctx: &CallContext,
    ) -> Result<ConverseStreamCall, GatewayError> {
        let result = self.converse_stream_open(body, ctx).await;
        if result.is_err() {
            // Nothing was produced: release what the caller's key reserved (`auth`).
            self.settle_call(ctx, None).await;
        }
        result
    }

    /// [`Gateway::converse_stream`] without the release of a refused call's reservation.
    async fn converse_stream_open(
        &self,
        body: Value,
        ctx: &CallContext,
    ) -> Result<ConverseStreamCall, GatewayError> {
        let mut body = body;
        let requested = self.requested_model(&body)?;
        let (requested, routing) = self.route_auto(&mut body, requested, ctx, true)?;
        let mut report = GuardrailReport::default();
        if let Some(i) = self.screen_converse_input(&mut body, ctx, "ConverseStream")? {
            report.push(i, &ctx.request_id);
        }
        let parts = ConverseParts::from_json(&body, &["model", "stream"])?;
        if self.guardrail_plan(parts.guardrail.as_ref())?.1.is_some() {
            return Err(GatewayError::invalid_request(
                "guardrailConfig: a caller guardrail in addition to the deployment's is applied \
                 with ApplyGuardrail around the model call, which /v1/converse supports and \
                 streams do not; call /v1/converse, or stream without guardrailConfig",
            ));
        }
        log_content(&self.config, "prompt", &body);
        let started = Instant::now();
        let kind = crate::cache::AnswerKind::Stream;
        let mut cache = self
            .cache_probe(kind, &requested, &parts, None, ctx)
            .await?;
        let mut routing = routing.map(|d| d.to_json());
        if let Some(call) = self.replay_stream(&mut cache, ctx, started, &mut routing) {
            return Ok(call);
        }
        let mut fallback = Vec::new();
        let mut last_err = None;
        for (i, name) in candidates(&requested, &self.config).iter().enumerate() {
            let prepared = match self
                .prepare_admitted(name, &parts, Capability::Streaming, &body, ctx)
                .await
            {
                Ok(p) => p,
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    fallback.push(FallbackStep::new(name.clone(), &e));
                    continue;
                }
            };
            let invoked = prepared.resolved.target.id();
            let call = prepared
                .parts
                .clone()
                .apply_stream(self.client.sdk().converse_stream().model_id(&invoked));
            let result = match self.timeout_override(ctx)? {
                Some(o) => call.customize().config_override(o).send().await,
                None => call.send().await,
            };
            match result {
                Ok(out) => {
                    return Ok(ConverseStreamCall {
                        gateway: self.clone(),
                        ctx: ctx.clone(),
                        prepared,
                        fallback,
                        receiver: Some(out.stream),
                        started,
                        first_token: None,
                        usage: None,
                        guardrail_intervened: false,
                        guardrail_trace: None,
                        finished: false,
                        filter: self
                            .filter
                            .as_ref()
                            .map(|f| StreamGuard::new(f, StreamShape::Converse)),
                        pending: std::collections::VecDeque::new(),
                        report,
                        closed: false,
                        failed: None,
                        recorder: cache.recorder(),
                        cache,
                        ended_ok: false,
                        routing,
                    });
                }
                Err(sdk) => {
                    let e = from_sdk_error(sdk);
                    self.record_failure(
                        ctx,
                        "ConverseStream",
                        prepared.resolved.model.id.as_str(),
                        started,
                        &e,
                        fallback.len(),
                    );
                    if !should_fall_back(&e) {
                        return Err(e);
                    }
                    fallback.push(FallbackStep::new(invoked, &e));
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| GatewayError::internal("no model could be called")))
    }

    /// InvokeModel with the model's native JSON body. `maxTokens` policy is applied in the
    /// family's own field; usage is read from the answer per family.
    pub async fn invoke_native(
        &self,
        model: &str,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<NativeReply, GatewayError> {
        let result = self.invoke_native_call(model, body, ctx).await;
        // A caller's key is settled with the reply's usage and cost (`auth`).
        let actual = result
            .as_ref()
            .ok()
            .map(|r| crate::auth::Actual::new(&r.model.id, &r.usage, &r.cost));
        self.settle_call(ctx, actual).await;
        result
    }

    /// [`Gateway::invoke_native`] before per-key settlement.
    async fn invoke_native_call(
        &self,
        model: &str,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<NativeReply, GatewayError> {
        let mut json: Value = serde_json::from_slice(&body)
            .map_err(|e| GatewayError::invalid_request(format!("body: not valid JSON: {e}")))?;
        if !json.is_object() {
            return Err(GatewayError::invalid_request("body: must be a JSON object"));
        }
        let started = Instant::now();
        let mut fallback = Vec::new();
        let mut last_err = None;
        let first = resolve(&self.catalog, &self.config, model).ok();
        let first_family = first.as_ref().map(|r| r.model.family.clone());
        let mut report = GuardrailReport::default();
        if let Some(i) = self.screen_native_input(first.as_ref(), &mut json, ctx, "InvokeModel")? {
            report.push(i, &ctx.request_id);
        }
        for (i, name) in candidates(model, &self.config).iter().enumerate() {
            // Native bodies are family-specific: fall back only within the same family.
            let attempt = (|| -> Result<(Resolved, Option<MaxTokens>, Value), GatewayError> {
                let resolved = resolve(&self.catalog, &self.config, name)?;
                self.policy
                    .check_allowed(&resolved.model, Some(&resolved.target))?;
                if resolved.model.mode == Mode::VideoGeneration {
                    return Err(GatewayError::invalid_request(format!(
                        "model {}: runs only asynchronously (StartAsyncInvoke); submit it to POST /v1/jobs with `native`",
                        resolved.model.id
                    )));
                }
                let mut body = json.clone();
                let mut applied = None;
                if resolved.model.mode == Mode::Chat
                    && let Some(ptr) =
                        native::max_tokens_pointer(&resolved.model.family, &resolved.model.provider)
                {
                    let requested = body.pointer(ptr).map(|v| {
                        v.as_i64().ok_or_else(|| {
                            GatewayError::invalid_request(format!("body{ptr}: expected an integer"))
                        })
                    });
                    let requested = requested.transpose()?;
                    let mt = self.policy.max_tokens(&resolved.model, requested)?;
                    native::set_pointer(&mut body, ptr, json!(mt.value));
                    applied = Some(mt);
                }
                Ok((resolved, applied, body))
            })();
            let (resolved, max_tokens, send_body) = match attempt {
                Ok(x) => x,
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    fallback.push(FallbackStep::new(name.clone(), &e));
                    continue;
                }
            };
            if i > 0 && first_family.as_deref() != Some(resolved.model.family.as_str()) {
                fallback.push(FallbackStep {
                    model: name.clone(),
                    error: "invalid_request".into(),
                    upstream: Some("another model family: the native body does not apply".into()),
                });
                continue;
            }
            if let Err(e) = self
                .admit_call(
                    ctx,
                    &resolved,
                    crate::auth::Body::Native(&json),
                    max_tokens.map(|m| m.value),
                )
                .await
            {
                if i == 0 {
                    return Err(e);
                }
                fallback.push(FallbackStep::new(name.clone(), &e));
                continue;
            }
            let invoked = resolved.target.id();
            let mut call = self
                .client
                .sdk()
                .invoke_model()
                .model_id(&invoked)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(
                    serde_json::to_vec(&send_body).unwrap_or_default(),
                ));
            if let Some(g) = &self.config.guardrail {
                call = call
                    .guardrail_identifier(&g.id)
                    .guardrail_version(&g.version)
                    .trace(invoke_model_trace(g.trace));
            }
            let counts = TokenHeaders::default();
            let mut call = call.customize().interceptor(counts.clone());
            if let Some(o) = self.timeout_override(ctx)? {
                call = call.config_override(o);
            }
            match call.send().await {
                Ok(out) => {
                    let mut bytes = Bytes::from(out.body.into_inner());
                    let mut parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    if parsed
                        .get("amazon-bedrock-guardrailAction")
                        .and_then(Value::as_str)
                        == Some("INTERVENED")
                    {
                        let trace = parsed.pointer("/amazon-bedrock-trace/guardrail").cloned();
                        report.push(
                            Intervention::bedrock(GuardrailSource::Bedrock, trace),
                            &ctx.request_id,
                        );
                    }
                    if let Some(filter) = &self.filter
                        && parsed.is_object()
                    {
                        let (provider, family) = (
                            resolved.model.provider.clone(),
                            resolved.model.family.clone(),
                        );
                        let before = parsed.clone();
                        if let Some(i) = guard::screen_output(filter, &mut parsed, |v, f| {
                            guard::native_output(&provider, &family, v, f)
                        }) {
                            report.push(i, &ctx.request_id);
                        }
                        if parsed != before {
                            bytes = Bytes::from(serde_json::to_vec(&parsed).unwrap_or_default());
                        }
                    }
                    let usage = counts.or_headers(native::usage_from_body(
                        &resolved.model.provider,
                        &resolved.model.family,
                        &parsed,
                    ));
                    let cost = cost_of(&self.catalog, &resolved.model, resolved.pricing, &usage);
                    let mut m = self.metrics(ctx, "InvokeModel", resolved.model.id.as_str());
                    m.latency = Some(started.elapsed());
                    m.input_tokens = usage.input_tokens;
                    m.output_tokens = usage.output_tokens;
                    m.cache_read_tokens = usage.cache_read_tokens;
                    m.cache_write_tokens = usage.cache_write_tokens();
                    m.cost = Some(cost.total());
                    m.fallbacks = fallback.len() as u64;
                    report.record(&mut m);
                    m.emit(&self.config);
                    return Ok(NativeReply {
                        body: bytes,
                        content_type: out.content_type,
                        usage,
                        cost,
                        model: resolved.describe(),
                        max_tokens,
                        fallback,
                        guardrail: report,
                    });
                }
                Err(sdk) => {
                    let e = from_sdk_error(sdk);
                    self.record_failure(
                        ctx,
                        "InvokeModel",
                        resolved.model.id.as_str(),
                        started,
                        &e,
                        fallback.len(),
                    );
                    if !should_fall_back(&e) {
                        return Err(e);
                    }
                    fallback.push(FallbackStep::new(invoked, &e));
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| GatewayError::internal("no model could be called")))
    }

    /// CountTokens. Body: `{"model", "messages", "system"}` (Converse form) or
    /// `{"model", "body": {...native...}}`. Answers `{"inputTokens", "model", "context_window",
    /// "estimate"}`; the estimate prices the counted input plus the `maxTokens` the call would
    /// send (the worst case). CountTokens takes the bare model ID, never a profile.
    pub async fn count_tokens(
        &self,
        body: Value,
        ctx: &CallContext,
    ) -> Result<Value, GatewayError> {
        let requested = self.requested_model(&body)?;
        let resolved = self.resolve_allowed(&requested, Capability::CountTokens)?;
        let started = Instant::now();
        let (input, expected_max) = if let Some(native_body) = body.get("body") {
            let bytes = serde_json::to_vec(native_body).unwrap_or_default();
            let req = InvokeModelTokensRequest::builder()
                .body(Blob::new(bytes))
                .build()
                .map_err(|e| GatewayError::invalid_request(format!("body: {e}")))?;
            let requested_max =
                native::max_tokens_pointer(&resolved.model.family, &resolved.model.provider)
                    .and_then(|p| native_body.pointer(p))
                    .and_then(Value::as_i64);
            (CountTokensInput::InvokeModel(req), requested_max)
        } else {
            let parts = ConverseParts::from_json(
                &body,
                &[
                    "model",
                    "inferenceConfig",
                    "toolConfig",
                    "additionalModelRequestFields",
                ],
            )?;
            let max = parts.max_tokens();
            let req = ConverseTokensRequest::builder()
                .set_messages(Some(parts.messages))
                .set_system((!parts.system.is_empty()).then_some(parts.system))
                .build();
            (CountTokensInput::Converse(req), max)
        };
        let max_tokens = self.policy.max_tokens(&resolved.model, expected_max)?;
        let call = self
            .client
            .sdk()
            .count_tokens()
            .model_id(resolved.model.id.as_str())
            .input(input);
        let result = match self.timeout_override(ctx)? {
            Some(o) => call.customize().config_override(o).send().await,
            None => call.send().await,
        };
        let out = result.map_err(|sdk| {
            let e = from_sdk_error(sdk);
            self.record_failure(
                ctx,
                "CountTokens",
                resolved.model.id.as_str(),
                started,
                &e,
                0,
            );
            e
        })?;
        let input_tokens = u64::try_from(out.input_tokens()).unwrap_or(0);
        let estimate = crate::cost::estimate(
            &self.catalog,
            &resolved.model,
            resolved.pricing,
            input_tokens,
            u64::from(max_tokens.value),
        );
        let mut m = self.metrics(ctx, "CountTokens", resolved.model.id.as_str());
        m.latency = Some(started.elapsed());
        m.input_tokens = input_tokens;
        m.emit(&self.config);
        Ok(json!({
            "inputTokens": input_tokens,
            "model": resolved.target.id(),
            "resolved": resolved.describe(),
            "context_window": {
                "max_input_tokens": resolved.model.max_input_tokens,
                "fits": input_tokens + u64::from(max_tokens.value) <= resolved.model.max_input_tokens,
            },
            "max_tokens": max_tokens,
            "estimate": estimate.to_json(),
            "request_id": ctx.request_id,
        }))
    }

    /// ApplyGuardrail with the deployment's guardrail. Body: `{"source": "INPUT"|"OUTPUT",
    /// "content": [{"text": {"text", "qualifiers"?}}], "outputScope"?}`.
    pub async fn apply_guardrail(
        &self,
        body: Value,
        ctx: &CallContext,
    ) -> Result<Value, GatewayError> {
        let g = self.config.guardrail.as_ref().ok_or_else(|| {
            GatewayError::invalid_request("this deployment has no guardrail (GATEWAY_GUARDRAIL_ID)")
        })?;
        let source = match body.get("source").and_then(Value::as_str) {
            Some("INPUT") | None => GuardrailContentSource::Input,
            Some("OUTPUT") => GuardrailContentSource::Output,
            Some(other) => {
                return Err(GatewayError::invalid_request(format!(
                    "source: {other:?} is not INPUT or OUTPUT"
                )));
            }
        };
        let content = body
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| GatewayError::invalid_request("content: required array"))?;
        let mut blocks = Vec::new();
        for (i, c) in content.iter().enumerate() {
            let t = c
                .pointer("/text/text")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    GatewayError::invalid_request(format!(
                        "content[{i}]: expected {{\"text\": {{\"text\": ...}}}}"
                    ))
                })?;
            let mut b = GuardrailTextBlock::builder().text(t);
            if let Some(q) = c.pointer("/text/qualifiers").and_then(Value::as_array) {
                for x in q.iter().filter_map(Value::as_str) {
                    b = b.qualifiers(GuardrailContentQualifier::from(x));
                }
            }
            blocks.push(GuardrailContentBlock::Text(b.build().map_err(|e| {
                GatewayError::invalid_request(format!("content[{i}]: {e}"))
            })?));
        }
        let started = Instant::now();
        let out = self
            .send_apply_guardrail(&g.id, &g.version, source, blocks, started, ctx)
            .await?;
        let intervened = out.action().as_str() == "GUARDRAIL_INTERVENED";
        let mut m = self.metrics(ctx, "ApplyGuardrail", "guardrail");
        m.latency = Some(started.elapsed());
        m.guardrail_interventions = u64::from(intervened);
        m.emit(&self.config);
        let mut v = Map::new();
        v.insert("action".into(), json!(out.action().as_str()));
        if let Some(r) = out.action_reason() {
            v.insert("actionReason".into(), json!(r));
        }
        v.insert(
            "outputs".into(),
            json!(
                out.outputs()
                    .iter()
                    .map(|o| json!({"text": o.text()}))
                    .collect::<Vec<_>>()
            ),
        );
        if let Some(u) = out.usage() {
            v.insert("usage".into(), json!({
                "topicPolicyUnits": u.topic_policy_units(),
                "contentPolicyUnits": u.content_policy_units(),
                "wordPolicyUnits": u.word_policy_units(),
                "sensitiveInformationPolicyUnits": u.sensitive_information_policy_units(),
                "sensitiveInformationPolicyFreeUnits": u.sensitive_information_policy_free_units(),
                "contextualGroundingPolicyUnits": u.contextual_grounding_policy_units(),
            }));
        }
        v.insert("request_id".into(), json!(ctx.request_id));
        Ok(Value::Object(v))
    }
}

pub(crate) fn decorate(
    v: &mut Value,
    p: &Prepared,
    cost: &Cost,
    ctx: &CallContext,
    fallback: &[FallbackStep],
) {
    if let Value::Object(o) = v {
        o.insert("model".into(), json!(p.resolved.target.id()));
        o.insert(
            "resolved".into(),
            serde_json::to_value(p.resolved.describe()).unwrap_or(Value::Null),
        );
        o.insert(
            "max_tokens".into(),
            serde_json::to_value(p.max_tokens).unwrap_or(Value::Null),
        );
        o.insert("cost".into(), cost.to_json());
        o.insert("request_id".into(), json!(ctx.request_id));
        if !fallback.is_empty() {
            o.insert(
                "fallback".into(),
                serde_json::to_value(fallback).unwrap_or(Value::Null),
            );
        }
    }
}

/// An open ConverseStream. Call [`ConverseStreamCall::recv`] until it yields `None`, then
/// [`ConverseStreamCall::summary`] for the closing event (usage and cost). Dropping it before
/// the end (client gone) drops the upstream connection, which cancels the model call; the
/// metrics record is still written, with what was produced.
#[derive(Debug)]
pub struct ConverseStreamCall {
    gateway: Gateway,
    ctx: CallContext,
    prepared: Prepared,
    fallback: Vec<FallbackStep>,
    /// `None` when the answer is replayed from the response cache.
    receiver: Option<EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>>,
    started: Instant,
    first_token: Option<Duration>,
    usage: Option<Usage>,
    guardrail_intervened: bool,
    /// Bedrock's `trace.guardrail` from the metadata event, when traced.
    guardrail_trace: Option<Value>,
    finished: bool,
    /// The local filter over the answer (`None` when the policy changes nothing).
    filter: Option<StreamGuard>,
    /// Events ready to hand out (a held-back tail, added stop events, the `guardrail` event).
    pending: std::collections::VecDeque<Value>,
    report: GuardrailReport,
    /// No more upstream events will be read (ended, or blocked by the local filter).
    closed: bool,
    /// An upstream failure to report once the held-back text before it has been handed out.
    failed: Option<GatewayError>,
    /// The response cache for this call (see `cache_stream`).
    cache: crate::cache::CacheProbe,
    /// The events handed out, while the answer may still be stored.
    recorder: Option<crate::cache::StreamRecorder>,
    /// The upstream ended normally (not failed, not cut).
    ended_ok: bool,
    /// The router's decision (`model: "auto"`), for the closing event.
    routing: Option<Value>,
}

/// The name of a `{"name": {...}}` event.
fn event_name(v: &Value) -> String {
    v.as_object()
        .and_then(|o| o.keys().next())
        .cloned()
        .unwrap_or_default()
}

impl ConverseStreamCall {
    /// What is being called.
    pub fn resolved(&self) -> &Resolved {
        &self.prepared.resolved
    }

    /// The `maxTokens` sent.
    pub fn max_tokens(&self) -> MaxTokens {
        self.prepared.max_tokens
    }

    /// Fallback steps taken before the stream opened.
    pub fn fallback(&self) -> &[FallbackStep] {
        &self.fallback
    }

    /// The next event as JSON (`{"contentBlockDelta": {...}}`), `None` at the end, or the
    /// mapped error if the stream fails midway (send it as an `error` event, then stop).
    ///
    /// Text and reasoning deltas pass through the local content filter (a tail that could
    /// still become an entity is held back and released at the block's end). When a guardrail
    /// intervened, a `guardrail` event (`{"guardrail": {...}}`) comes last; when the filter
    /// blocks, the message is closed (`contentBlockStop`, `messageStop` with
    /// `guardrail_intervened`), the `guardrail` event follows and the upstream is not read
    /// further.
    pub async fn recv(&mut self) -> Result<Option<(String, Value)>, GatewayError> {
        loop {
            if let Some(v) = self.pending.pop_front() {
                if let Some(r) = &mut self.recorder {
                    r.record(&v);
                }
                return Ok(Some((event_name(&v), v)));
            }
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if self.closed {
                self.store_in_cache().await;
                self.finish(None);
                self.gateway.settle_stashed(&self.ctx).await;
                return Ok(None);
            }
            let next = match self.receiver.as_mut() {
                Some(r) => r.recv().await,
                None => Ok(None),
            };
            match next {
                Ok(Some(event)) => {
                    if self.first_token.is_none()
                        && matches!(event, ConverseStreamOutput::ContentBlockDelta(_))
                    {
                        self.first_token = Some(self.started.elapsed());
                    }
                    let v = stream_event_to_json(&event);
                    self.gateway
                        .note_output(&self.ctx, &self.prepared.resolved, &v);
                    match &event {
                        ConverseStreamOutput::Metadata(m) => {
                            self.usage = m.usage().map(usage_from_sdk);
                            if let Some(t) = v.pointer("/metadata/trace/guardrail") {
                                self.guardrail_trace = Some(t.clone());
                            }
                        }
                        ConverseStreamOutput::MessageStop(m) => {
                            self.guardrail_intervened =
                                *m.stop_reason() == StopReason::GuardrailIntervened
                        }
                        _ => {}
                    }
                    match &mut self.filter {
                        Some(g) => {
                            let mut v = v;
                            if let Some(t) = v.pointer_mut("/metadata/trace/guardrail")
                                && let Some(f) = &self.gateway.filter
                            {
                                guard::mask_all_strings(f, t);
                            }
                            let out = g.on_event(v);
                            self.pending.extend(out);
                            if g.blocked().is_some() {
                                self.end_of_guarded_stream();
                            }
                        }
                        None => self.pending.push_back(v),
                    }
                }
                Ok(None) => {
                    self.ended_ok = true;
                    if let Some(g) = &mut self.filter {
                        let rest = g.flush_all();
                        self.pending.extend(rest);
                    }
                    self.end_of_guarded_stream();
                }
                Err(sdk) => {
                    let e = from_sdk_error(sdk);
                    self.finish(Some(&e));
                    self.gateway.settle_stashed(&self.ctx).await;
                    // Text held back before the failure is filtered as final and sent first.
                    if let Some(g) = &mut self.filter {
                        let rest = g.flush_all();
                        if !rest.is_empty() {
                            self.pending.extend(rest);
                            self.closed = true;
                            self.failed = Some(e);
                            continue;
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Reports every intervention in one `guardrail` event and stops reading upstream.
    fn end_of_guarded_stream(&mut self) {
        self.closed = true;
        if self.guardrail_intervened {
            self.report.push(
                Intervention::bedrock(GuardrailSource::Bedrock, self.guardrail_trace.take()),
                &self.ctx.request_id,
            );
        }
        if let Some(i) = self.filter.as_ref().and_then(StreamGuard::intervention) {
            self.report.push(i, &self.ctx.request_id);
        }
        if let Some(g) = self.report.to_json() {
            self.pending.push_back(json!({ GUARDRAIL_EVENT: g }));
        }
    }

    /// Guardrail interventions so far.
    pub fn guardrail(&self) -> &GuardrailReport {
        &self.report
    }

    /// Usage so far (known once the `metadata` event arrived).
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The closing event's payload: `{"model", "resolved", "max_tokens", "usage", "cost",
    /// "request_id", "fallback"?}`.
    pub fn summary(&self) -> Value {
        let usage = self.usage.unwrap_or_default();
        let cost = self.billed().1;
        let mut v = json!({"usage": usage.to_bedrock_json()});
        decorate(&mut v, &self.prepared, &cost, &self.ctx, &self.fallback);
        self.cache.annotate(&mut v);
        if let Some(r) = &self.routing {
            v["routing"] = r.clone();
        }
        if let Value::Object(o) = &mut v {
            o.insert("usage_known".into(), json!(self.usage.is_some()));
            if let Some(g) = self.report.to_json() {
                o.insert("guardrail".into(), g);
            }
        }
        v
    }

    fn finish(&mut self, error: Option<&GatewayError>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let (usage, cost) = self.billed();
        let mut m = self.gateway.metrics(
            &self.ctx,
            "ConverseStream",
            self.prepared.resolved.model.id.as_str(),
        );
        m.latency = Some(self.started.elapsed());
        m.time_to_first_token = self.first_token;
        m.input_tokens = usage.input_tokens;
        m.output_tokens = usage.output_tokens;
        m.cache_read_tokens = usage.cache_read_tokens;
        m.cache_write_tokens = usage.cache_write_tokens();
        m.cost = Some(cost.total());
        m.fallbacks = self.fallback.len() as u64;
        self.report.record(&mut m);
        self.cache.record(&mut m);
        if self.guardrail_intervened && !m.guardrail_sources.contains(&"bedrock") {
            m.guardrail_interventions = 1;
            m.guardrail_sources.push("bedrock");
        }
        if let Some(e) = error {
            m.errors = 1;
            m.throttles = u64::from(matches!(e.error_type(), "throttled" | "quota_exceeded"));
            m.error_type = Some(e.error_type().to_owned());
        }
        m.emit(&self.gateway.config);
        self.gateway
            .stash_usage(&self.ctx, &self.prepared.resolved, self.usage);
    }
}

impl Drop for ConverseStreamCall {
    fn drop(&mut self) {
        // Client went away mid-stream: account for what was produced (usage may be unknown).
        if !self.finished {
            tracing::info!(request_id = %self.ctx.request_id, "stream dropped before the end");
            self.finish(None);
        }
        // Settles the caller's key for what was produced (`auth`).
        self.gateway.settle_stashed_later(&self.ctx);
    }
}

/// The deployment's trace setting as InvokeModel's `X-Amzn-Bedrock-Trace` value (upper case,
/// unlike Converse's `guardrailConfig.trace`): one mapping for the plain and the streamed call.
pub(crate) fn invoke_model_trace(
    trace: crate::config::GuardrailTrace,
) -> aws_sdk_bedrockruntime::types::Trace {
    use crate::config::GuardrailTrace;
    aws_sdk_bedrockruntime::types::Trace::from(match trace {
        GuardrailTrace::Disabled => "DISABLED",
        GuardrailTrace::Enabled => "ENABLED",
        GuardrailTrace::EnabledFull => "ENABLED_FULL",
    })
}

impl Gateway {
    /// One ApplyGuardrail call with the request's deadline; a failure is recorded in the metrics
    /// (from `started`) and mapped to a gateway error. Callers add their own success metrics.
    async fn send_apply_guardrail(
        &self,
        identifier: &str,
        version: &str,
        source: aws_sdk_bedrockruntime::types::GuardrailContentSource,
        blocks: Vec<aws_sdk_bedrockruntime::types::GuardrailContentBlock>,
        started: Instant,
        ctx: &CallContext,
    ) -> Result<
        aws_sdk_bedrockruntime::operation::apply_guardrail::ApplyGuardrailOutput,
        GatewayError,
    > {
        let call = self
            .client
            .sdk()
            .apply_guardrail()
            .guardrail_identifier(identifier)
            .guardrail_version(version)
            .source(source)
            .set_content(Some(blocks));
        let result = match self.timeout_override(ctx)? {
            Some(o) => call.customize().config_override(o).send().await,
            None => call.send().await,
        };
        result.map_err(|sdk| {
            let e = from_sdk_error(sdk);
            self.record_failure(ctx, "ApplyGuardrail", "guardrail", started, &e, 0);
            e
        })
    }
}
