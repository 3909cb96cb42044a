//! Resolution: from what a caller wrote (alias, model ID, profile ID, ARN) and the function's
//! region to the ID Bedrock will accept, before anything is sent.
//!
//! Models that Bedrock refuses on demand by bare ID ("on-demand throughput isn't supported") are
//! sent to the system inference profile of the region's geography (or `global.` when the deployment
//! prefers it), because that error is the most common Bedrock integration failure.

use serde::Serialize;

use crate::catalog::{Catalog, ModelEntry, PricingScope};
use crate::config::{Config, ProfilePreference};
use crate::error::{ErrorKind, GatewayError};
use crate::ids::{ApplicationProfile, Geography, InvocationTarget, ModelRef, ProfileId, Region};
use crate::tier::Tier;

/// A name resolved against the catalog, for one region.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The catalog entry (capabilities, limits, prices).
    pub model: ModelEntry,
    /// What to send as `modelId`.
    pub target: InvocationTarget,
    /// Which price list applies.
    pub pricing: PricingScope,
    /// What the caller wrote.
    pub requested: String,
    /// The tier the call asks for (standard until the request is read: `with_tier`).
    pub tier: Tier,
}

impl Resolved {
    /// Sets the requested tier, refusing one the model does not offer (400, by name).
    pub fn with_tier(mut self, tier: Tier) -> Result<Resolved, GatewayError> {
        self.model.check_tier(tier)?;
        self.tier = tier;
        Ok(self)
    }

    /// Sends the call through `profile`, the application inference profile the caller's key is
    /// bound to: allowed only when the profile serves this model (the key may call no other).
    pub fn through(mut self, profile: &ApplicationProfile) -> Result<Resolved, GatewayError> {
        if profile.model != self.model.id {
            return Err(GatewayError::new(
                ErrorKind::ModelNotAllowed,
                format!(
                    "model {}: this API key is bound to application inference profile {}, which \
                     serves {}; the key may call only that model",
                    self.model.id,
                    profile.short_id(),
                    profile.model
                ),
            ));
        }
        self.target = InvocationTarget::Application(profile.clone());
        self.pricing = pricing_of(&self.target);
        Ok(self)
    }

    /// A short JSON description: `{"id", "invoked", "requested", "pricing"}`.
    pub fn describe(&self) -> ResolvedView {
        ResolvedView {
            id: self.model.id.to_string(),
            invoked: self.target.id(),
            requested: self.requested.clone(),
            pricing: self.pricing,
        }
    }
}

/// The serialisable summary of a [`Resolved`], used as `model` in responses.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResolvedView {
    /// Bare foundation-model ID.
    pub id: String,
    /// The ID actually called (bare or profile).
    pub invoked: String,
    /// What the caller asked for.
    pub requested: String,
    /// `global` or `regional`.
    pub pricing: PricingScope,
}

/// Bedrock's limit on a `modelId` (an ID, profile ID or ARN): longer names are refused before
/// any lookup.
pub const MAX_MODEL_NAME: usize = 2048;

/// Names longer than this get no "did you mean": no catalog name comes close, and the edit
/// distance costs the product of the lengths.
const MAX_SUGGESTED_NAME: usize = 256;

/// Resolves `name` for the configured region and preference.
pub fn resolve(catalog: &Catalog, config: &Config, name: &str) -> Result<Resolved, GatewayError> {
    resolve_in(catalog, &config.region, config.profile_preference, name)
}

/// Resolves `name` for an explicit region and preference.
pub fn resolve_in(
    catalog: &Catalog,
    region: &Region,
    preference: ProfilePreference,
    name: &str,
) -> Result<Resolved, GatewayError> {
    let requested = name.trim().to_owned();
    if requested.is_empty() {
        return Err(GatewayError::invalid_request("model: must not be empty"));
    }
    if requested.len() > MAX_MODEL_NAME {
        return Err(GatewayError::invalid_request(format!(
            "model: {} bytes long; Bedrock model IDs and ARNs are at most {MAX_MODEL_NAME} characters",
            requested.len()
        )));
    }
    let (model, target) = match ModelRef::parse(&requested) {
        ModelRef::Name(n) => {
            let model = catalog.by_name(&n).ok_or_else(|| not_found(catalog, &n))?;
            let target = choose_target(model, region, preference)?;
            (model, target)
        }
        ModelRef::Model(id) => {
            let model = catalog
                .get(&id)
                .ok_or_else(|| not_found(catalog, id.as_str()))?;
            let target = choose_target(model, region, preference)?;
            (model, target)
        }
        ModelRef::Profile(profile) => {
            let model = catalog
                .get(&profile.model)
                .ok_or_else(|| not_found(catalog, &requested))?;
            check_profile(model, &profile, region)?;
            (model, InvocationTarget::Profile(profile))
        }
        ModelRef::ApplicationProfileArn(arn) => {
            // Unknown here means GetInferenceProfile did not find it (the gateway asks before
            // resolving): the same 404 as any unknown model.
            let profile = catalog
                .application_profile(&arn)
                .ok_or_else(|| GatewayError::model_not_found(&arn, Vec::new()))?;
            let model = catalog.get(&profile.model).ok_or_else(|| {
                GatewayError::invalid_request(format!(
                    "model: application inference profile {arn} routes to {}, which the \
                     catalog does not know: the gateway cannot price or police it",
                    profile.model
                ))
            })?;
            (model, InvocationTarget::Application(profile.clone()))
        }
    };
    let pricing = pricing_of(&target);
    Ok(Resolved {
        model: model.clone(),
        target,
        pricing,
        requested,
        tier: Tier::Standard,
    })
}

/// The price list of a target: global through a global profile (or an application profile
/// copying one), regional otherwise.
fn pricing_of(target: &InvocationTarget) -> PricingScope {
    match target.geography() {
        Some(Geography::Global) => PricingScope::Global,
        _ => PricingScope::Regional,
    }
}

/// The target for a model named without a profile.
pub fn choose_target(
    model: &ModelEntry,
    region: &Region,
    preference: ProfilePreference,
) -> Result<InvocationTarget, GatewayError> {
    if model.on_demand {
        return Ok(InvocationTarget::Model(model.id.clone()));
    }
    let profile = |geography| {
        InvocationTarget::Profile(ProfileId {
            geography,
            model: model.id.clone(),
        })
    };
    if preference == ProfilePreference::Global && model.has_profile(Geography::Global) {
        return Ok(profile(Geography::Global));
    }
    if let Some(geo) = region.geography()
        && model.has_profile(geo)
    {
        return Ok(profile(geo));
    }
    if model.has_profile(Geography::Global) {
        return Ok(profile(Geography::Global));
    }
    Err(GatewayError::invalid_request(format!(
        "model {} is only callable through an inference profile, and none serves region {region} \
         (profiles: {})",
        model.id,
        list_profiles(model)
    )))
}

/// Whether a geographic profile can be called from `region` (Bedrock only routes from source
/// regions inside the profile's geography; `global.` works everywhere).
pub fn profile_serves(geography: Geography, region: &Region) -> bool {
    let r = region.as_str();
    match geography {
        Geography::Global => true,
        Geography::Jp => r.starts_with("ap-northeast-1") || r.starts_with("ap-northeast-3"),
        Geography::Au => r.starts_with("ap-southeast-2") || r.starts_with("ap-southeast-4"),
        Geography::Ca => r.starts_with("ca-"),
        g => region.geography() == Some(g),
    }
}

fn check_profile(
    model: &ModelEntry,
    profile: &ProfileId,
    region: &Region,
) -> Result<(), GatewayError> {
    if !model.has_profile(profile.geography) {
        return Err(GatewayError::invalid_request(format!(
            "model: {profile} does not exist; {} has profiles: {}",
            model.id,
            list_profiles(model)
        )));
    }
    if !profile_serves(profile.geography, region) {
        return Err(GatewayError::invalid_request(format!(
            "model: profile {profile} cannot be called from region {region}; use {} or the model \
             ID and let the gateway choose",
            region
                .geography()
                .filter(|g| model.has_profile(*g))
                .or(model
                    .has_profile(Geography::Global)
                    .then_some(Geography::Global))
                .map(|g| ProfileId {
                    geography: g,
                    model: model.id.clone()
                }
                .to_string())
                .unwrap_or_else(|| "another region".to_owned())
        )));
    }
    Ok(())
}

fn list_profiles(model: &ModelEntry) -> String {
    if model.profiles.is_empty() {
        return "none".to_owned();
    }
    model
        .profiles
        .iter()
        .map(|g| g.prefix())
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_found(catalog: &Catalog, name: &str) -> GatewayError {
    GatewayError::model_not_found(name, suggestions(catalog, name, 5))
}

/// Up to `limit` catalog names close to `name`: substring matches first, then by edit distance.
pub fn suggestions(catalog: &Catalog, name: &str, limit: usize) -> Vec<String> {
    let needle = name.trim().to_ascii_lowercase();
    // Compare profile IDs and ARNs by their model part.
    let needle = needle
        .rsplit('/')
        .next()
        .map(|s| match s.parse::<ProfileId>() {
            Ok(p) => p.model.to_string(),
            Err(_) => s.to_owned(),
        })
        .unwrap_or_default();
    let needle_chars = needle.chars().count();
    if needle.is_empty() || needle_chars > MAX_SUGGESTED_NAME {
        return Vec::new();
    }
    let max_distance = (needle_chars / 3).max(2);
    let mut scored: Vec<(usize, String)> = catalog
        .names()
        .filter_map(|candidate| {
            let c = candidate.to_ascii_lowercase();
            let score = if needle.len() >= 3 && (c.contains(&needle) || needle.contains(&c)) {
                // One name inside the other: the closer their lengths, the better the match (a
                // misspelt full ID should suggest the ID before the short aliases inside it).
                c.chars().count().abs_diff(needle_chars)
            } else {
                // The distance is at least the difference in length: skip the quadratic work.
                if c.chars().count().abs_diff(needle_chars) > max_distance {
                    return None;
                }
                let d = levenshtein(&needle, &c);
                if d > max_distance {
                    return None;
                }
                d
            };
            Some((score, candidate.to_owned()))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(limit).map(|(_, n)| n).collect()
}

/// Classic edit distance over chars, O(len(a) * len(b)) time, O(len(b)) space.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    fn r(name: &str, region: &str, pref: ProfilePreference) -> Result<Resolved, GatewayError> {
        resolve_in(&catalog(), &region.parse().unwrap(), pref, name)
    }

    fn id(name: &str, region: &str) -> String {
        r(name, region, ProfilePreference::Regional)
            .unwrap()
            .target
            .id()
    }

    const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

    #[test]
    fn aliases_and_bare_ids_get_the_regional_profile() {
        assert_eq!(id("sonnet", "us-east-1"), format!("us.{SONNET}"));
        assert_eq!(id("sonnet", "ca-central-1"), format!("us.{SONNET}"));
        assert_eq!(id("sonnet", "eu-west-1"), format!("eu.{SONNET}"));
        assert_eq!(id("sonnet", "ap-northeast-1"), format!("apac.{SONNET}"));
        assert_eq!(id(SONNET, "eu-central-1"), format!("eu.{SONNET}"));
        assert_eq!(id("Sonnet-4.5", "us-west-2"), format!("us.{SONNET}"));
        // No regional profile for this geography: global is the only way.
        assert_eq!(
            id("opus", "ap-northeast-1"),
            "global.anthropic.claude-opus-4-5-20251101-v1:0"
        );
        assert_eq!(id("sonnet", "sa-east-1"), format!("global.{SONNET}"));
    }

    #[test]
    fn global_preference() {
        let g = r("sonnet", "eu-west-1", ProfilePreference::Global).unwrap();
        assert_eq!(g.target.id(), format!("global.{SONNET}"));
        assert_eq!(g.pricing, PricingScope::Global);
        // A model without a global profile keeps its regional one.
        let n = r("nova-premier", "us-east-1", ProfilePreference::Global).unwrap();
        assert_eq!(n.target.id(), "us.amazon.nova-premier-v1:0");
        assert_eq!(n.pricing, PricingScope::Regional);
    }

    #[test]
    fn on_demand_models_keep_the_bare_id() {
        assert_eq!(id("nova-pro", "us-east-1"), "amazon.nova-pro-v1:0");
        assert_eq!(
            id("claude-3-haiku", "eu-west-1"),
            "anthropic.claude-3-haiku-20240307-v1:0"
        );
        assert_eq!(
            id("titan-embed", "ap-northeast-1"),
            "amazon.titan-embed-text-v2:0"
        );
    }

    #[test]
    fn explicit_profiles_and_arns() {
        assert_eq!(
            id(&format!("us.{SONNET}"), "us-east-1"),
            format!("us.{SONNET}")
        );
        assert_eq!(
            id(&format!("global.{SONNET}"), "eu-west-1"),
            format!("global.{SONNET}")
        );
        let arn = format!("arn:aws:bedrock:us-east-1::foundation-model/{SONNET}");
        assert_eq!(id(&arn, "us-east-1"), format!("us.{SONNET}"));
        let arn = format!("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{SONNET}");
        assert_eq!(id(&arn, "eu-west-1"), format!("eu.{SONNET}"));
        // An eu profile from a us region, or a profile that does not exist: refused before calling.
        let e = r(
            &format!("eu.{SONNET}"),
            "us-east-1",
            ProfilePreference::Regional,
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(
            e.message().contains(&format!("us.{SONNET}")),
            "{}",
            e.message()
        );
        let e = r(
            "eu.amazon.nova-premier-v1:0",
            "eu-west-1",
            ProfilePreference::Regional,
        )
        .unwrap_err();
        assert!(e.message().contains("profiles: us"), "{}", e.message());
        let app = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc";
        assert_eq!(
            r(app, "us-east-1", ProfilePreference::Regional)
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn a_key_bound_to_a_profile_calls_its_model_through_it_and_nothing_else() {
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/team1";
        let profile = crate::ids::ApplicationProfile {
            arn: arn.to_owned(),
            model: SONNET.parse().unwrap(),
            geography: Some(Geography::Global),
        };
        let region = "us-east-1".parse().unwrap();
        let c = catalog();
        let sonnet = resolve_in(&c, &region, ProfilePreference::Regional, "sonnet").unwrap();
        assert_eq!(sonnet.pricing, PricingScope::Regional);
        let bound = sonnet.through(&profile).unwrap();
        assert_eq!(bound.target.id(), arn);
        assert_eq!(bound.requested, "sonnet");
        // Priced as the system profile it copies (global).
        assert_eq!(bound.pricing, PricingScope::Global);
        let haiku = resolve_in(&c, &region, ProfilePreference::Regional, "haiku").unwrap();
        let e = haiku.through(&profile).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.error_type()),
            (400, "model_not_allowed")
        );
        assert!(
            e.message().contains("team1") && !e.message().contains("arn:"),
            "{e}"
        );
    }

    #[test]
    fn a_learnt_application_profile_resolves_to_its_model_and_is_called_by_arn() {
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123";
        let c = catalog().with_application_profile(crate::ids::ApplicationProfile {
            arn: arn.to_owned(),
            model: SONNET.parse().unwrap(),
            geography: Some(Geography::Global),
        });
        let res = resolve_in(
            &c,
            &"us-east-1".parse().unwrap(),
            ProfilePreference::Regional,
            arn,
        )
        .unwrap();
        assert_eq!(res.model.id.as_str(), SONNET);
        assert_eq!(res.target.id(), arn);
        assert_eq!(res.pricing, PricingScope::Global);
        let view = res.describe();
        assert_eq!((view.id.as_str(), view.invoked.as_str()), (SONNET, arn));
        // A profile over a model the catalog lacks cannot be priced: refused, not guessed.
        let other = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzz999";
        let c = c.with_application_profile(crate::ids::ApplicationProfile {
            arn: other.to_owned(),
            model: "acme.unknown-v1:0".parse().unwrap(),
            geography: None,
        });
        let e = resolve_in(
            &c,
            &"us-east-1".parse().unwrap(),
            ProfilePreference::Regional,
            other,
        )
        .unwrap_err();
        assert_eq!(e.status(), 400, "{}", e.message());
    }

    #[test]
    fn pricing_scope_follows_the_target() {
        assert_eq!(
            r("sonnet", "us-east-1", ProfilePreference::Regional)
                .unwrap()
                .pricing,
            PricingScope::Regional
        );
        assert_eq!(
            r(
                &format!("global.{SONNET}"),
                "us-east-1",
                ProfilePreference::Regional
            )
            .unwrap()
            .pricing,
            PricingScope::Global
        );
    }

    #[test]
    fn unavailable_geography_is_a_clear_400() {
        let e = r("llama-3.3-70b", "eu-west-1", ProfilePreference::Regional).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(
            e.message().contains("none serves region eu-west-1"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn unknown_names_suggest_close_matches() {
        let e = r("sonet", "us-east-1", ProfilePreference::Regional).unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(e.error_type(), "model_not_found");
        assert!(
            e.suggestions().iter().any(|s| s == "sonnet"),
            "{:?}",
            e.suggestions()
        );
        let e = r(
            "anthropic.claude-sonnet-4-5-20250929-v2:0",
            "us-east-1",
            ProfilePreference::Regional,
        )
        .unwrap_err();
        assert!(
            e.suggestions().iter().any(|s| s == SONNET),
            "{:?}",
            e.suggestions()
        );
        let e = r("nova", "us-east-1", ProfilePreference::Regional).unwrap_err();
        assert!(
            e.suggestions().iter().all(|s| s.contains("nova-")) && !e.suggestions().is_empty(),
            "{:?}",
            e.suggestions()
        );
        let body = e.to_body("req-1");
        assert_eq!(body["error"]["type"], "model_not_found");
        assert!(body["error"]["suggestions"].is_array());
        let e = r("   ", "us-east-1", ProfilePreference::Regional).unwrap_err();
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn a_name_longer_than_bedrock_allows_is_refused_without_a_lookup() {
        let c = catalog();
        let long = "a".repeat(MAX_MODEL_NAME + 1);
        let e = r(&long, "us-east-1", ProfilePreference::Regional).unwrap_err();
        assert_eq!(e.status(), 400, "{e}");
        assert!(e.to_string().len() < 200, "the name is not echoed: {e}");
        // A long name within the limit: an unknown model, answered without suggestions (and
        // without the edit distance's cost, which this test would feel at megabytes).
        let long = "x".repeat(MAX_MODEL_NAME);
        assert!(suggestions(&c, &long, 5).is_empty());
        let e = r(&long, "us-east-1", ProfilePreference::Regional).unwrap_err();
        assert_eq!(e.status(), 404);
        assert!(e.to_string().len() < 300, "the echoed name is clipped: {e}");
    }

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("sonet", "sonnet"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    proptest! {
        /// Resolution never panics, and anything it accepts names a catalog model and a target
        /// whose model is that model.
        #[test]
        fn resolution_is_total(name in "\\PC{0,60}", region in "(us|eu|ap|ca|sa|me)-(east|west|northeast|central)-[1-3]") {
            let c = catalog();
            let region: Region = region.parse().unwrap();
            for pref in [ProfilePreference::Regional, ProfilePreference::Global] {
                if let Ok(res) = resolve_in(&c, &region, pref, &name) {
                    prop_assert_eq!(res.target.model(), &res.model.id);
                    prop_assert!(c.get(&res.model.id).is_some());
                }
            }
        }

        /// Every catalog name resolves in us-east-1, to a target that Bedrock accepts by the
        /// catalog's own rules (bare only if on demand; profile only if listed).
        #[test]
        fn every_name_resolves_consistently(idx in 0usize..1000, global in any::<bool>()) {
            let c = catalog();
            let names: Vec<String> = c.names().map(str::to_owned).collect();
            let name = &names[idx % names.len()];
            let pref = if global { ProfilePreference::Global } else { ProfilePreference::Regional };
            let res = resolve_in(&c, &"us-east-1".parse().unwrap(), pref, name).unwrap();
            match &res.target {
                InvocationTarget::Model(_) => prop_assert!(res.model.on_demand),
                InvocationTarget::Profile(p) => prop_assert!(res.model.has_profile(p.geography)),
                InvocationTarget::Application(_) => prop_assert!(false, "no profile was learnt"),
            }
        }
    }
}
