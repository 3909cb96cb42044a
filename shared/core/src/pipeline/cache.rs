//! The response cache as a pipeline step: the lookup after admission of the requested model,
//! a hit's answer (zero cost, one metrics record), and the zero price of a hit.

use std::time::Instant;

use serde_json::{Value, json};

use crate::cache::{AnswerKind, CacheKey, CacheProbe};
use crate::call::{CallMeta, Prepared, Reply};
use crate::catalog::Capability;
use crate::context::CallContext;
use crate::convert::ConverseParts;
use crate::convert::request::GuardrailSpec;
use crate::cost::{Cost, Usage, cost_for};
use crate::error::GatewayError;
use crate::resolve::Resolved;

use super::Gateway;
use super::record::CallRecord;

impl Gateway {
    /// Decides what the cache does for a call and looks it up. `requested` is the model the
    /// call will try first (with the route's resolution of it, if any); the key is computed from
    /// its prepared request (what would be sent). An invalid `x-gateway-cache` value is a 400
    /// even when the cache is off.
    pub(crate) async fn cache_probe(
        &self,
        kind: AnswerKind,
        (requested, known): (&str, Option<&Resolved>),
        parts: &ConverseParts,
        caller_guardrail: Option<&GuardrailSpec>,
        ctx: &CallContext,
    ) -> Result<CacheProbe, GatewayError> {
        let capability = match kind {
            AnswerKind::Converse => Capability::Converse,
            AnswerKind::Stream => Capability::Streaming,
        };
        let policy = format!("{:?}", self.config.content_policy);
        // Per API key unless the deployment shares the cache (GATEWAY_CACHE_SCOPE=shared).
        let scope = match &ctx.caller {
            Some(c) if !self.config.cache.shared_across_keys => Some(c.key_id().as_str()),
            _ => None,
        };
        CacheProbe::open(
            self.cache.as_ref(),
            kind,
            &ctx.cache,
            || {
                self.prepare_with(requested, known, parts, capability, ctx.default_tier())
                    .ok()
            },
            |p| CacheKey::of(kind, p, caller_guardrail, &policy, scope),
            |m| ctx.caller.as_ref().is_none_or(|c| c.allows(m)),
        )
        .await
    }

    /// A Converse hit's answer: the stored answer with the gateway's fields, `cost` zero,
    /// `cache` marked, `metrics.latencyMs` of this call; one metrics record.
    pub(crate) fn cache_hit(
        &self,
        probe: &CacheProbe,
        ctx: &CallContext,
        started: Instant,
    ) -> Option<Reply> {
        let (answer, prepared) = (probe.hit()?, probe.prepared()?);
        if answer.kind != AnswerKind::Converse {
            return None;
        }
        let mut body = answer.body.clone();
        let latency = started.elapsed();
        if let Some(m) = body.get_mut("metrics").and_then(Value::as_object_mut) {
            m.insert("latencyMs".into(), json!(latency.as_millis() as u64));
        }
        let cost = self.free(prepared);
        let none = Default::default();
        let model = prepared.resolved.model.id.as_str();
        let mut record = CallRecord::new("Converse", model, started, &none);
        record.cost = Some(&cost);
        record.cache = Some(probe);
        self.record(ctx, record);
        tracing::info!(request_id = %ctx.request_id, model = %prepared.resolved.target.id(), "converse served from the response cache");
        let mut meta = CallMeta::new(
            &prepared.resolved,
            Some(prepared.max_tokens),
            cost,
            &ctx.request_id,
        );
        meta.cache = probe.outcome();
        Some(Reply {
            body,
            meta,
            usage: Usage::from(answer.usage),
        })
    }

    /// The zero cost of a hit, in the price list of the call it stands in for.
    pub fn free(&self, prepared: &Prepared) -> Cost {
        cost_for(&self.catalog(), &prepared.resolved, &Usage::default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cache::{CacheDirective, CacheStatus, ResponseCache};

    fn gateway(vars: &[(&str, &str)]) -> Gateway {
        let cfg = crate::test_util::config_from(vars).unwrap();
        let settings = cfg.cache.clone();
        crate::test_util::offline_gateway(cfg).with_cache(ResponseCache::new(settings))
    }

    fn parts(body: serde_json::Value) -> ConverseParts {
        ConverseParts::from_json(&body, &["model"]).unwrap()
    }

    fn ctx(d: CacheDirective) -> crate::CallContext {
        crate::CallContext::new("test").with_cache(d)
    }

    #[tokio::test]
    async fn keys_cover_what_changes_the_answer_and_not_metadata() {
        let gw = gateway(&[("GATEWAY_CACHE", "on")]);
        let base = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}],
                          "inferenceConfig": {"temperature": 0.5}});
        let key_of = |body: serde_json::Value, model: &str| {
            let gw = gw.clone();
            let model = model.to_owned();
            async move {
                let p = gw
                    .cache_probe(
                        AnswerKind::Converse,
                        (&model, None),
                        &parts(body),
                        None,
                        &ctx(CacheDirective::Use),
                    )
                    .await
                    .unwrap();
                format!(
                    "{:?}",
                    p.prepared()
                        .map(|p| CacheKey::of(AnswerKind::Converse, p, None, "", None))
                )
            }
        };
        let k = key_of(base.clone(), "haiku").await;
        assert_eq!(
            k,
            key_of(base.clone(), "anthropic.claude-haiku-4-5-20251001-v1:0").await
        );
        let mut meta = base.clone();
        meta["requestMetadata"] = json!({"team": "a"});
        assert_eq!(k, key_of(meta, "haiku").await);
        assert_ne!(k, key_of(base.clone(), "sonnet").await);
        for (field, value) in [
            ("inferenceConfig", json!({"temperature": 0.6})),
            (
                "inferenceConfig",
                json!({"temperature": 0.5, "maxTokens": 10}),
            ),
            ("system", json!([{"text": "be brief"}])),
            ("additionalModelRequestFields", json!({"top_k": 5})),
            (
                "toolConfig",
                json!({"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {}}}}]}),
            ),
        ] {
            let mut b = base.clone();
            b[field] = value;
            assert_ne!(k, key_of(b, "haiku").await, "{field}");
        }
    }

    #[tokio::test]
    async fn modes_and_directives_decide_what_the_probe_does() {
        let body = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
        let probe = |gw: Gateway, d: CacheDirective| {
            let p = parts(body.clone());
            async move {
                gw.cache_probe(AnswerKind::Converse, ("haiku", None), &p, None, &ctx(d))
                    .await
                    .map(|p| p.status().map(CacheStatus::as_str))
            }
        };
        let opt_in = gateway(&[("GATEWAY_CACHE", "opt_in")]);
        assert_eq!(
            probe(opt_in.clone(), CacheDirective::Default)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            probe(opt_in.clone(), CacheDirective::Use).await.unwrap(),
            Some("miss")
        );
        assert_eq!(
            probe(opt_in.clone(), CacheDirective::Bypass).await.unwrap(),
            Some("bypass")
        );
        assert_eq!(
            probe(opt_in.clone(), CacheDirective::Refresh)
                .await
                .unwrap(),
            Some("refresh")
        );
        let e = probe(opt_in, CacheDirective::Invalid("x".into()))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400);
        let on = gateway(&[("GATEWAY_CACHE", "on")]);
        assert_eq!(
            probe(on, CacheDirective::Default).await.unwrap(),
            Some("miss")
        );
    }
}
