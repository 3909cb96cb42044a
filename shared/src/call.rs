//! The typed values one model call carries between the pipeline's stages: the admitted
//! candidate ([`Prepared`]) and what the gateway reports about the call ([`CallMeta`]), so no
//! stage reads another's result back out of JSON.

use serde::Serialize;
use serde_json::Value;

use crate::convert::ConverseParts;
use crate::cost::{Cost, Usage, Usd};
use crate::policy::MaxTokens;
use crate::resilience::FallbackStep;
use crate::resolve::{Resolved, ResolvedView};

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

/// The gateway's fields of an answer (beside the model's own body): what was called, what it
/// cost and how the call went. Serialised, its fields are the top-level envelope fields of
/// responses and of the closing stream event.
#[derive(Debug, Clone, Serialize)]
pub struct CallMeta {
    /// The ID that was called (bare model ID or inference profile).
    pub model: String,
    /// How the requested name resolved.
    pub resolved: ResolvedView,
    /// The `maxTokens` applied (`null` for native bodies without one, e.g. embeddings).
    pub max_tokens: Option<MaxTokens>,
    /// What the call cost (zero for a cache hit); `null` when the model has no known price.
    #[serde(serialize_with = "cost_or_null")]
    pub cost: Cost,
    /// `true` when `cost` is `null`: the model has no known price (never reported as 0).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cost_unknown: bool,
    /// The request ID.
    pub request_id: String,
    /// Abandoned attempts before the one that answered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<FallbackStep>,
    /// What the response cache did (`None`: not engaged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheOutcome>,
    /// The router's decision for `model: "auto"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<Value>,
    /// Guardrail interventions (Bedrock's, a caller's, the local filter's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardrail: Option<Value>,
}

impl CallMeta {
    /// The envelope of a call on `resolved` with `cost`; the optional parts start empty.
    pub fn new(
        resolved: &Resolved,
        max_tokens: Option<MaxTokens>,
        cost: Cost,
        request_id: &str,
    ) -> Self {
        CallMeta {
            model: resolved.target.id(),
            resolved: resolved.describe(),
            max_tokens,
            cost_unknown: cost.unpriced,
            cost,
            request_id: request_id.to_owned(),
            fallback: Vec::new(),
            cache: None,
            routing: None,
            guardrail: None,
        }
    }

    /// Writes the envelope's fields into a JSON object (the model's body or an event payload).
    pub fn merge_into(&self, v: &mut Value) {
        if let (Value::Object(o), Ok(Value::Object(meta))) = (v, serde_json::to_value(self)) {
            o.extend(meta);
        }
    }
}

/// What the response cache did for a call: the response's `cache` object and the
/// `x-gateway-cache` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheOutcome {
    /// `hit`, `miss`, `bypass` or `refresh`.
    pub status: &'static str,
    /// A hit's tier (`memory`, `shared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<&'static str>,
    /// What a hit saved: the original call's cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_usd: Option<Usd>,
    /// A hit's age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<u64>,
    /// Whether a miss or refresh stored its answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
}

/// A Converse answer: the body in Bedrock's shape, the gateway's envelope, and the usage the
/// body reports (a cache hit reports the stored answer's usage, at zero cost).
#[derive(Debug, Clone)]
pub struct Reply {
    /// Bedrock's Converse response (`output`, `stopReason`, `usage`, `metrics`, ...).
    pub body: Value,
    /// The gateway's fields.
    pub meta: CallMeta,
    /// The token usage the body reports.
    pub usage: Usage,
}

impl Reply {
    /// The response as the HTTP API returns it: the body with the envelope's fields added.
    pub fn into_json(self) -> Value {
        let mut v = self.body;
        self.meta.merge_into(&mut v);
        v
    }
}

/// An unpriced model's cost is unknown, not zero: serialised as `null` (with `cost_unknown`).
fn cost_or_null<S: serde::Serializer>(cost: &Cost, s: S) -> Result<S::Ok, S::Error> {
    if cost.unpriced {
        s.serialize_none()
    } else {
        serde::Serialize::serialize(cost, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::config::ProfilePreference;
    use crate::cost::{Usage, cost_for};

    #[test]
    fn an_unpriced_model_reports_its_cost_as_unknown_never_zero() {
        let catalog = Catalog::embedded().unwrap();
        let region = "us-east-1".parse().unwrap();
        let mut resolved =
            crate::resolve::resolve_in(&catalog, &region, ProfilePreference::Regional, "nova-lite")
                .unwrap();
        let usage = Usage::new(10, 20);
        let priced = serde_json::to_value(CallMeta::new(
            &resolved,
            None,
            cost_for(&catalog, &resolved, &usage),
            "r",
        ))
        .unwrap();
        assert!(priced["cost"]["total"].is_string());
        assert!(priced.get("cost_unknown").is_none());

        resolved.model.unpriced = true;
        let cost = cost_for(&catalog, &resolved, &usage);
        assert_eq!(
            (cost.to_json(), cost.total_text().as_str()),
            (Value::Null, "unknown")
        );
        let meta = serde_json::to_value(CallMeta::new(&resolved, None, cost, "r")).unwrap();
        assert_eq!(meta["cost"], Value::Null);
        assert_eq!(meta["cost_unknown"], Value::Bool(true));
    }
}
