//! Deployment configuration: every setting comes from the environment, is parsed once per cold
//! start into [`Config`], and a bad value stops the function at start-up with a message naming
//! the variable (not at the first request, and not silently defaulted).

pub mod cache;
pub mod prompt_cache;
pub mod routing;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::filter;
use crate::ids::ModelPattern;
use crate::ids::Region;

/// A configuration variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The value did not parse.
    #[error("{var}: expected {expected}, got {got:?}")]
    Invalid {
        /// The environment variable.
        var: &'static str,
        /// What it should hold.
        expected: &'static str,
        /// What it held.
        got: String,
    },
    /// A variable that another one requires is missing.
    #[error("{var}: required when {because} is set")]
    Missing {
        /// The missing variable.
        var: &'static str,
        /// The variable that requires it.
        because: &'static str,
    },
    /// The local content filter's policy did not parse (the message names the variable).
    #[error("{0}")]
    ContentPolicy(String),
}

/// Which inference profile to prefer for a model that needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfilePreference {
    /// The profile of the region's geography (`us.`, `eu.`, `apac.`): data stays in the area.
    #[default]
    Regional,
    /// The `global.` profile where the model has one (cheaper for Claude 4.5, more capacity);
    /// otherwise the regional one.
    Global,
}

/// SDK retry strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryMode {
    /// Exponential backoff with jitter.
    #[default]
    Standard,
    /// Standard plus client-side rate limiting after throttles.
    Adaptive,
}

/// Bedrock guardrail trace setting (`trace` of `guardrailConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardrailTrace {
    /// No trace in responses.
    #[default]
    Disabled,
    /// Trace of what the guardrail assessed.
    Enabled,
    /// Full trace, including non-intervening policies.
    EnabledFull,
}

impl GuardrailTrace {
    /// Bedrock's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardrailTrace::Disabled => "disabled",
            GuardrailTrace::Enabled => "enabled",
            GuardrailTrace::EnabledFull => "enabled_full",
        }
    }
}

/// The deployment guardrail, applied to every call; callers cannot remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailSettings {
    /// Guardrail ID or ARN.
    pub id: String,
    /// A version number or `DRAFT`.
    pub version: String,
    /// Trace setting.
    pub trace: GuardrailTrace,
}

/// All of a function's settings, typed.
#[derive(Clone)]
pub struct Config {
    /// `AWS_REGION`: where the function (and therefore Bedrock) runs. Decides profiles.
    pub region: Region,
    /// `GATEWAY_CATALOG_FILE`: replaces the embedded model catalog.
    pub catalog_file: Option<PathBuf>,
    /// `GATEWAY_ALLOWED_MODELS`: comma-separated patterns; empty means everything.
    pub allowed_models: Vec<ModelPattern>,
    /// `GATEWAY_DEFAULT_MODEL`: used when a request names no model.
    pub default_model: Option<String>,
    /// `GATEWAY_MAX_TOKENS_CAP`: the deployment's ceiling on `maxTokens`.
    pub max_tokens_cap: Option<u32>,
    /// `GATEWAY_DEFAULT_MAX_TOKENS`: the ceiling of the default `maxTokens` when a request sets none.
    pub default_max_tokens: u32,
    /// `GATEWAY_PROFILE_PREFERENCE`: regional or global profiles.
    pub profile_preference: ProfilePreference,
    /// `GATEWAY_GUARDRAIL_ID` / `_VERSION` / `_TRACE`.
    pub guardrail: Option<GuardrailSettings>,
    /// `GATEWAY_ALLOW_CALLER_GUARDRAIL`: accept a caller's `guardrailConfig` in addition to the
    /// deployment's guardrail (default false: such a request is refused with 400).
    pub allow_caller_guardrail: bool,
    /// `GATEWAY_PII_POLICY`, `GATEWAY_PII_POLICY_FILE`, `GATEWAY_DENIED_TERMS`: the local content
    /// filter's policy, over [`filter::Policy::secrets_only`] (see `docs/guardrails.md`).
    pub content_policy: filter::Policy,
    /// `GATEWAY_S3_SOURCE_BUCKETS`: buckets a request's `s3Location` sources may name (Bedrock
    /// reads them with the function's role); empty (the default) refuses every such source.
    pub s3_source_buckets: Vec<String>,
    /// `GATEWAY_LOG_CONTENT`: log prompts and completions (off by default).
    pub log_content: bool,
    /// `GATEWAY_LOG_LEVEL`: a `tracing` filter directive.
    pub log_level: String,
    /// `GATEWAY_RETRY_MODE`.
    pub retry_mode: RetryMode,
    /// `GATEWAY_MAX_ATTEMPTS`: SDK attempts per call, including the first.
    pub max_attempts: u32,
    /// `GATEWAY_FALLBACK_MODELS`: tried in order on throttling / model not ready.
    pub fallback_models: Vec<String>,
    /// `GATEWAY_MAX_BODY_BYTES`: request body limit.
    pub max_body_bytes: usize,
    /// `GATEWAY_DEADLINE_MARGIN_MS`: time kept back from the Lambda deadline.
    pub deadline_margin: Duration,
    /// `GATEWAY_CONNECT_TIMEOUT_MS`: TCP/TLS connect timeout to Bedrock.
    pub connect_timeout: Duration,
    /// `GATEWAY_METRICS_NAMESPACE`: CloudWatch namespace of EMF metrics.
    pub metrics_namespace: String,
    /// `GATEWAY_METRICS`: emit EMF records (default true).
    pub metrics_enabled: bool,
    /// `GATEWAY_JOBS_TABLE`: DynamoDB table of async jobs.
    pub jobs_table: Option<String>,
    /// `GATEWAY_JOBS_QUEUE_URL`: SQS queue of async jobs.
    pub jobs_queue_url: Option<String>,
    /// `GATEWAY_RESULTS_BUCKET`: S3 bucket for job results and the `inbox/` prefix.
    pub results_bucket: Option<String>,
    /// `GATEWAY_WEBHOOK_SECRET`: HMAC-SHA256 key for webhook signatures (never logged).
    pub webhook_secret: Option<String>,
    /// `GATEWAY_ALLOW_HTTP_WEBHOOKS`: allow `http://` webhook URLs (local testing only).
    pub allow_http_webhooks: bool,
    /// `GATEWAY_CATALOG_REFRESH_SECS`: how often the live catalog re-reads the control plane
    /// (first read in the background at cold start); 0 = shipped data only. Default 300.
    pub catalog_refresh_secs: u32,
    /// `GATEWAY_ALLOW_UNPRICED`: models the live catalog found without a price may be called
    /// (never with a budgeted key). Default off.
    pub allow_unpriced: bool,
    /// `GATEWAY_ROUTING_*`: tiers of `model: "auto"` (see `routing`).
    pub routing: routing::RoutingSettings,
    /// `GATEWAY_CACHE*`: the response cache (see `cache`).
    pub cache: cache::CacheSettings,
    /// `GATEWAY_AUTO_CACHE_POINTS*`: cache points the gateway places (see `auto_cache`).
    pub auto_cache: prompt_cache::AutoCacheSettings,
}

impl fmt::Debug for Config {
    // Hand-written so the webhook secret never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("region", &self.region)
            .field("catalog_file", &self.catalog_file)
            .field("allowed_models", &self.allowed_models)
            .field("default_model", &self.default_model)
            .field("max_tokens_cap", &self.max_tokens_cap)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("profile_preference", &self.profile_preference)
            .field("guardrail", &self.guardrail)
            .field("allow_caller_guardrail", &self.allow_caller_guardrail)
            .field("content_policy", &self.content_policy)
            .field("log_content", &self.log_content)
            .field("log_level", &self.log_level)
            .field("retry_mode", &self.retry_mode)
            .field("max_attempts", &self.max_attempts)
            .field("fallback_models", &self.fallback_models)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("deadline_margin", &self.deadline_margin)
            .field("connect_timeout", &self.connect_timeout)
            .field("metrics_namespace", &self.metrics_namespace)
            .field("metrics_enabled", &self.metrics_enabled)
            .field("jobs_table", &self.jobs_table)
            .field("jobs_queue_url", &self.jobs_queue_url)
            .field("results_bucket", &self.results_bucket)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http_webhooks", &self.allow_http_webhooks)
            .field("catalog_refresh_secs", &self.catalog_refresh_secs)
            .field("allow_unpriced", &self.allow_unpriced)
            .field("routing", &self.routing)
            .field("cache", &self.cache)
            .field("auto_cache", &self.auto_cache)
            .finish()
    }
}

/// Lambda's synchronous payload limit (6 MB), the default body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// Region used when `AWS_REGION` is unset (never on Lambda, which always sets it).
pub const DEFAULT_REGION: &str = "us-east-1";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (tests pass a map). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let region = region(&get)?;
        let allowed_models = allowed_models(&get)?;
        let guardrail = guardrail(&get)?;
        let profile_preference = profile_preference(&get)?;
        let retry_mode = retry_mode(&get)?;
        let max_attempts = max_attempts(&get)?;

        let content_policy =
            filter::Policy::from_lookup_over(filter::Policy::secrets_only(), &lookup)
                .map_err(ConfigError::ContentPolicy)?;

        Ok(Config {
            region,
            catalog_file: get("GATEWAY_CATALOG_FILE").map(PathBuf::from),
            allowed_models,
            default_model: get("GATEWAY_DEFAULT_MODEL"),
            max_tokens_cap: positive(&get, "GATEWAY_MAX_TOKENS_CAP")?,
            default_max_tokens: positive(&get, "GATEWAY_DEFAULT_MAX_TOKENS")?.unwrap_or(4096),
            profile_preference,
            guardrail,
            allow_caller_guardrail: boolean(&get, "GATEWAY_ALLOW_CALLER_GUARDRAIL")?
                .unwrap_or(false),
            content_policy,
            s3_source_buckets: get("GATEWAY_S3_SOURCE_BUCKETS")
                .map(|v| list(&v))
                .unwrap_or_default(),
            log_content: boolean(&get, "GATEWAY_LOG_CONTENT")?.unwrap_or(false),
            log_level: get("GATEWAY_LOG_LEVEL").unwrap_or_else(|| "info".to_owned()),
            retry_mode,
            max_attempts,
            fallback_models: get("GATEWAY_FALLBACK_MODELS")
                .map(|v| list(&v))
                .unwrap_or_default(),
            max_body_bytes: positive(&get, "GATEWAY_MAX_BODY_BYTES")?
                .map(|n| n as usize)
                .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            deadline_margin: Duration::from_millis(
                non_negative(&get, "GATEWAY_DEADLINE_MARGIN_MS")?
                    .unwrap_or(500)
                    .into(),
            ),
            connect_timeout: Duration::from_millis(
                positive(&get, "GATEWAY_CONNECT_TIMEOUT_MS")?
                    .unwrap_or(3000)
                    .into(),
            ),
            metrics_namespace: get("GATEWAY_METRICS_NAMESPACE")
                .unwrap_or_else(|| "BedrockGateway".to_owned()),
            metrics_enabled: boolean(&get, "GATEWAY_METRICS")?.unwrap_or(true),
            jobs_table: get("GATEWAY_JOBS_TABLE"),
            jobs_queue_url: get("GATEWAY_JOBS_QUEUE_URL"),
            results_bucket: get("GATEWAY_RESULTS_BUCKET"),
            webhook_secret: get("GATEWAY_WEBHOOK_SECRET"),
            allow_http_webhooks: boolean(&get, "GATEWAY_ALLOW_HTTP_WEBHOOKS")?.unwrap_or(false),
            catalog_refresh_secs: non_negative(&get, "GATEWAY_CATALOG_REFRESH_SECS")?
                .unwrap_or(300),
            allow_unpriced: boolean(&get, "GATEWAY_ALLOW_UNPRICED")?.unwrap_or(false),
            routing: routing::RoutingSettings::from_lookup(&get)?,
            cache: cache::CacheSettings::from_lookup(&get)?,
            auto_cache: prompt_cache::AutoCacheSettings::from_lookup(&get)?,
        })
    }
}

/// `AWS_REGION` (or `AWS_DEFAULT_REGION`), defaulting to [`DEFAULT_REGION`].
fn region(get: &impl Fn(&str) -> Option<String>) -> Result<Region, ConfigError> {
    let region_text = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    region_text.parse().map_err(|_| ConfigError::Invalid {
        var: "AWS_REGION",
        expected: "an AWS region name like us-east-1",
        got: region_text.clone(),
    })
}

/// `GATEWAY_ALLOWED_MODELS`: comma-separated model patterns.
fn allowed_models(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<ModelPattern>, ConfigError> {
    Ok(match get("GATEWAY_ALLOWED_MODELS") {
        None => Vec::new(),
        Some(v) => list(&v)
            .into_iter()
            .map(|p| {
                ModelPattern::parse(&p).map_err(|_| ConfigError::Invalid {
                    var: "GATEWAY_ALLOWED_MODELS",
                    expected: "comma-separated model patterns (IDs, aliases, `*` wildcards)",
                    got: v.clone(),
                })
            })
            .collect::<Result<_, _>>()?,
    })
}

/// `GATEWAY_GUARDRAIL_*`: the version and trace setting are read only when an ID is set.
fn guardrail(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<GuardrailSettings>, ConfigError> {
    Ok(match get("GATEWAY_GUARDRAIL_ID") {
        None => None,
        Some(id) => {
            let version = get("GATEWAY_GUARDRAIL_VERSION").ok_or(ConfigError::Missing {
                var: "GATEWAY_GUARDRAIL_VERSION",
                because: "GATEWAY_GUARDRAIL_ID",
            })?;
            let numeric = !version.starts_with('0')
                && version.len() <= 8
                && version.bytes().all(|b| b.is_ascii_digit());
            if version != "DRAFT" && !numeric {
                return Err(ConfigError::Invalid {
                    var: "GATEWAY_GUARDRAIL_VERSION",
                    expected: "a guardrail version number or DRAFT",
                    got: version,
                });
            }
            let trace = match get("GATEWAY_GUARDRAIL_TRACE").as_deref() {
                None | Some("disabled") => GuardrailTrace::Disabled,
                Some("enabled") => GuardrailTrace::Enabled,
                Some("enabled_full") => GuardrailTrace::EnabledFull,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        var: "GATEWAY_GUARDRAIL_TRACE",
                        expected: "enabled, enabled_full or disabled",
                        got: other.to_owned(),
                    });
                }
            };
            Some(GuardrailSettings { id, version, trace })
        }
    })
}

/// `GATEWAY_PROFILE_PREFERENCE`.
fn profile_preference(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<ProfilePreference, ConfigError> {
    Ok(match get("GATEWAY_PROFILE_PREFERENCE").as_deref() {
        None | Some("regional") => ProfilePreference::Regional,
        Some("global") => ProfilePreference::Global,
        Some(other) => {
            return Err(ConfigError::Invalid {
                var: "GATEWAY_PROFILE_PREFERENCE",
                expected: "regional or global",
                got: other.to_owned(),
            });
        }
    })
}

/// `GATEWAY_RETRY_MODE`.
fn retry_mode(get: &impl Fn(&str) -> Option<String>) -> Result<RetryMode, ConfigError> {
    Ok(match get("GATEWAY_RETRY_MODE").as_deref() {
        None | Some("standard") => RetryMode::Standard,
        Some("adaptive") => RetryMode::Adaptive,
        Some(other) => {
            return Err(ConfigError::Invalid {
                var: "GATEWAY_RETRY_MODE",
                expected: "standard or adaptive",
                got: other.to_owned(),
            });
        }
    })
}

/// `GATEWAY_MAX_ATTEMPTS`: 1 to 10, default 3.
fn max_attempts(get: &impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    let max_attempts = positive(get, "GATEWAY_MAX_ATTEMPTS")?.unwrap_or(3);
    if max_attempts > 10 {
        return Err(ConfigError::Invalid {
            var: "GATEWAY_MAX_ATTEMPTS",
            expected: "an integer from 1 to 10",
            got: max_attempts.to_string(),
        });
    }
    Ok(max_attempts)
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn positive(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<u32>, ConfigError> {
    match get(var) {
        None => Ok(None),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(ConfigError::Invalid {
                var,
                expected: "a positive integer",
                got: v,
            }),
        },
    }
}

fn non_negative(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<u32>, ConfigError> {
    match get(var) {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .map(Some)
            .map_err(|_| ConfigError::Invalid {
                var,
                expected: "a non-negative integer",
                got: v,
            }),
    }
}

fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<bool>, ConfigError> {
    match get(var).map(|v| (v.to_ascii_lowercase(), v)) {
        None => Ok(None),
        Some((l, _)) if matches!(l.as_str(), "true" | "1" | "yes" | "on") => Ok(Some(true)),
        Some((l, _)) if matches!(l.as_str(), "false" | "0" | "no" | "off") => Ok(Some(false)),
        Some((_, v)) => Err(ConfigError::Invalid {
            var,
            expected: "true or false",
            got: v,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.region.as_str(), "us-east-1");
        assert_eq!(c.max_body_bytes, 6 * 1024 * 1024);
        assert_eq!(c.max_attempts, 3);
        assert_eq!(c.retry_mode, RetryMode::Standard);
        assert_eq!(c.profile_preference, ProfilePreference::Regional);
        assert!(c.allowed_models.is_empty());
        assert!(!c.log_content);
        assert!(c.guardrail.is_none());
        assert!(!c.allow_caller_guardrail);
        assert_eq!(c.content_policy, filter::Policy::secrets_only());
    }

    #[test]
    fn content_policy_and_caller_guardrails() {
        use crate::filter::{Action, EntityKind};
        let c = cfg(&[
            ("GATEWAY_PII_POLICY", "email=mask"),
            ("GATEWAY_DENIED_TERMS", "Project Falcon"),
            ("GATEWAY_ALLOW_CALLER_GUARDRAIL", "true"),
        ])
        .unwrap();
        assert!(c.allow_caller_guardrail);
        assert_eq!(c.content_policy.action(EntityKind::Email), Action::Mask);
        // Kinds not named keep the deployment default, not the library's masking profile.
        assert_eq!(c.content_policy.action(EntityKind::Phone), Action::Allow);
        assert_eq!(c.content_policy.action(EntityKind::Ssn), Action::Block);
        assert_eq!(c.content_policy.denied_terms(), ["Project Falcon"]);
        let e = cfg(&[("GATEWAY_PII_POLICY", "email=hide")]).unwrap_err();
        assert!(e.to_string().starts_with("GATEWAY_PII_POLICY:"), "{e}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = cfg(&[("GATEWAY_MAX_TOKENS_CAP", "abc")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"GATEWAY_MAX_TOKENS_CAP: expected a positive integer, got "abc""#
        );
        let e = cfg(&[("GATEWAY_MAX_TOKENS_CAP", "0")]).unwrap_err();
        assert!(e.to_string().starts_with("GATEWAY_MAX_TOKENS_CAP"));
        let e = cfg(&[("GATEWAY_RETRY_MODE", "fast")]).unwrap_err();
        assert!(e.to_string().contains("standard or adaptive"));
        let e = cfg(&[("AWS_REGION", "mars")]).unwrap_err();
        assert!(e.to_string().starts_with("AWS_REGION"));
        let e = cfg(&[("GATEWAY_LOG_CONTENT", "maybe")]).unwrap_err();
        assert!(e.to_string().starts_with("GATEWAY_LOG_CONTENT"));
        let e = cfg(&[("GATEWAY_GUARDRAIL_ID", "abc")]).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Missing {
                var: "GATEWAY_GUARDRAIL_VERSION",
                ..
            }
        ));
        let e = cfg(&[
            ("GATEWAY_GUARDRAIL_ID", "abc"),
            ("GATEWAY_GUARDRAIL_VERSION", "v1"),
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("GATEWAY_GUARDRAIL_VERSION"));
        let e = cfg(&[("GATEWAY_MAX_ATTEMPTS", "50")]).unwrap_err();
        assert!(e.to_string().starts_with("GATEWAY_MAX_ATTEMPTS"));
    }

    #[test]
    fn parses_everything() {
        let c = cfg(&[
            ("AWS_REGION", "eu-west-1"),
            ("GATEWAY_ALLOWED_MODELS", "anthropic.claude-*, nova-pro"),
            ("GATEWAY_MAX_TOKENS_CAP", "2048"),
            ("GATEWAY_PROFILE_PREFERENCE", "global"),
            ("GATEWAY_GUARDRAIL_ID", "gr123"),
            ("GATEWAY_GUARDRAIL_VERSION", "DRAFT"),
            ("GATEWAY_GUARDRAIL_TRACE", "enabled"),
            ("GATEWAY_RETRY_MODE", "adaptive"),
            ("GATEWAY_FALLBACK_MODELS", "sonnet, haiku"),
            ("GATEWAY_LOG_CONTENT", "true"),
            ("GATEWAY_WEBHOOK_SECRET", "s3cret"),
        ])
        .unwrap();
        assert_eq!(c.allowed_models.len(), 2);
        assert_eq!(c.max_tokens_cap, Some(2048));
        assert_eq!(c.profile_preference, ProfilePreference::Global);
        assert_eq!(c.guardrail.as_ref().unwrap().trace, GuardrailTrace::Enabled);
        assert_eq!(c.fallback_models, vec!["sonnet", "haiku"]);
        assert!(c.log_content);
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
