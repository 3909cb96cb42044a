//! Automatic prompt-cache points (`GATEWAY_AUTO_CACHE_POINTS*`; placed by `auto_cache`).

use super::ConfigError;

/// Default length (estimated tokens) from which a system prompt or tool list gets a cache
/// point: Claude Sonnet and Opus cache nothing shorter than 1,024 tokens, so a shorter section
/// would only cost a cache write's premium where it caches at all.
pub const DEFAULT_MIN_TOKENS: u32 = 1024;

/// Whether, and from which length, the gateway places cache points itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoCacheSettings {
    /// `GATEWAY_AUTO_CACHE_POINTS`: off by default (a cache write costs more than plain input,
    /// so caching is the deployment's choice).
    pub enabled: bool,
    /// `GATEWAY_AUTO_CACHE_MIN_TOKENS`: the estimated length from which a section is cached.
    pub min_tokens: u32,
}

impl Default for AutoCacheSettings {
    fn default() -> Self {
        AutoCacheSettings {
            enabled: false,
            min_tokens: DEFAULT_MIN_TOKENS,
        }
    }
}

impl AutoCacheSettings {
    /// Reads the settings through `get` (trimmed, empty = unset), as `Config::from_lookup` does.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut s = AutoCacheSettings::default();
        if let Some(v) = get("GATEWAY_AUTO_CACHE_POINTS") {
            s.enabled = match v.to_ascii_lowercase().as_str() {
                "off" | "false" | "0" | "no" => false,
                "on" | "true" | "1" | "yes" => true,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "GATEWAY_AUTO_CACHE_POINTS",
                        expected: "on or off",
                        got: v,
                    });
                }
            };
        }
        if let Some(v) = get("GATEWAY_AUTO_CACHE_MIN_TOKENS") {
            s.min_tokens = v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or(ConfigError::Invalid {
                    var: "GATEWAY_AUTO_CACHE_MIN_TOKENS",
                    expected: "an integer from 1 to 1000000",
                    got: v,
                })?;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<AutoCacheSettings, ConfigError> {
        AutoCacheSettings::from_lookup(&|k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn off_by_default_with_a_1024_token_threshold() {
        assert_eq!(read(&[]).unwrap(), AutoCacheSettings::default());
        assert!(!read(&[]).unwrap().enabled);
        assert_eq!(read(&[]).unwrap().min_tokens, 1024);
    }

    #[test]
    fn reads_and_refuses_values() {
        let s = read(&[
            ("GATEWAY_AUTO_CACHE_POINTS", "on"),
            ("GATEWAY_AUTO_CACHE_MIN_TOKENS", "2048"),
        ])
        .unwrap();
        assert!(s.enabled);
        assert_eq!(s.min_tokens, 2048);
        assert!(
            !read(&[("GATEWAY_AUTO_CACHE_POINTS", "off")])
                .unwrap()
                .enabled
        );
        let e = read(&[("GATEWAY_AUTO_CACHE_POINTS", "sometimes")]).unwrap_err();
        assert!(e.to_string().contains("GATEWAY_AUTO_CACHE_POINTS"), "{e}");
        for bad in ["0", "-5", "many"] {
            let e = read(&[("GATEWAY_AUTO_CACHE_MIN_TOKENS", bad)]).unwrap_err();
            assert!(
                e.to_string().contains("GATEWAY_AUTO_CACHE_MIN_TOKENS"),
                "{e}"
            );
        }
    }
}
