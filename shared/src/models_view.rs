//! The catalog as a deployment exposes it (`GET /v1/models`, `GET /v1/models/{name}`): only the
//! models its allowlist permits, with the ID each name resolves to in this region and the price
//! that resolution implies.

use serde_json::{Map, Value, json};

use crate::catalog::{Capability, Catalog, ModelEntry, Prices, PricingScope};
use crate::config::Config;
use crate::error::GatewayError;
use crate::policy::Policy;
use crate::resolve::{choose_target, resolve};

/// `{"models": [...], "region", "price_date", "currency"}` for every allowed model.
pub fn list_models(catalog: &Catalog, config: &Config) -> Value {
    let policy = Policy::from_config(config);
    let models: Vec<Value> = catalog
        .models()
        .iter()
        .filter_map(|m| {
            let target = choose_target(m, &config.region, config.profile_preference).ok();
            policy
                .is_allowed(m, target.as_ref())
                .then(|| model_json(catalog, config, &policy, m))
        })
        .collect();
    json!({
        "models": models,
        "region": config.region.as_str(),
        "currency": catalog.meta().currency,
        "price_date": catalog.meta().price_date,
        "default_model": config.default_model,
        "catalog_source": if catalog.origin().live { "live" } else { "shipped" },
        "catalog_refreshed_at": catalog.origin().refreshed_at,
    })
}

/// One model by any name a caller may use; 404 if unknown, 400 `model_not_allowed` if the
/// deployment does not allow it.
pub fn describe_model(
    catalog: &Catalog,
    config: &Config,
    name: &str,
) -> Result<Value, GatewayError> {
    let policy = Policy::from_config(config);
    // Unknown names are 404 with suggestions even when the model cannot be called here.
    let resolved = match resolve(catalog, config, name) {
        Ok(r) => r,
        Err(e) if e.status() == http::StatusCode::NOT_FOUND => return Err(e),
        Err(e) => {
            // Known model, but not callable from this region (or a bad profile): describe the
            // catalog entry and say why.
            let model = catalog
                .by_name(name)
                .or_else(|| name.parse().ok().and_then(|id| catalog.get(&id)))
                .ok_or(e)?;
            policy.check_allowed(model, None)?;
            return Ok(model_json(catalog, config, &policy, model));
        }
    };
    policy.check_allowed(&resolved.model, Some(&resolved.target))?;
    let mut v = model_json(catalog, config, &policy, &resolved.model);
    if let Value::Object(o) = &mut v {
        o.insert("requested".into(), json!(resolved.requested));
        o.insert("invoked".into(), json!(resolved.target.id()));
        o.insert(
            "pricing".into(),
            priced_json(catalog, &resolved.model, resolved.pricing),
        );
    }
    Ok(v)
}

fn model_json(catalog: &Catalog, config: &Config, policy: &Policy, m: &ModelEntry) -> Value {
    let capabilities: Map<String, Value> = Capability::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), json!(m.supports(*c))))
        .collect();
    let target = choose_target(m, &config.region, config.profile_preference);
    let (invoked, available, reason, scope) = match &target {
        Ok(t) => {
            let scope = if t.geography().is_some_and(|g| g.is_global()) {
                PricingScope::Global
            } else {
                PricingScope::Regional
            };
            (Some(t.id()), true, None, scope)
        }
        Err(e) => (
            None,
            false,
            Some(e.message().to_owned()),
            PricingScope::Regional,
        ),
    };
    let mut v = json!({
        "id": m.id,
        "display_name": m.display_name,
        "provider": m.provider,
        "family": m.family,
        "mode": m.mode,
        "aliases": m.aliases,
        "max_input_tokens": m.max_input_tokens,
        "max_output_tokens": m.max_output_tokens,
        "default_max_tokens": (m.max_output_tokens > 0).then(|| policy.default_max_tokens(m)),
        "input_modalities": m.input_modalities,
        "output_modalities": m.output_modalities,
        "capabilities": capabilities,
        "profiles": m.profiles,
        "on_demand": m.on_demand,
        "region": config.region.as_str(),
        "invoked": invoked,
        "available": available,
        "pricing": priced_json(catalog, m, scope),
        "priced": !m.unpriced,
    });
    if let (Some(reason), Value::Object(o)) = (reason, &mut v) {
        o.insert("unavailable_reason".into(), json!(reason));
    }
    v
}

/// The model's prices, or `null` for a model without a known price (never zeros).
fn priced_json(catalog: &Catalog, m: &ModelEntry, scope: PricingScope) -> Value {
    if m.unpriced {
        Value::Null
    } else {
        pricing_json(catalog, m, scope)
    }
}

fn prices_json(p: &Prices) -> Value {
    let s = |d: rust_decimal::Decimal| d.normalize().to_string();
    let mut o = Map::new();
    o.insert("input".into(), json!(s(p.input_cost_per_mtok)));
    o.insert("output".into(), json!(s(p.output_cost_per_mtok)));
    if let Some(d) = p.cache_read_input_token_cost_per_mtok {
        o.insert("cache_read".into(), json!(s(d)));
    }
    if let Some(d) = p.cache_creation_input_token_cost_per_mtok {
        o.insert("cache_write".into(), json!(s(d)));
    }
    if let Some(d) = p.cache_creation_input_token_cost_above_1hr_per_mtok {
        o.insert("cache_write_1h".into(), json!(s(d)));
    }
    if let Some(d) = p.output_cost_per_video_per_second {
        o.insert("video_per_second".into(), json!(s(d)));
    }
    Value::Object(o)
}

fn pricing_json(catalog: &Catalog, m: &ModelEntry, scope: PricingScope) -> Value {
    let mut v = json!({
        "currency": catalog.meta().currency,
        "unit": "per_million_tokens",
        "pricing": scope.as_str(),
        "price_date": catalog.price_date(m),
        "source": catalog.price_source(m),
    });
    if let (Value::Object(o), Value::Object(p)) = (&mut v, prices_json(m.prices(scope))) {
        o.extend(p);
        if m.price_regional.is_some() {
            o.insert("global".into(), prices_json(&m.price));
            o.insert(
                "regional".into(),
                prices_json(m.prices(PricingScope::Regional)),
            );
        }
        if !m.tiers.is_empty() {
            o.insert("tiers".into(), tiers_json(m, scope));
        }
    }
    v
}

/// The tiers other than standard the model offers (`serviceTier.type`, or
/// `latency_optimized` = `performanceConfig.latency`), each priced for `scope`, with the
/// figure's source and whether it was confirmed on AWS's pages.
fn tiers_json(m: &ModelEntry, scope: PricingScope) -> Value {
    let mut tiers = Map::new();
    for offer in &m.tiers {
        let Some(Value::Object(mut t)) = m.tier_prices(scope, offer.tier).map(|p| prices_json(&p))
        else {
            continue;
        };
        if let Some(x) = offer.multiplier {
            t.insert("multiplier".into(), json!(x.normalize().to_string()));
        }
        t.insert("source".into(), json!(offer.source));
        t.insert("as_of".into(), json!(offer.as_of));
        t.insert("verified".into(), json!(offer.verified));
        tiers.insert(offer.tier.as_str().into(), Value::Object(t));
    }
    Value::Object(tiers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| map.get(k).cloned()).unwrap()
    }

    #[test]
    fn a_models_tiers_are_listed_with_their_prices() {
        let c = Catalog::embedded().unwrap();
        let v = list_models(
            &c,
            &config(&[("GATEWAY_ALLOWED_MODELS", "nova-pro,nova-lite")]),
        );
        let models = v["models"].as_array().unwrap();
        let pro = models
            .iter()
            .find(|m| m["id"] == "amazon.nova-pro-v1:0")
            .unwrap();
        let tiers = &pro["pricing"]["tiers"];
        assert_eq!(tiers["flex"]["multiplier"], "0.5");
        assert_eq!(tiers["flex"]["input"], "0.4", "half of 0.80: {tiers}");
        assert_eq!(tiers["priority"]["input"], "1.4", "1.75 x 0.80: {tiers}");
        assert_eq!(tiers["flex"]["verified"], false);
        assert!(tiers["latency_optimized"]["input"].is_string(), "{tiers}");
        let lite = models
            .iter()
            .find(|m| m["id"] == "amazon.nova-lite-v1:0")
            .unwrap();
        assert!(lite["pricing"].get("tiers").is_none());
    }

    #[test]
    fn lists_allowed_models_with_resolution_and_prices() {
        let c = Catalog::embedded().unwrap();
        let v = list_models(
            &c,
            &config(&[("GATEWAY_ALLOWED_MODELS", "anthropic.claude-*,nova-pro")]),
        );
        let models = v["models"].as_array().unwrap();
        // The 12 Claude models of the shipped catalog, and Nova Pro.
        assert_eq!(models.len(), 13);
        let sonnet = models.iter().find(|m| m["aliases"][0] == "sonnet").unwrap();
        assert_eq!(
            sonnet["invoked"],
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        assert_eq!(sonnet["pricing"]["pricing"], "regional");
        assert_eq!(sonnet["pricing"]["input"], "3.3");
        assert_eq!(sonnet["pricing"]["global"]["input"], "3");
        assert_eq!(sonnet["capabilities"]["count_tokens"], true);
        assert_eq!(sonnet["default_max_tokens"], 4096);
    }

    #[test]
    fn describe() {
        let c = Catalog::embedded().unwrap();
        let cfg = config(&[
            ("AWS_REGION", "eu-west-1"),
            ("GATEWAY_PROFILE_PREFERENCE", "global"),
        ]);
        let v = describe_model(&c, &cfg, "sonnet").unwrap();
        assert_eq!(
            v["invoked"],
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        assert_eq!(v["pricing"]["pricing"], "global");
        assert_eq!(v["pricing"]["input"], "3");
        assert_eq!(describe_model(&c, &cfg, "sonet").unwrap_err().status(), 404);
        let v = describe_model(&c, &cfg, "llama-3.3-70b").unwrap();
        assert_eq!(v["available"], false);
        let cfg = config(&[("GATEWAY_ALLOWED_MODELS", "nova-*")]);
        assert_eq!(
            describe_model(&c, &cfg, "sonnet").unwrap_err().error_type(),
            "model_not_allowed"
        );
    }
}
