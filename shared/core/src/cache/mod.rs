//! Response cache: exact-match answers for Converse and ConverseStream, so the same question is
//! not paid for twice.
//!
//! Keys are SHA-256 hashes of a canonical serialisation of everything that decides the answer
//! (see [`key`]). Two tiers: a small in-memory LRU per warm function ([`memory`]) in front of a
//! shared DynamoDB table with TTL (`gateway_stores::cache`). Only complete, successful answers
//! without any guardrail intervention and without fallback are stored; a hit costs nothing and is
//! marked in the response (`cache: {"status": "hit", "saved_usd"}`) and the `x-gateway-cache`
//! header. Deployment opt-in with `GATEWAY_CACHE` (off, opt_in, on); per request with the
//! `x-gateway-cache` header (use, bypass, refresh). See `docs/cache.md`.

pub mod key;
pub mod memory;
mod probe;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cost::Usage;
use crate::error::GatewayError;

pub use key::CacheKey;
pub use probe::{CacheProbe, CacheStatus, StreamRecorder};

/// The request and response header of per-request control and the outcome.
pub const HEADER: &str = "x-gateway-cache";

pub use crate::config::cache::{CacheMode, CacheSettings, MAX_ENTRY_BYTES_LIMIT};

/// What a request asked of the cache (`x-gateway-cache`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheDirective {
    /// No header: the deployment's mode decides.
    #[default]
    Default,
    /// Read and write (also under `GATEWAY_CACHE=opt_in`).
    Use,
    /// Neither read nor write.
    Bypass,
    /// Do not read; store the fresh answer (replacing a stored one).
    Refresh,
    /// A value that is none of these: the call is refused with 400.
    Invalid(String),
}

impl CacheDirective {
    /// Parses a header value (absent: [`CacheDirective::Default`]).
    pub fn parse(value: Option<&str>) -> CacheDirective {
        match value.map(|v| v.trim().to_ascii_lowercase()) {
            None => CacheDirective::Default,
            Some(v) => match v.as_str() {
                "" => CacheDirective::Default,
                "use" => CacheDirective::Use,
                "bypass" | "no-cache" | "no-store" => CacheDirective::Bypass,
                "refresh" => CacheDirective::Refresh,
                _ => CacheDirective::Invalid(v.chars().take(40).collect()),
            },
        }
    }
}

/// Which answer shape an entry holds; part of the key, so a stream never replays a Converse body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// A Converse answer body.
    Converse,
    /// The events of a ConverseStream, as handed out.
    Stream,
}

impl AnswerKind {
    /// Spelling in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Converse => "converse",
            AnswerKind::Stream => "stream",
        }
    }
}

/// Token usage as stored (the fields of [`Usage`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUsage {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write_5m: u64,
    cache_write_1h: u64,
}

impl From<Usage> for StoredUsage {
    fn from(u: Usage) -> Self {
        StoredUsage {
            input: u.input_tokens,
            output: u.output_tokens,
            cache_read: u.cache_read_tokens,
            cache_write_5m: u.cache_write_5m_tokens,
            cache_write_1h: u.cache_write_1h_tokens,
        }
    }
}

impl From<StoredUsage> for Usage {
    fn from(u: StoredUsage) -> Self {
        Usage {
            input_tokens: u.input,
            output_tokens: u.output,
            cache_read_tokens: u.cache_read,
            cache_write_5m_tokens: u.cache_write_5m,
            cache_write_1h_tokens: u.cache_write_1h,
        }
    }
}

/// One stored answer.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// Its shape.
    pub kind: AnswerKind,
    /// The bare model ID that produced it.
    pub model: String,
    /// Converse: the answer body (before the gateway's fields). Stream: `{"events": [...]}`.
    pub body: Value,
    /// What the original call used.
    pub usage: StoredUsage,
    /// What the original call cost (what a hit saves).
    pub cost_usd: Decimal,
    /// When it was stored (epoch ms).
    pub created_at_ms: u64,
    /// When it stops being served (epoch ms); DynamoDB's TTL attribute is this in seconds.
    pub expires_at_ms: u64,
}

impl fmt::Debug for CachedAnswer {
    // Hand-written so a debug print never shows the answer's text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedAnswer")
            .field("kind", &self.kind)
            .field("model", &self.model)
            .field("body", &"<redacted>")
            .field("usage", &self.usage)
            .field("cost_usd", &self.cost_usd)
            .field("created_at_ms", &self.created_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl CachedAnswer {
    /// Whether it is still served at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms
    }
}

/// A boxed future: [`SharedTier`] is used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The shared tier behind the in-memory LRU (DynamoDB in deployments, a map in tests).
pub trait SharedTier: Send + Sync + fmt::Debug {
    /// The stored JSON of `key`, if any (expiry is checked by the caller).
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Result<Option<String>, GatewayError>>;
    /// Stores `json` under `key`, to be deleted by the table's TTL after `expires_at_s`.
    fn put<'a>(
        &'a self,
        key: &'a CacheKey,
        json: String,
        expires_at_s: u64,
    ) -> BoxFuture<'a, Result<(), GatewayError>>;
}

/// Where a hit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// This function's memory.
    Memory,
    /// The shared table.
    Shared,
}

impl Tier {
    /// Spelling in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::Shared => "shared",
        }
    }
}

/// The two tiers and the settings. Shared by every request of a warm function.
pub struct ResponseCache {
    settings: CacheSettings,
    memory: Option<Mutex<memory::Lru>>,
    shared: Option<Arc<dyn SharedTier>>,
}

impl fmt::Debug for ResponseCache {
    // Settings and sizes only: never the stored answers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self
            .memory
            .as_ref()
            .and_then(|m| m.lock().ok().map(|m| m.len()));
        f.debug_struct("ResponseCache")
            .field("settings", &self.settings)
            .field("memory_entries", &entries)
            .field("shared", &self.shared)
            .finish()
    }
}

impl ResponseCache {
    /// A cache with the memory tier only (add the shared one with [`Self::with_shared`]).
    pub fn new(settings: CacheSettings) -> ResponseCache {
        let memory = (settings.memory_entries > 0)
            .then(|| Mutex::new(memory::Lru::new(settings.memory_entries)));
        ResponseCache {
            settings,
            memory,
            shared: None,
        }
    }

    /// Adds the shared tier.
    pub fn with_shared(mut self, shared: Arc<dyn SharedTier>) -> ResponseCache {
        self.shared = Some(shared);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    /// A fresh answer for `key`: memory first, then the shared tier (which refills memory).
    /// A failing shared tier is a miss (logged), never an error for the caller.
    pub async fn get(&self, key: &CacheKey) -> Option<(Arc<CachedAnswer>, Tier)> {
        let now = crate::clock::unix_millis();
        if let Some(m) = &self.memory
            && let Some(a) = m.lock().ok()?.get(key, now)
        {
            return Some((a, Tier::Memory));
        }
        let shared = self.shared.as_ref()?;
        let text = match shared.get(key).await {
            Ok(Some(t)) => t,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "response cache: shared tier read failed; treated as a miss");
                return None;
            }
        };
        let answer: CachedAnswer = match serde_json::from_str(&text) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "response cache: unreadable entry; treated as a miss");
                return None;
            }
        };
        if !answer.is_fresh(now) {
            return None;
        }
        let answer = Arc::new(answer);
        if let Some(m) = &self.memory
            && let Ok(mut m) = m.lock()
        {
            m.put(key.clone(), answer.clone());
        }
        Some((answer, Tier::Shared))
    }

    /// Stores an answer in both tiers; `false` when it is over the size limit (or the shared
    /// write failed, which is logged and otherwise ignored).
    pub async fn put(&self, key: &CacheKey, answer: CachedAnswer) -> bool {
        let text = match serde_json::to_string(&answer) {
            Ok(t) => t,
            Err(_) => return false,
        };
        if text.len() > self.settings.max_entry_bytes {
            tracing::info!(
                bytes = text.len(),
                limit = self.settings.max_entry_bytes,
                "response cache: answer over GATEWAY_CACHE_MAX_ENTRY_BYTES; not stored"
            );
            return false;
        }
        let expires_at_s = answer.expires_at_ms.div_ceil(1000);
        if let Some(m) = &self.memory
            && let Ok(mut m) = m.lock()
        {
            m.put(key.clone(), Arc::new(answer));
        }
        if let Some(shared) = &self.shared
            && let Err(e) = shared.put(key, text, expires_at_s).await
        {
            tracing::warn!(error = %e, "response cache: shared tier write failed");
            return false;
        }
        true
    }

    /// The expiry of an answer stored now.
    pub fn expiry_from(&self, now_ms: u64) -> u64 {
        now_ms.saturating_add(u64::try_from(self.settings.ttl.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests;
