//! The admit stage: from a request to a candidate that may be sent.
//!
//! Resolution and allowlist, the `maxTokens` policy (in Converse's field or the family's native
//! one), the guardrail plan, the local filter on the input, `model: "auto"` routing, and the
//! caller's key (allowed models, rate limits and the budget reservation).

use serde_json::{Value, json};

use crate::call::Prepared;
use crate::catalog::{Capability, Mode};
use crate::context::CallContext;
use crate::convert::ConverseParts;
use crate::convert::request::GuardrailSpec;
use crate::error::GatewayError;
use crate::family::Family;
use crate::filter::EntityKind;
use crate::guard::{self, GuardrailReport, Intervention, Screen, Stage, Visit};
use crate::native;
use crate::policy::MaxTokens;
use crate::resilience::FallbackStep;
use crate::resolve::{Resolved, resolve};
use crate::routing::{Decision, is_auto, route, take_constraints};
use crate::tier::Tier;

use super::Gateway;
use super::attempt::{Candidate, Refused};

/// A native InvokeModel body prepared for one candidate model.
#[derive(Debug, Clone)]
pub(crate) struct NativePrepared {
    pub(crate) resolved: Resolved,
    /// The `maxTokens` applied in the family's own field (`None`: the body has none).
    pub(crate) max_tokens: Option<MaxTokens>,
    /// The body to send.
    pub(crate) body: Value,
}

impl Candidate for NativePrepared {
    fn resolved(&self) -> &Resolved {
        &self.resolved
    }
}

impl Gateway {
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
        let resolved = self.resolve_name(name)?;
        self.check_resolved(&resolved, capability)?;
        Ok(resolved)
    }

    /// `name` looked up in the catalog (no allowlist or capability check). Every lookup of a
    /// call's model goes through here, and is counted: [`Gateway::resolutions`].
    pub(crate) fn resolve_name(&self, name: &str) -> Result<Resolved, GatewayError> {
        self.resolutions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        resolve(&self.catalog(), &self.config, name)
    }

    /// The allowlist and `capability` for a resolved model.
    pub(crate) fn check_resolved(
        &self,
        resolved: &Resolved,
        capability: Capability,
    ) -> Result<(), GatewayError> {
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
        Ok(())
    }

    /// Resolution, policy and guardrail for one candidate model of a Converse body.
    /// `default_tier` (the caller's key's) serves a request that names no tier, where the
    /// candidate offers it.
    pub fn prepare(
        &self,
        name: &str,
        parts: &ConverseParts,
        capability: Capability,
        default_tier: Option<Tier>,
    ) -> Result<Prepared, GatewayError> {
        self.prepare_with(name, None, parts, capability, default_tier)
    }

    /// [`Gateway::prepare`] with the route's resolution of the requested model (`known`),
    /// reused when `name` is that model.
    pub(crate) fn prepare_with(
        &self,
        name: &str,
        known: Option<&Resolved>,
        parts: &ConverseParts,
        capability: Capability,
        default_tier: Option<Tier>,
    ) -> Result<Prepared, GatewayError> {
        let requested = parts.tier()?;
        let resolved = self.resolve_or_reuse(name, known)?;
        self.check_resolved(&resolved, capability)?;
        let tier = match default_tier {
            Some(t) if !parts.names_a_tier() && resolved.model.offers(t) => t,
            _ => requested,
        };
        let resolved = resolved.with_tier(tier)?;
        let max_tokens = self
            .policy
            .max_tokens(&resolved.model, parts.max_tokens())?;
        let mut parts = parts.clone();
        if tier != requested {
            parts.set_tier(tier);
        }
        parts.set_max_tokens(max_tokens.value);
        // Per candidate: a fallback model without prompt caching gets none.
        crate::prompt_cache::place(&mut parts, &resolved.model, &self.config.auto_cache);
        // The deployment's guardrail is always the call's; a caller's runs beside it (or is
        // refused): see `guardrail_plan`.
        parts.guardrail = self.guardrail_plan(parts.guardrail.as_ref())?.0;
        Ok(Prepared {
            resolved,
            parts,
            max_tokens,
        })
    }

    /// [`Gateway::prepare`], then the caller's admission: what every Converse candidate passes.
    /// The requested model was already prepared for the cache lookup: it is reused, not
    /// resolved again.
    pub(crate) async fn admit_converse(
        &self,
        name: &str,
        parts: &ConverseParts,
        capability: Capability,
        body: &Value,
        ctx: &CallContext,
        (already, known): (Option<&Prepared>, Option<&Resolved>),
    ) -> Result<Prepared, Refused> {
        let mut prepared = match already {
            Some(p) => p.clone(),
            None => {
                // A fallback may be an application profile's ARN the catalog has not learnt.
                self.learn_model(name).await?;
                self.prepare_with(name, known, parts, capability, ctx.default_tier())?
            }
        };
        prepared.resolved = self.bind_to_key_profile(ctx, prepared.resolved).await?;
        self.admit_key(
            ctx,
            &prepared.resolved,
            crate::auth::Body::Converse(body),
            Some(prepared.max_tokens.value),
        )
        .await?;
        Ok(prepared)
    }

    /// Resolution, allowlist and the family's `maxTokens` field for one candidate of a native
    /// body. A stream needs the streaming capability; a plain call refuses video models (they
    /// run only as async jobs). Native bodies are family-specific: a fallback (candidate `i` > 0)
    /// of another family than the requested model's (`first`, its resolution) is skipped.
    pub(crate) async fn admit_native(
        &self,
        (i, name): (usize, &str),
        json: &Value,
        streaming: bool,
        (first, ctx): (Option<&Resolved>, &CallContext),
    ) -> Result<NativePrepared, Refused> {
        self.learn_model(name).await?;
        let mut prepared = self.prepare_native(name, first, json, streaming)?;
        let first_family = first.map(|r| r.model.family.as_str());
        prepared.resolved = self.bind_to_key_profile(ctx, prepared.resolved).await?;
        if i > 0 && first_family != Some(prepared.resolved.model.family.as_str()) {
            return Err(Refused::Skip(FallbackStep {
                model: name.to_owned(),
                error: "invalid_request".into(),
                upstream: Some("another model family: the native body does not apply".into()),
            }));
        }
        self.admit_key(
            ctx,
            &prepared.resolved,
            crate::auth::Body::Native(json),
            prepared.max_tokens.map(|m| m.value),
        )
        .await?;
        Ok(prepared)
    }

    /// `first`: the requested model's resolution (made when the body was screened), reused
    /// when `name` is that model.
    fn prepare_native(
        &self,
        name: &str,
        first: Option<&Resolved>,
        json: &Value,
        streaming: bool,
    ) -> Result<NativePrepared, GatewayError> {
        let resolved = self.resolve_or_reuse(name, first)?;
        let resolved = if streaming {
            self.check_resolved(&resolved, Capability::Streaming)?;
            resolved
        } else {
            self.policy
                .check_allowed(&resolved.model, Some(&resolved.target))?;
            if resolved.model.mode == Mode::VideoGeneration {
                return Err(GatewayError::invalid_request(format!(
                    "model {}: runs only asynchronously (StartAsyncInvoke); submit it to POST /v1/jobs with `native`",
                    resolved.model.id
                )));
            }
            resolved
        };
        let mut body = json.clone();
        let mut max_tokens = None;
        if resolved.model.mode == Mode::Chat
            && let Some(ptr) = native::max_tokens_pointer(&resolved.model)
        {
            let requested = body
                .pointer(ptr)
                .map(|v| {
                    v.as_i64().ok_or_else(|| {
                        GatewayError::invalid_request(format!("body{ptr}: expected an integer"))
                    })
                })
                .transpose()?;
            let mt = self.policy.max_tokens(&resolved.model, requested)?;
            native::set_pointer(&mut body, ptr, json!(mt.value));
            max_tokens = Some(mt);
        }
        Ok(NativePrepared {
            resolved,
            max_tokens,
            body,
        })
    }

    /// The caller's API key on a candidate (`auth::admit`; nothing without a key).
    pub(crate) async fn admit_key(
        &self,
        ctx: &CallContext,
        resolved: &Resolved,
        body: crate::auth::Body<'_>,
        max_tokens: Option<u32>,
    ) -> Result<(), GatewayError> {
        self.check_priced(ctx, &resolved.model)?;
        crate::auth::admit(
            ctx.caller.as_ref(),
            &self.catalog(),
            resolved,
            body,
            max_tokens,
        )
        .await
    }

    /// A key bound to an application inference profile has its calls sent through it (learnt
    /// with GetInferenceProfile like a profile named as `model`), so AWS allocates their cost
    /// to the profile's tags; a model the profile does not serve is refused (`model_not_allowed`).
    async fn bind_to_key_profile(
        &self,
        ctx: &CallContext,
        resolved: Resolved,
    ) -> Result<Resolved, GatewayError> {
        let Some(arn) = ctx.bound_profile() else {
            return Ok(resolved);
        };
        self.learn_model(arn).await?;
        let catalog = self.catalog();
        let Some(profile) = catalog.application_profile(arn) else {
            return Err(GatewayError::new(
                crate::error::ErrorKind::ModelNotAllowed,
                format!(
                    "this API key is bound to application inference profile {}, which Bedrock \
                     does not know in this account and region (deleted?); ask the key's \
                     administrator",
                    crate::ids::arn_resource_id(arn)
                ),
            ));
        };
        resolved.through(profile)
    }

    /// A model without a known price (found by the live catalog) is called only where the
    /// deployment allows it (`GATEWAY_ALLOW_UNPRICED`), and never with a budgeted key: its cost
    /// cannot be reserved against a budget.
    fn check_priced(
        &self,
        ctx: &CallContext,
        model: &crate::catalog::ModelEntry,
    ) -> Result<(), GatewayError> {
        if !model.unpriced {
            return Ok(());
        }
        if !self.config.allow_unpriced {
            return Err(GatewayError::invalid_request(format!(
                "model {}: Bedrock offers it but the gateway has no price for it, and this \
                 deployment does not allow unpriced models (GATEWAY_ALLOW_UNPRICED)",
                model.id
            )));
        }
        let limits = ctx.caller.as_ref().map(|c| &c.record.limits);
        if limits.is_some_and(|l| l.budget_day_usd.is_some() || l.budget_month_usd.is_some()) {
            return Err(GatewayError::invalid_request(format!(
                "model {}: the gateway has no price for it, so a call cannot be admitted against \
                 this key's budget; use a priced model or a key without a budget",
                model.id
            )));
        }
        Ok(())
    }

    /// Which guardrail goes into the call's `guardrailConfig`, and which caller guardrail (if
    /// any) runs in addition through ApplyGuardrail. A caller's `guardrailConfig` is refused
    /// (400) unless `GATEWAY_ALLOW_CALLER_GUARDRAIL` is on or it names the deployment's own
    /// guardrail; the deployment's guardrail is never removed or replaced.
    pub(crate) fn guardrail_plan(
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

    /// For `model: "auto"`: takes `routing` out of the body, picks the model (also within the
    /// caller's API-key models), writes it into `model` and returns it with the decision.
    /// Other models pass through (a `routing` field with them is a 400).
    pub fn route_auto(
        &self,
        body: &mut Value,
        requested: String,
        ctx: &CallContext,
        streaming: bool,
    ) -> Result<(String, Option<Decision>), GatewayError> {
        let auto = is_auto(&requested);
        let Some(constraints) = take_constraints(body, auto)? else {
            return Ok((requested, None));
        };
        let need: &[Capability] = if streaming {
            &[Capability::Converse, Capability::Streaming]
        } else {
            &[Capability::Converse]
        };
        let key_allows =
            |m: &crate::catalog::ModelEntry| ctx.caller.as_ref().is_none_or(|c| c.allows(m));
        let d = route(
            &self.catalog(),
            &self.config,
            &self.policy,
            body,
            &constraints,
            need,
            &key_allows,
        )?;
        if let Value::Object(o) = body {
            o.insert("model".into(), Value::String(d.model.clone()));
        }
        tracing::info!(request_id = %ctx.request_id, model = %d.model, tier = d.tier.as_str(), "routed model \"auto\"");
        Ok((d.model.clone(), Some(d)))
    }

    /// Screens a Converse request body with the local content filter, in place: masked texts
    /// replace the originals; a blocked entity is a 400 `guardrail_blocked` naming its kind and
    /// field (and is counted). Returns the masking intervention, if any. `known`: the requested
    /// model's resolution when the call already has it, which names the model in a blocked
    /// input's metrics record without a second lookup.
    pub(crate) fn screen_converse_input(
        &self,
        body: &mut Value,
        ctx: &CallContext,
        operation: &str,
        known: Option<&Resolved>,
    ) -> Result<Option<Intervention>, GatewayError> {
        self.check_sources(body)?;
        let name = body.get("model").and_then(Value::as_str).map(str::to_owned);
        let model = || match known {
            Some(r) => r.model.id.to_string(),
            None => self.metrics_model(name.as_deref()),
        };
        self.screen_input(ctx, operation, model, body, guard::converse_input)
    }

    /// Screens a native body's texts (per the family of `first`, the resolved model: fallback
    /// stays within a family) with the local content filter, in place.
    pub(crate) fn screen_native_input(
        &self,
        first: Option<&Resolved>,
        body: &mut Value,
        ctx: &CallContext,
        operation: &str,
    ) -> Result<Option<Intervention>, GatewayError> {
        self.check_sources(body)?;
        let Some(r) = first else {
            return Ok(None);
        };
        let family = Family::for_model(&r.model);
        let model = || r.model.id.to_string();
        self.screen_input(ctx, operation, model, body, |v, f| {
            guard::native_input(family, v, f)
        })
    }

    /// Refuses `s3Location` sources outside `GATEWAY_S3_SOURCE_BUCKETS` (`sources`): Bedrock
    /// would read them with this function's role. Every call path's input screening runs it.
    pub fn check_sources(&self, body: &Value) -> Result<(), GatewayError> {
        crate::sources::check_s3_sources(body, &self.config.s3_source_buckets)
    }

    /// The bare model ID of `name` for metrics (the name itself when it does not resolve).
    fn metrics_model(&self, name: Option<&str>) -> String {
        let name = name
            .map(str::to_owned)
            .or_else(|| self.config.default_model.clone())
            .unwrap_or_default();
        self.resolve_name(&name)
            .map(|r| r.model.id.to_string())
            .unwrap_or(name)
    }

    /// `model`: the model's ID for the metrics record of a blocked input (looked up only then).
    fn screen_input(
        &self,
        ctx: &CallContext,
        operation: &str,
        model: impl FnOnce() -> String,
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
                        Stage::Input,
                        "blocked",
                        &std::collections::BTreeSet::from([kind]),
                    ),
                    &ctx.request_id,
                );
                let mut m = self.metrics(ctx, operation, &model());
                report.record(&mut m);
                m.error_type = Some(e.error_type().to_owned());
                m.emit(&self.config);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::catalog::Catalog;
    use crate::config::Config;
    use crate::routing::Tier;

    fn config(vars: &[(&str, &str)]) -> Config {
        crate::test_util::config_from(vars).unwrap()
    }

    fn id(name: &str) -> String {
        Catalog::embedded()
            .unwrap()
            .by_name(name)
            .unwrap()
            .id
            .to_string()
    }

    #[test]
    fn route_auto_writes_the_choice_into_the_body_and_takes_routing_out() {
        let cfg = config(&[("GATEWAY_DEFAULT_MODEL", "auto")]);
        let gw = crate::test_util::offline_gateway(cfg);
        let ctx = crate::CallContext::new("test");
        // No `model`: the deployment default `auto` routes.
        let mut b = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}],
                           "routing": {"tier": "balanced"}});
        let requested = gw.requested_model(&b).unwrap();
        let (model, d) = gw.route_auto(&mut b, requested, &ctx, true).unwrap();
        assert_eq!(model, id("sonnet"));
        assert_eq!(b["model"], json!(id("sonnet")));
        assert!(b.get("routing").is_none());
        assert_eq!(d.unwrap().requested_tier, Tier::Balanced);
        // A named model passes through untouched.
        let mut b = json!({"model": "nova-lite", "messages": []});
        let (model, d) = gw
            .route_auto(&mut b, "nova-lite".into(), &ctx, false)
            .unwrap();
        assert_eq!((model.as_str(), d.is_none()), ("nova-lite", true));
    }

    /// A gateway whose catalog has one unpriced model (as the live catalog adds it) besides
    /// the embedded ones.
    fn with_unpriced(vars: &[(&str, &str)]) -> crate::pipeline::Gateway {
        use crate::live_catalog::{LiveModel, merge};
        let gw = crate::test_util::offline_gateway(config(vars));
        let shipped = Catalog::embedded().unwrap();
        let live: Vec<LiveModel> = shipped
            .models()
            .iter()
            .map(|m| m.id.clone())
            .chain(["acme.frontier-v1:0".parse().unwrap()])
            .map(LiveModel::text)
            .collect();
        gw.catalog_store()
            .update(|c| merge(&shipped, c, &live, "2026-12-06T00:00:00Z".into()).unwrap());
        gw
    }

    #[tokio::test]
    async fn unpriced_models_are_refused_unless_the_deployment_allows_them() {
        let ctx = crate::CallContext::new("test");
        let body = json!({"messages": []});
        for (vars, allowed) in [
            (&[][..], false),
            (&[("GATEWAY_ALLOW_UNPRICED", "true")][..], true),
        ] {
            let gw = with_unpriced(vars);
            let resolved = gw
                .resolve_allowed("acme.frontier-v1:0", crate::catalog::Capability::Converse)
                .unwrap();
            let admitted = gw
                .admit_key(
                    &ctx,
                    &resolved,
                    crate::auth::Body::Converse(&body),
                    Some(100),
                )
                .await;
            match admitted {
                Ok(()) => assert!(allowed),
                Err(e) => {
                    assert!(!allowed, "{}", e.message());
                    assert_eq!(e.status(), 400);
                    assert!(
                        e.message().contains("GATEWAY_ALLOW_UNPRICED"),
                        "{}",
                        e.message()
                    );
                }
            }
            // A priced model is unaffected either way.
            let haiku = gw
                .resolve_allowed("haiku", crate::catalog::Capability::Converse)
                .unwrap();
            gw.admit_key(&ctx, &haiku, crate::auth::Body::Converse(&body), Some(100))
                .await
                .unwrap();
        }
    }
}
