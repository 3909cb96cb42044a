//! Deployment policy: which models may be called, and how many output tokens a call may ask for.
//!
//! `maxTokens` matters beyond the answer's length: Bedrock reserves tokens-per-minute quota at
//! admission as input + `maxTokens`, so an unset or huge value throttles everyone. Requests over a
//! limit are refused (never silently clipped), and a request without one gets a model-aware
//! default that the response reports.

use serde::Serialize;

use crate::catalog::ModelEntry;
use crate::config::Config;
use crate::error::GatewayError;
use crate::ids::InvocationTarget;
pub use crate::ids::ModelPattern;

/// Where the `maxTokens` sent to Bedrock came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensSource {
    /// The caller's value, within every limit.
    Request,
    /// The gateway's default: min(model max output, GATEWAY_DEFAULT_MAX_TOKENS, cap).
    Default,
}

/// The `maxTokens` a call will use, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MaxTokens {
    /// The value sent to Bedrock.
    pub value: u32,
    /// Whether the caller chose it or the gateway did.
    pub source: MaxTokensSource,
}

/// The allowlist and token limits of a deployment.
#[derive(Debug, Clone)]
pub struct Policy {
    allowed: Vec<ModelPattern>,
    cap: Option<u32>,
    default_max_tokens: u32,
}

impl Policy {
    /// The policy a configuration describes.
    pub fn from_config(config: &Config) -> Policy {
        Policy {
            allowed: config.allowed_models.clone(),
            cap: config.max_tokens_cap,
            default_max_tokens: config.default_max_tokens,
        }
    }

    /// Whether a model may be called: some pattern matches its ID, one of its aliases, or the
    /// profile ID it resolves to. An empty allowlist allows everything.
    pub fn is_allowed(&self, model: &ModelEntry, target: Option<&InvocationTarget>) -> bool {
        if self.allowed.is_empty() {
            return true;
        }
        let target_id = target.map(InvocationTarget::id);
        let names = std::iter::once(model.id.as_str())
            .chain(model.aliases.iter().map(String::as_str))
            .chain(target_id.as_deref());
        let names: Vec<&str> = names.collect();
        self.allowed
            .iter()
            .any(|p| names.iter().any(|n| p.matches(n)))
    }

    /// `Ok` if allowed, else 400 `model_not_allowed`.
    pub fn check_allowed(
        &self,
        model: &ModelEntry,
        target: Option<&InvocationTarget>,
    ) -> Result<(), GatewayError> {
        if self.is_allowed(model, target) {
            Ok(())
        } else {
            Err(GatewayError::model_not_allowed(model.id.as_str()))
        }
    }

    /// The default `maxTokens` for a model: min(model max output, default, cap).
    pub fn default_max_tokens(&self, model: &ModelEntry) -> u32 {
        let mut v = self.default_max_tokens.min(model.max_output_tokens.max(1));
        if let Some(cap) = self.cap {
            v = v.min(cap);
        }
        v
    }

    /// Checks a requested `maxTokens` against the model and the deployment cap, or picks the
    /// default. Over a limit is a 400 naming the limit; nothing is clipped.
    pub fn max_tokens(
        &self,
        model: &ModelEntry,
        requested: Option<i64>,
    ) -> Result<MaxTokens, GatewayError> {
        let Some(requested) = requested else {
            return Ok(MaxTokens {
                value: self.default_max_tokens(model),
                source: MaxTokensSource::Default,
            });
        };
        if requested < 1 {
            return Err(GatewayError::invalid_request(format!(
                "inferenceConfig.maxTokens must be at least 1, got {requested}"
            )));
        }
        if requested > i64::from(model.max_output_tokens) {
            return Err(GatewayError::invalid_request(format!(
                "inferenceConfig.maxTokens {requested} exceeds the limit of {} for model {}",
                model.max_output_tokens, model.id
            )));
        }
        if let Some(cap) = self.cap
            && requested > i64::from(cap)
        {
            return Err(GatewayError::invalid_request(format!(
                "inferenceConfig.maxTokens {requested} exceeds this deployment's cap of {cap} \
                 (GATEWAY_MAX_TOKENS_CAP)"
            )));
        }
        // In range of u32 because it is at most model.max_output_tokens.
        let value = u32::try_from(requested).unwrap_or(model.max_output_tokens);
        Ok(MaxTokens {
            value,
            source: MaxTokensSource::Request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn policy(vars: &[(&str, &str)]) -> Policy {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Policy::from_config(&Config::from_lookup(move |k| map.get(k).cloned()).unwrap())
    }

    fn model(name: &str) -> ModelEntry {
        Catalog::embedded().unwrap().by_name(name).unwrap().clone()
    }

    #[test]
    fn glob_matching() {
        let p = |s: &str| ModelPattern::parse(s).unwrap();
        assert!(p("*").matches("anything"));
        assert!(p("anthropic.claude-*").matches("anthropic.claude-3-haiku-20240307-v1:0"));
        assert!(!p("anthropic.claude-*").matches("amazon.nova-pro-v1:0"));
        assert!(p("*nova*").matches("amazon.nova-pro-v1:0"));
        assert!(p("NOVA-PRO").matches("nova-pro"));
        assert!(p("a?c").matches("abc"));
        assert!(!p("a?c").matches("abbc"));
        assert!(p("a*b*c").matches("axxbyyc"));
        assert!(!p("a*b*c").matches("axxbyy"));
        assert!(ModelPattern::parse("").is_err());
        assert!(ModelPattern::parse("a b").is_err());
    }

    #[test]
    fn allowlist() {
        let sonnet = model("sonnet");
        let nova = model("nova-pro");
        let p = policy(&[]);
        assert!(p.is_allowed(&sonnet, None));
        let p = policy(&[("GATEWAY_ALLOWED_MODELS", "anthropic.claude-*")]);
        assert!(p.is_allowed(&sonnet, None));
        assert!(!p.is_allowed(&nova, None));
        let e = p.check_allowed(&nova, None).unwrap_err();
        assert_eq!(e.error_type(), "model_not_allowed");
        assert_eq!(e.status(), 400);
        let p = policy(&[("GATEWAY_ALLOWED_MODELS", "nova-pro")]);
        assert!(p.is_allowed(&nova, None));
        let p = policy(&[("GATEWAY_ALLOWED_MODELS", "global.*")]);
        let target: InvocationTarget = InvocationTarget::Profile(
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
                .parse()
                .unwrap(),
        );
        assert!(p.is_allowed(&sonnet, Some(&target)));
        assert!(!p.is_allowed(&sonnet, None));
    }

    #[test]
    fn max_tokens_limits() {
        let sonnet = model("sonnet"); // 64000 max output
        let llama = model("llama-3.1-8b"); // 2048 max output
        let p = policy(&[("GATEWAY_MAX_TOKENS_CAP", "8000")]);
        assert_eq!(
            p.max_tokens(&sonnet, None).unwrap(),
            MaxTokens {
                value: 4096,
                source: MaxTokensSource::Default
            }
        );
        assert_eq!(p.max_tokens(&llama, None).unwrap().value, 2048);
        assert_eq!(p.max_tokens(&sonnet, Some(8000)).unwrap().value, 8000);
        let e = p.max_tokens(&sonnet, Some(8001)).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(
            e.message().contains("GATEWAY_MAX_TOKENS_CAP"),
            "{}",
            e.message()
        );
        let e = p.max_tokens(&llama, Some(4000)).unwrap_err();
        assert!(e.message().contains("limit of 2048"), "{}", e.message());
        assert!(p.max_tokens(&llama, Some(0)).is_err());
        let p = policy(&[("GATEWAY_MAX_TOKENS_CAP", "1000")]);
        assert_eq!(p.max_tokens(&sonnet, None).unwrap().value, 1000);
    }

    proptest! {
        #[test]
        fn accepted_max_tokens_are_within_every_limit(req in -10i64..200_000, cap in 1u32..100_000) {
            let sonnet = model("sonnet");
            let p = policy(&[("GATEWAY_MAX_TOKENS_CAP", &cap.to_string())]);
            match p.max_tokens(&sonnet, Some(req)) {
                Ok(m) => {
                    prop_assert_eq!(i64::from(m.value), req);
                    prop_assert!(m.value <= cap && m.value <= sonnet.max_output_tokens);
                }
                Err(e) => {
                    prop_assert_eq!(e.status(), 400);
                    prop_assert!(req < 1 || req > i64::from(cap) || req > i64::from(sonnet.max_output_tokens));
                }
            }
            let d = p.default_max_tokens(&sonnet);
            prop_assert!(d >= 1 && d <= cap && d <= sonnet.max_output_tokens);
        }

        #[test]
        fn star_matches_everything(s in "[a-z0-9.:-]{0,40}") {
            prop_assert!(ModelPattern::parse("*").unwrap().matches(&s));
            let exact = ModelPattern::parse(&format!("{s}x")).unwrap();
            let text = format!("{s}x");
            prop_assert!(exact.matches(&text));
        }
    }
}
