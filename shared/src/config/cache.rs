//! Response-cache settings of a deployment (`GATEWAY_CACHE*`; see `cache`).

use std::time::Duration;

use super::ConfigError;

/// Largest entry the settings accept: DynamoDB items are at most 400 KB, with room for the key
/// and the other attributes.
pub const MAX_ENTRY_BYTES_LIMIT: usize = 380_000;

/// Whether a deployment caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// No cache (the header is still validated, and otherwise ignored).
    #[default]
    Off,
    /// Only requests that send `x-gateway-cache: use` (or `refresh`) use the cache.
    OptIn,
    /// Every Converse request uses the cache unless it sends `x-gateway-cache: bypass`.
    On,
}

/// The cache settings of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// `GATEWAY_CACHE`: off, opt_in or on.
    pub mode: CacheMode,
    /// `GATEWAY_CACHE_TTL_SECONDS`: how long an answer is served.
    pub ttl: Duration,
    /// `GATEWAY_CACHE_MAX_ENTRY_BYTES`: larger answers are not stored.
    pub max_entry_bytes: usize,
    /// `GATEWAY_CACHE_MEMORY_ENTRIES`: in-memory LRU capacity (0: no memory tier).
    pub memory_entries: usize,
    /// `GATEWAY_CACHE_TABLE`: the shared DynamoDB table (none: memory only).
    pub table: Option<String>,
    /// `GATEWAY_CACHE_SCOPE=shared`: one cache for every API key. By default (`key`) an answer
    /// is served only to the key whose call stored it: a shared cache hands one tenant another's
    /// answer and tells it whether an exact prompt was asked.
    pub shared_across_keys: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            mode: CacheMode::Off,
            ttl: Duration::from_secs(3600),
            max_entry_bytes: 64 * 1024,
            memory_entries: 256,
            table: None,
            shared_across_keys: false,
        }
    }
}

impl CacheSettings {
    /// Reads the settings through `get` (trimmed, empty = unset), as `Config::from_lookup` does.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut s = CacheSettings::default();
        if let Some(v) = get("GATEWAY_CACHE") {
            s.mode = match v.to_ascii_lowercase().as_str() {
                "off" | "false" | "0" => CacheMode::Off,
                "opt_in" | "opt-in" => CacheMode::OptIn,
                "on" | "true" | "1" => CacheMode::On,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "GATEWAY_CACHE",
                        expected: "off, opt_in or on",
                        got: v,
                    });
                }
            };
        }
        let number = |var: &'static str, min: u64, max: u64| -> Result<Option<u64>, ConfigError> {
            get(var)
                .map(|v| {
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| (min..=max).contains(n))
                        .ok_or(ConfigError::Invalid {
                            var,
                            expected: match var {
                                "GATEWAY_CACHE_TTL_SECONDS" => {
                                    "seconds from 1 to 2592000 (30 days)"
                                }
                                "GATEWAY_CACHE_MAX_ENTRY_BYTES" => "bytes from 1 to 380000",
                                _ => "an integer from 0 to 100000",
                            },
                            got: v,
                        })
                })
                .transpose()
        };
        if let Some(n) = number("GATEWAY_CACHE_TTL_SECONDS", 1, 30 * 24 * 3600)? {
            s.ttl = Duration::from_secs(n);
        }
        if let Some(n) = number(
            "GATEWAY_CACHE_MAX_ENTRY_BYTES",
            1,
            MAX_ENTRY_BYTES_LIMIT as u64,
        )? {
            s.max_entry_bytes = n as usize;
        }
        if let Some(n) = number("GATEWAY_CACHE_MEMORY_ENTRIES", 0, 100_000)? {
            s.memory_entries = n as usize;
        }
        s.table = get("GATEWAY_CACHE_TABLE");
        if let Some(v) = get("GATEWAY_CACHE_SCOPE") {
            s.shared_across_keys = match v.to_ascii_lowercase().as_str() {
                "key" => false,
                "shared" => true,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "GATEWAY_CACHE_SCOPE",
                        expected: "key or shared",
                        got: v,
                    });
                }
            };
        }
        Ok(s)
    }
}
