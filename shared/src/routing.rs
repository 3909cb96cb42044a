//! Cost-aware routing: `model: "auto"` picks the cheapest allowed model that fits the request.
//!
//! A request may add `routing: {"tier", "capabilities", "max_cost_usd"}`. The tier is a floor
//! (`fast` may escalate to `balanced` or `best` models when no fast one fits, never the reverse);
//! tiers name models through `GATEWAY_ROUTING_{FAST,BALANCED,BEST}`. Every candidate is checked
//! against the allowlist, the capabilities the request needs (asked for, or used by the body:
//! tools, images, documents), the `maxTokens` policy and its context window (local input
//! estimate + `maxTokens`), then priced in the worst case (that input plus `maxTokens` of output)
//! with the same estimate and price logic as `/v1/count`. The cheapest wins; the decision, its
//! reason and every skipped model with its reason go back in the response as `routing`.
//! Pure logic: no network call is made to decide.

use std::collections::BTreeSet;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Capability, Catalog, Mode};
use crate::config::Config;
use crate::cost::{Cost, estimate};
use crate::error::GatewayError;
use crate::estimate::{Family, estimate_request};
use crate::policy::Policy;
use crate::resolve::{Resolved, resolve};

/// The model name that asks for routing.
pub const AUTO: &str = "auto";

/// The body field with routing constraints.
pub const FIELD: &str = "routing";

pub use crate::config::routing::{RoutingSettings, Tier};

/// What a request asked of the router.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// The floor (the deployment default when `None`).
    pub tier: Option<Tier>,
    /// Capabilities asked for explicitly.
    pub capabilities: BTreeSet<Capability>,
    /// Ceiling on the worst-case cost of the call.
    pub max_cost_usd: Option<Decimal>,
}

impl Constraints {
    /// Parses `routing` (absent or null: no constraints).
    pub fn from_json(v: Option<&Value>) -> Result<Constraints, GatewayError> {
        let mut c = Constraints::default();
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(c);
        };
        let o = v.as_object().ok_or_else(|| {
            GatewayError::invalid_request(
                "routing: expected an object {tier, capabilities, max_cost_usd}",
            )
        })?;
        if let Some(k) = o
            .keys()
            .find(|k| !["tier", "capabilities", "max_cost_usd"].contains(&k.as_str()))
        {
            return Err(GatewayError::invalid_request(format!(
                "routing: unknown field {k:?} (expected tier, capabilities, max_cost_usd)"
            )));
        }
        if let Some(t) = o.get("tier").filter(|v| !v.is_null()) {
            let s = t.as_str().unwrap_or_default();
            c.tier = Some(s.parse().map_err(|()| {
                GatewayError::invalid_request(format!(
                    "routing.tier: expected fast, balanced or best, got {t}"
                ))
            })?);
        }
        if let Some(caps) = o.get("capabilities").filter(|v| !v.is_null()) {
            let arr = caps.as_array().ok_or_else(|| {
                GatewayError::invalid_request("routing.capabilities: expected an array of names")
            })?;
            for x in arr {
                let cap = x
                    .as_str()
                    .and_then(|s| Capability::ALL.into_iter().find(|c| c.as_str() == s))
                    .ok_or_else(|| {
                        GatewayError::invalid_request(format!(
                            "routing.capabilities: unknown capability {x} (one of: {})",
                            Capability::ALL.map(Capability::as_str).join(", ")
                        ))
                    })?;
                c.capabilities.insert(cap);
            }
        }
        if let Some(m) = o.get("max_cost_usd").filter(|v| !v.is_null()) {
            let text = match m {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let d = Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .ok()
                .filter(|d| d.is_sign_positive() && !d.is_zero())
                .ok_or_else(|| {
                    GatewayError::invalid_request(format!(
                        "routing.max_cost_usd: expected a positive amount in USD, got {m}"
                    ))
                })?;
            c.max_cost_usd = Some(d);
        }
        Ok(c)
    }
}

/// Capabilities a Converse body uses: tools (`toolConfig.tools`), vision (image blocks),
/// documents (document blocks), video (counted as vision), structured output (`outputConfig`
/// with a `textFormat`).
pub fn used_capabilities(body: &Value) -> BTreeSet<Capability> {
    let mut caps = BTreeSet::new();
    if body.pointer("/outputConfig/textFormat").is_some() {
        caps.insert(Capability::StructuredOutput);
    }
    if body
        .pointer("/toolConfig/tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
    {
        caps.insert(Capability::Tools);
    }
    let blocks = body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .chain(
            body.get("system")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    for b in blocks {
        if b.get("image").is_some() || b.get("video").is_some() {
            caps.insert(Capability::Vision);
        }
        if b.get("document").is_some() {
            caps.insert(Capability::Documents);
        }
    }
    caps
}

/// A model the router did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The model ID (or the configured name when it does not resolve).
    pub model: String,
    /// Why it was not taken.
    pub reason: String,
}

/// The router's choice.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The bare model ID chosen: the call is made with it.
    pub model: String,
    /// `model` resolved, as the call resolves it: admission takes it instead of a second lookup.
    #[serde(skip)]
    pub resolved: Resolved,
    /// The tier the model was configured in.
    pub tier: Tier,
    /// The floor the request asked for (or the default).
    pub requested_tier: Tier,
    /// Why this one, in a sentence.
    pub reason: String,
    /// Local input estimate for the chosen model's tokenizer.
    pub input_tokens_estimate: u64,
    /// Worst-case cost (estimated input plus `maxTokens` of output).
    pub estimate: Cost,
    /// Models considered and not taken.
    pub skipped: Vec<Skipped>,
}

impl Decision {
    /// The `routing` object of responses.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One candidate that fits.
struct Fit {
    resolved: Resolved,
    tier: Tier,
    input: u64,
    cost: Cost,
}

/// Picks the model for an `auto` request. `body` is the Converse body without `routing`;
/// `need` are capabilities of the entry point (Converse, or Streaming too). A request nothing
/// fits is a 400 `invalid_request` naming each model and why it was skipped.
pub fn route(
    catalog: &Catalog,
    config: &Config,
    policy: &Policy,
    body: &Value,
    constraints: &Constraints,
    need: &[Capability],
    key_allows: &dyn Fn(&crate::catalog::ModelEntry) -> bool,
) -> Result<Decision, GatewayError> {
    let floor = constraints.tier.unwrap_or(config.routing.default_tier);
    let mut required: BTreeSet<Capability> = used_capabilities(body);
    required.extend(constraints.capabilities.iter().copied());
    required.extend(need.iter().copied());
    let requested_max = body
        .pointer("/inferenceConfig/maxTokens")
        .map(|v| {
            v.as_i64().ok_or_else(|| {
                GatewayError::invalid_request("inferenceConfig.maxTokens: expected an integer")
            })
        })
        .transpose()?;

    let need = Need {
        catalog,
        policy,
        body,
        constraints,
        required: &required,
        requested_max,
        key_allows,
    };
    let mut seen = BTreeSet::new();
    let mut skipped = Vec::new();
    let mut fits: Vec<Fit> = Vec::new();
    // The configured name finds the model; the call is made with its bare ID (the usual
    // resolution picks the profile), so the candidate is allowed and priced as that call, even
    // where the setting names a profile.
    let bare = |r: Resolved| resolve(catalog, config, r.model.id.as_str());
    for tier in Tier::ALL.into_iter().filter(|t| *t >= floor) {
        for name in config.routing.models(tier) {
            let resolved = match resolve(catalog, config, name).and_then(bare) {
                Ok(r) => r,
                Err(e) => {
                    skipped.push(Skipped {
                        model: name.clone(),
                        reason: format!("cannot be resolved here: {}", e.message()),
                    });
                    continue;
                }
            };
            if !seen.insert(resolved.model.id.to_string()) {
                continue;
            }
            if resolved.model.unpriced {
                // Its zero placeholder prices would always win the cheapest-first choice.
                skipped.push(Skipped {
                    model: resolved.model.id.to_string(),
                    reason: "has no known price (found by the live catalog)".into(),
                });
                continue;
            }
            match need.check(&resolved, tier)? {
                Ok(fit) => fits.push(fit),
                Err(reason) => skipped.push(Skipped {
                    model: resolved.model.id.to_string(),
                    reason,
                }),
            }
        }
    }
    // Cheapest first; on a tie the lower tier, then configuration order (the sort is stable).
    fits.sort_by(|a, b| {
        a.cost
            .total()
            .cmp(&b.cost.total())
            .then(a.tier.cmp(&b.tier))
    });
    let total = fits.len();
    let Some(best) = fits.into_iter().next() else {
        let why = if skipped.is_empty() {
            "no models are configured for it (GATEWAY_ROUTING_FAST/_BALANCED/_BEST)".to_owned()
        } else {
            skipped
                .iter()
                .map(|s| format!("{}: {}", s.model, s.reason))
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(GatewayError::invalid_request(format!(
            "model \"auto\": no model of tier {} or above fits this request: {why}",
            floor.as_str()
        )));
    };
    let reason = choice_reason(total, floor, &best, &required, constraints);
    Ok(Decision {
        model: best.resolved.model.id.to_string(),
        resolved: best.resolved,
        tier: best.tier,
        requested_tier: floor,
        reason,
        input_tokens_estimate: best.input,
        estimate: best.cost,
        skipped,
    })
}

/// What every routing candidate is checked against.
struct Need<'a> {
    catalog: &'a Catalog,
    policy: &'a Policy,
    body: &'a Value,
    constraints: &'a Constraints,
    required: &'a BTreeSet<Capability>,
    requested_max: Option<i64>,
    key_allows: &'a dyn Fn(&crate::catalog::ModelEntry) -> bool,
}

impl Need<'_> {
    /// The candidate's fit, or why it is skipped.
    fn check(
        &self,
        resolved: &crate::resolve::Resolved,
        tier: Tier,
    ) -> Result<Result<Fit, String>, GatewayError> {
        let m = &resolved.model;
        if !self.policy.is_allowed(m, Some(&resolved.target)) {
            return Ok(Err(
                "not allowed by this deployment (GATEWAY_ALLOWED_MODELS)".into(),
            ));
        }
        if !(self.key_allows)(m) {
            return Ok(Err("not allowed for this API key".into()));
        }
        if m.mode != Mode::Chat {
            return Ok(Err("not a chat model".into()));
        }
        let missing: Vec<&str> = self
            .required
            .iter()
            .filter(|c| !m.supports(**c))
            .map(|c| c.as_str())
            .collect();
        if !missing.is_empty() {
            return Ok(Err(format!("lacks {}", missing.join(", "))));
        }
        let max_tokens = match self.policy.max_tokens(m, self.requested_max) {
            Ok(mt) => u64::from(mt.value),
            Err(e) => return Ok(Err(e.message().to_owned())),
        };
        let family = Family::for_model(m).unwrap_or(Family::Anthropic);
        let input = u64::from(estimate_request(family, self.body)?.tokens);
        if input + max_tokens > m.max_input_tokens {
            return Ok(Err(format!(
                "context window {} tokens is too small for ~{input} input + {max_tokens} \
                 maxTokens",
                m.max_input_tokens
            )));
        }
        let cost = estimate(self.catalog, m, resolved.pricing, input, max_tokens);
        if let Some(ceiling) = self.constraints.max_cost_usd
            && cost.total() > ceiling
        {
            return Ok(Err(format!(
                "worst-case cost ${} is over max_cost_usd ${}",
                cost.total.to_text(),
                ceiling.normalize()
            )));
        }
        Ok(Ok(Fit {
            resolved: resolved.clone(),
            tier,
            input,
            cost,
        }))
    }
}
/// Why the router chose `best`, for the response.
fn choice_reason(
    total: usize,
    floor: Tier,
    best: &Fit,
    required: &BTreeSet<Capability>,
    constraints: &Constraints,
) -> String {
    format!(
        "cheapest of {total} fitting model(s) in tier {} or above: worst case ${} for ~{} input \
         tokens and maxTokens{}{}",
        floor.as_str(),
        best.cost.total.to_text(),
        best.input,
        if required.is_empty() {
            String::new()
        } else {
            format!(
                "; needs {}",
                required
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        constraints
            .max_cost_usd
            .map(|c| format!("; within max_cost_usd ${}", c.normalize()))
            .unwrap_or_default(),
    )
}

/// Whether a body asks for routing (`model: "auto"`).
pub fn is_auto(model: &str) -> bool {
    model.eq_ignore_ascii_case(AUTO)
}

/// Takes `routing` out of a body (it is not a Converse field). A body that is not `auto` but
/// carries `routing` is refused: the constraints would silently do nothing.
pub fn take_constraints(body: &mut Value, auto: bool) -> Result<Option<Constraints>, GatewayError> {
    let Some(o) = body.as_object_mut() else {
        return Ok(None);
    };
    if !auto {
        if o.contains_key(FIELD) {
            return Err(GatewayError::invalid_request(
                "routing: only applies with model \"auto\"; remove it or set model to \"auto\"",
            ));
        }
        return Ok(None);
    }
    let v = o.remove(FIELD);
    Constraints::from_json(v.as_ref()).map(Some)
}

/// Adds `routing` to a response body (nothing when the request named its model).
pub fn annotate(v: &mut Value, decision: Option<&Decision>) {
    if let (Some(d), Value::Object(o)) = (decision, v) {
        o.insert(FIELD.into(), d.to_json());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| map.get(k).cloned()).unwrap()
    }

    fn run(cfg: &Config, body: Value) -> Result<Decision, GatewayError> {
        let catalog = Catalog::embedded().unwrap();
        let mut body = body;
        let c = take_constraints(&mut body, true)?.unwrap_or_default();
        route(
            &catalog,
            cfg,
            &Policy::from_config(cfg),
            &body,
            &c,
            &[Capability::Converse],
            &|_| true,
        )
    }

    fn hello() -> Value {
        json!({"model": "auto", "messages": [{"role": "user", "content": [{"text": "Hello"}]}]})
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
    fn defaults_pick_haiku_for_fast_sonnet_for_balanced_opus_for_best() {
        let cfg = config(&[]);
        assert_eq!(run(&cfg, hello()).unwrap().model, id("haiku"));
        let mut b = hello();
        b["routing"] = json!({"tier": "balanced"});
        let d = run(&cfg, b).unwrap();
        assert_eq!(d.model, id("sonnet"));
        assert_eq!(d.requested_tier, Tier::Balanced);
        let mut b = hello();
        b["routing"] = json!({"tier": "best"});
        assert_eq!(run(&cfg, b).unwrap().model, id("opus"));
    }

    #[test]
    fn cheapest_fitting_model_wins_and_the_reason_says_so() {
        let cfg = config(&[("GATEWAY_ROUTING_FAST", "sonnet, nova-micro, haiku")]);
        let d = run(&cfg, hello()).unwrap();
        assert_eq!(d.model, id("nova-micro"));
        assert!(d.reason.starts_with("cheapest of"), "{}", d.reason);
        assert!(d.estimate.estimate);
        assert!(d.input_tokens_estimate > 0);
    }

    #[test]
    fn capabilities_exclude_models_that_lack_them() {
        // nova-micro has no vision: asked for, or used by an image block, it is skipped.
        let cfg = config(&[("GATEWAY_ROUTING_FAST", "nova-micro, haiku")]);
        let mut b = hello();
        b["routing"] = json!({"capabilities": ["vision"]});
        let d = run(&cfg, b).unwrap();
        assert_eq!(d.model, id("haiku"));
        assert_eq!(d.skipped[0].model, id("nova-micro"));
        assert_eq!(d.skipped[0].reason, "lacks vision");

        let mut b = hello();
        b["messages"][0]["content"]
            .as_array_mut()
            .unwrap()
            .push(json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}));
        assert_eq!(run(&cfg, b).unwrap().model, id("haiku"));

        // Tools used by the body: titan-lite has none.
        let cfg = config(&[("GATEWAY_ROUTING_FAST", "titan-lite, haiku")]);
        let mut b = hello();
        b["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}]});
        let d = run(&cfg, b).unwrap();
        assert_eq!(d.model, id("haiku"));
        assert!(d.skipped[0].reason.contains("tools"), "{:?}", d.skipped);
    }

    #[test]
    fn over_long_requests_skip_small_windows() {
        let cfg = config(&[("GATEWAY_ROUTING_FAST", "titan-lite, haiku")]);
        // Short: titan-lite (4k window) is cheaper than Haiku, as long as input + maxTokens fits.
        let mut b = hello();
        b["inferenceConfig"] = json!({"maxTokens": 100});
        assert_eq!(run(&cfg, b).unwrap().model, id("titan-lite"));
        // ~6k tokens of input: titan-lite's 4k window is too small.
        let long = "lorem ipsum dolor sit amet ".repeat(1500);
        let mut b = json!({"model": "auto", "messages": [{"role": "user", "content": [{"text": long}]}],
                           "inferenceConfig": {"maxTokens": 100}});
        let d = run(&cfg, b.clone()).unwrap();
        assert_eq!(d.model, id("haiku"));
        assert!(
            d.skipped[0].reason.starts_with("context window 4096"),
            "{:?}",
            d.skipped
        );
        // ~150k tokens: nova-micro's 128k window is too small as well; Haiku's 200k fits.
        let cfg = config(&[("GATEWAY_ROUTING_FAST", "titan-lite, nova-micro, haiku")]);
        assert_eq!(run(&cfg, b.clone()).unwrap().model, id("nova-micro"));
        let longer = "lorem ipsum dolor sit amet ".repeat(30_000);
        b["messages"][0]["content"][0]["text"] = json!(longer);
        let d = run(&cfg, b).unwrap();
        assert_eq!(d.model, id("haiku"), "{:?}", d.skipped);
        assert_eq!(d.skipped.len(), 2);
        assert!(
            d.input_tokens_estimate > 128_000,
            "{}",
            d.input_tokens_estimate
        );
    }

    #[test]
    fn cost_ceiling_is_respected_or_refused_clearly() {
        let cfg = config(&[("GATEWAY_ROUTING_FAST", "opus, haiku")]);
        // maxTokens 4096 at Haiku's $5/M output is ~$0.02; Opus ~$0.10.
        let mut b = hello();
        b["routing"] = json!({"max_cost_usd": 0.05});
        let d = run(&cfg, b).unwrap();
        assert_eq!(d.model, id("haiku"));
        assert!(d.estimate.total() <= Decimal::from_str("0.05").unwrap());
        assert!(d.reason.contains("max_cost_usd"));

        let mut b = hello();
        b["routing"] = json!({"max_cost_usd": "0.0001"});
        let e = run(&cfg, b).unwrap_err();
        assert_eq!(e.status(), 400);
        let msg = e.message();
        assert!(msg.contains("no model of tier fast"), "{msg}");
        assert!(msg.contains("over max_cost_usd $0.0001"), "{msg}");
        assert!(
            msg.contains(&id("haiku")) && msg.contains(&id("opus")),
            "{msg}"
        );
        // A smaller maxTokens brings it under the ceiling.
        let mut b = hello();
        b["routing"] = json!({"max_cost_usd": "0.0001"});
        b["inferenceConfig"] = json!({"maxTokens": 10});
        assert_eq!(run(&cfg, b).unwrap().model, id("haiku"));
    }

    #[test]
    fn tier_is_a_floor_and_allowlist_applies() {
        let cfg = config(&[
            ("GATEWAY_ROUTING_FAST", "nova-micro"),
            ("GATEWAY_ALLOWED_MODELS", "sonnet,opus"),
        ]);
        let d = run(&cfg, hello()).unwrap();
        assert_eq!(d.model, id("sonnet"));
        assert!(d.skipped[0].reason.contains("not allowed"));
        let mut b = hello();
        b["routing"] = json!({"tier": "best"});
        assert_eq!(run(&cfg, b).unwrap().model, id("opus"));
        let cfg = config(&[("GATEWAY_ALLOWED_MODELS", "nova-*")]);
        let e = run(&cfg, hello()).unwrap_err();
        assert!(e.message().contains("not allowed"), "{}", e.message());
    }

    /// A setting that names a profile: the call is made with the bare ID (the usual resolution
    /// picks the profile), so the candidate is allowed and priced as that call, not as the
    /// profile named. Before, `global.…` was checked against an allowlist of `us.…` profiles
    /// (and skipped) and priced at the global list while the call went through `us.`.
    #[test]
    fn a_profile_in_the_setting_is_allowed_and_priced_as_the_call() {
        let global = format!("global.{}", id("haiku"));
        let as_profile = config(&[
            ("GATEWAY_ROUTING_FAST", global.as_str()),
            ("GATEWAY_ALLOWED_MODELS", "us.anthropic.*"),
        ]);
        let d = run(&as_profile, hello()).unwrap();
        assert_eq!(d.model, id("haiku"));
        assert_eq!(d.resolved.target.id(), format!("us.{}", id("haiku")));
        assert_eq!(d.resolved.requested, d.model);
        let by_alias = config(&[("GATEWAY_ROUTING_FAST", "haiku")]);
        let a = run(&by_alias, hello()).unwrap();
        assert_eq!(d.estimate.total(), a.estimate.total());
        assert_eq!(d.resolved.pricing, a.resolved.pricing);
    }

    #[test]
    fn bad_constraints_are_400s() {
        let cfg = config(&[]);
        for r in [
            json!("fast"),
            json!({"tier": "cheap"}),
            json!({"capabilities": ["telepathy"]}),
            json!({"max_cost_usd": -1}),
            json!({"max_cost_usd": "abc"}),
            json!({"speed": 1}),
        ] {
            let mut b = hello();
            b["routing"] = r.clone();
            let e = run(&cfg, b).unwrap_err();
            assert_eq!(e.status(), 400, "{r}");
            assert!(e.message().starts_with("routing"), "{}", e.message());
        }
        let mut b = hello();
        b["routing"] = json!({});
        assert!(take_constraints(&mut b, false).is_err());
        let e = config_err(&[("GATEWAY_ROUTING_DEFAULT_TIER", "cheap")]);
        assert!(e.starts_with("GATEWAY_ROUTING_DEFAULT_TIER"), "{e}");
    }

    fn config_err(vars: &[(&str, &str)]) -> String {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| map.get(k).cloned())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn an_unpriced_model_is_never_the_cheapest_choice() {
        use crate::live_catalog::{LiveModel, merge};
        let shipped = Catalog::embedded().unwrap();
        let live: Vec<LiveModel> = shipped
            .models()
            .iter()
            .map(|m| m.id.clone())
            .chain(["acme.frontier-v1:0".parse().unwrap()])
            .map(LiveModel::text)
            .collect();
        let catalog = merge(&shipped, &shipped, &live, "2026-12-06T00:00:00Z".into()).unwrap();
        let cfg = config(&[("GATEWAY_ROUTING_FAST", "acme.frontier-v1:0, haiku")]);
        let mut body = hello();
        let c = take_constraints(&mut body, true)
            .unwrap()
            .unwrap_or_default();
        let policy = Policy::from_config(&cfg);
        let d = route(
            &catalog,
            &cfg,
            &policy,
            &body,
            &c,
            &[Capability::Converse],
            &|_| true,
        )
        .unwrap();
        assert_eq!(d.model, id("haiku"));
        assert!(
            d.skipped
                .iter()
                .any(|s| s.model == "acme.frontier-v1:0" && s.reason.contains("no known price"))
        );
    }
}
