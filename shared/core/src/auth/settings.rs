//! Authentication settings, read once per cold start by the HTTP functions.

use std::time::Duration;

use serde::Serialize;

use super::MAX_STREAMS_LIMIT;
use crate::error::GatewayError;

/// Default for `GATEWAY_KEY_CACHE_SECONDS`: how long a warm function trusts a key record it has
/// read, so a revocation takes effect everywhere within this time.
pub const DEFAULT_KEY_CACHE_SECONDS: u64 = 5;

/// Default for `GATEWAY_DEFAULT_MAX_STREAMS`: the concurrent streams of a key that sets no
/// `max_concurrent_streams` (0 in the variable: such keys are not limited).
pub const DEFAULT_MAX_STREAMS: u32 = 10;

/// `GATEWAY_AUTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// No gateway authentication: the front decides who may call (IAM authorisation on API
    /// Gateway / the Function URL, or a private network). Nothing is metered per key.
    None,
    /// `Authorization: Bearer <key>` or `x-api-key: <key>` on every request, with per-key
    /// allowed models, budgets and rate limits.
    ApiKey,
}

/// `GATEWAY_KEY_HEADERS`: the request headers the gateway's API key is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyHeaders {
    /// `Authorization: Bearer <key>` (OpenAI clients) or `x-api-key: <key>` (Anthropic
    /// clients): the default.
    #[default]
    Both,
    /// `x-api-key` only: `Authorization` carries something else, the JWT that API Gateway
    /// validates with `AuthMode=JWT` (template.yaml sets this then), and is never read as a key.
    XApiKey,
}

impl KeyHeaders {
    /// Parses the comma-separated header names: `authorization,x-api-key` (any order) or
    /// `x-api-key`.
    pub fn parse(v: &str) -> Option<KeyHeaders> {
        let mut names: Vec<String> = v
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        names.dedup();
        match names.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["authorization", "x-api-key"] => Some(KeyHeaders::Both),
            ["x-api-key"] => Some(KeyHeaders::XApiKey),
            _ => None,
        }
    }
}

/// What `GATEWAY_AUTH=api_key` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// The mode.
    pub mode: AuthMode,
    /// `GATEWAY_KEYS_TABLE`: key records by hash.
    pub keys_table: Option<String>,
    /// `GATEWAY_USAGE_TABLE`: budgets, minute windows and the usage report.
    pub usage_table: Option<String>,
    /// `GATEWAY_KEY_CACHE_SECONDS`.
    pub cache_ttl: Duration,
    /// `GATEWAY_KEY_HEADERS`.
    pub key_headers: KeyHeaders,
    /// `GATEWAY_DEFAULT_MAX_STREAMS`: the concurrent streams of a key that sets no limit
    /// (`None`: such keys are not limited).
    pub default_max_streams: Option<u32>,
}

impl AuthSettings {
    /// From the process environment.
    pub fn from_env() -> Result<AuthSettings, GatewayError> {
        AuthSettings::from_lookup(|k| std::env::var(k).ok())
    }

    /// From any lookup (tests). Refuses `api_key` without both tables, so a deployment that
    /// asked for keys never runs open.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<AuthSettings, GatewayError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bad = |name: &str, why: String| {
            GatewayError::internal(format!("configuration: {name}: {why}"))
        };
        let mode = match get("GATEWAY_AUTH").as_deref() {
            // Unset is not "open": a deployment that forgot the variable must not serve every
            // caller unmetered. `none` is a choice made in writing.
            None => {
                return Err(bad(
                    "GATEWAY_AUTH",
                    "not set: set api_key (per-key authentication) or none (the front alone \
                     decides who may call)"
                        .into(),
                ));
            }
            Some("none") => AuthMode::None,
            Some("api_key") => AuthMode::ApiKey,
            Some(other) => {
                return Err(bad(
                    "GATEWAY_AUTH",
                    format!("expected none or api_key, got {other:?}"),
                ));
            }
        };
        let cache_ttl = match get("GATEWAY_KEY_CACHE_SECONDS") {
            None => Duration::from_secs(DEFAULT_KEY_CACHE_SECONDS),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 300)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    bad(
                        "GATEWAY_KEY_CACHE_SECONDS",
                        format!("expected 0 to 300, got {v:?}"),
                    )
                })?,
        };
        let key_headers = match get("GATEWAY_KEY_HEADERS") {
            None => KeyHeaders::Both,
            Some(v) => KeyHeaders::parse(&v).ok_or_else(|| {
                bad(
                    "GATEWAY_KEY_HEADERS",
                    format!("expected authorization,x-api-key or x-api-key, got {v:?}"),
                )
            })?,
        };
        let default_max_streams = match get("GATEWAY_DEFAULT_MAX_STREAMS") {
            None => Some(DEFAULT_MAX_STREAMS),
            Some(v) => match v.parse::<u32>().ok().filter(|n| *n <= MAX_STREAMS_LIMIT) {
                Some(0) => None,
                Some(n) => Some(n),
                None => {
                    return Err(bad(
                        "GATEWAY_DEFAULT_MAX_STREAMS",
                        format!("expected 0 (no default limit) to {MAX_STREAMS_LIMIT}, got {v:?}"),
                    ));
                }
            },
        };
        let settings = AuthSettings {
            mode,
            keys_table: get("GATEWAY_KEYS_TABLE"),
            usage_table: get("GATEWAY_USAGE_TABLE"),
            cache_ttl,
            key_headers,
            default_max_streams,
        };
        if mode == AuthMode::ApiKey {
            for (name, v) in [
                ("GATEWAY_KEYS_TABLE", &settings.keys_table),
                ("GATEWAY_USAGE_TABLE", &settings.usage_table),
            ] {
                if v.is_none() {
                    return Err(bad(name, "required with GATEWAY_AUTH=api_key".into()));
                }
            }
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn unset_is_refused_none_is_explicit_and_api_key_needs_tables() {
        let e = AuthSettings::from_lookup(lookup(&[])).unwrap_err();
        assert!(e.message().contains("GATEWAY_AUTH: not set"), "{e}");
        let e = AuthSettings::from_lookup(lookup(&[("GATEWAY_AUTH", " ")])).unwrap_err();
        assert!(e.message().contains("not set"), "{e}");
        let s = AuthSettings::from_lookup(lookup(&[("GATEWAY_AUTH", "none")])).unwrap();
        assert_eq!(s.mode, AuthMode::None);
        assert_eq!(s.cache_ttl, Duration::from_secs(5));
        let e = AuthSettings::from_lookup(lookup(&[("GATEWAY_AUTH", "api_key")])).unwrap_err();
        assert!(e.message().contains("GATEWAY_KEYS_TABLE"), "{e}");
        let s = AuthSettings::from_lookup(lookup(&[
            ("GATEWAY_AUTH", "api_key"),
            ("GATEWAY_KEYS_TABLE", "k"),
            ("GATEWAY_USAGE_TABLE", "u"),
            ("GATEWAY_KEY_CACHE_SECONDS", "0"),
        ]))
        .unwrap();
        assert_eq!(s.mode, AuthMode::ApiKey);
        assert_eq!(s.cache_ttl, Duration::ZERO);
        assert!(AuthSettings::from_lookup(lookup(&[("GATEWAY_AUTH", "iam")])).is_err());
    }

    #[test]
    fn the_default_stream_limit_is_ten_and_zero_turns_it_off() {
        let s = AuthSettings::from_lookup(lookup(&[("GATEWAY_AUTH", "none")])).unwrap();
        assert_eq!(s.default_max_streams, Some(DEFAULT_MAX_STREAMS));
        let s = AuthSettings::from_lookup(lookup(&[
            ("GATEWAY_AUTH", "none"),
            ("GATEWAY_DEFAULT_MAX_STREAMS", "0"),
        ]))
        .unwrap();
        assert_eq!(s.default_max_streams, None);
        let s = AuthSettings::from_lookup(lookup(&[
            ("GATEWAY_AUTH", "none"),
            ("GATEWAY_DEFAULT_MAX_STREAMS", "3"),
        ]))
        .unwrap();
        assert_eq!(s.default_max_streams, Some(3));
        for bad in ["-1", "many", "1001"] {
            let pairs: &'static [(&'static str, &'static str)] = match bad {
                "-1" => &[
                    ("GATEWAY_AUTH", "none"),
                    ("GATEWAY_DEFAULT_MAX_STREAMS", "-1"),
                ],
                "many" => &[
                    ("GATEWAY_AUTH", "none"),
                    ("GATEWAY_DEFAULT_MAX_STREAMS", "many"),
                ],
                _ => &[
                    ("GATEWAY_AUTH", "none"),
                    ("GATEWAY_DEFAULT_MAX_STREAMS", "1001"),
                ],
            };
            let e = AuthSettings::from_lookup(lookup(pairs)).unwrap_err();
            assert!(e.message().contains("GATEWAY_DEFAULT_MAX_STREAMS"), "{e}");
        }
    }

    #[test]
    fn key_headers_default_to_both_and_take_x_api_key_alone() {
        let s = AuthSettings::from_lookup(lookup(&[("GATEWAY_AUTH", "none")])).unwrap();
        assert_eq!(s.key_headers, KeyHeaders::Both);
        for (v, want) in [
            ("x-api-key", Some(KeyHeaders::XApiKey)),
            (" X-Api-Key ", Some(KeyHeaders::XApiKey)),
            ("x-api-key,authorization", Some(KeyHeaders::Both)),
            ("authorization", None),
            ("cookie", None),
        ] {
            assert_eq!(KeyHeaders::parse(v), want, "{v}");
        }
        let e = AuthSettings::from_lookup(lookup(&[
            ("GATEWAY_AUTH", "none"),
            ("GATEWAY_KEY_HEADERS", "authorization"),
        ]))
        .unwrap_err();
        assert!(e.message().contains("GATEWAY_KEY_HEADERS"), "{e}");
    }
}
