//! The cache seen from one call: decide whether to read and write, look up, build a hit's
//! answer, store a clean miss, and mark the response and metrics.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{AnswerKind, CacheDirective, CacheKey, CacheMode, CachedAnswer, ResponseCache, Tier};
use crate::call::{CacheOutcome, Prepared};
use crate::catalog::ModelEntry;
use crate::cost::{Cost, Usage, Usd};
use crate::error::GatewayError;
use crate::telemetry::CallMetrics;

/// What the cache did for a call (the `status` of the response's `cache` object and the
/// `x-gateway-cache` response header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the cache.
    Hit(Tier),
    /// Not in the cache: the model was called (and a clean answer stored).
    Miss,
    /// The caller asked to skip the cache.
    Bypass,
    /// The caller asked for a fresh answer, stored over the old one.
    Refresh,
}

impl CacheStatus {
    /// `hit`, `miss`, `bypass`, `refresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit(_) => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
            CacheStatus::Refresh => "refresh",
        }
    }
}

/// One call's dealings with the cache. A probe that is not engaged (cache off, or opt-in and not
/// asked for) does nothing and marks nothing.
#[derive(Debug, Default)]
pub struct CacheProbe {
    cache: Option<Arc<ResponseCache>>,
    kind: Option<AnswerKind>,
    key: Option<CacheKey>,
    prepared: Option<Prepared>,
    status: Option<CacheStatus>,
    hit: Option<Arc<CachedAnswer>>,
    write: bool,
    stored: bool,
}

impl CacheProbe {
    /// What happened, `None` when the cache was not engaged.
    pub fn status(&self) -> Option<CacheStatus> {
        self.status
    }

    /// Whether the answer comes from the cache.
    pub fn is_hit(&self) -> bool {
        self.hit.is_some()
    }

    /// The stored answer of a hit.
    pub fn hit(&self) -> Option<&CachedAnswer> {
        self.hit.as_deref()
    }

    /// The prepared call the key was computed from (the call a hit stands in for).
    pub fn prepared(&self) -> Option<&Prepared> {
        self.prepared.as_ref()
    }

    /// Whether a clean answer would be stored.
    pub fn wants_store(&self) -> bool {
        self.write && !self.stored && self.key.is_some()
    }

    /// What the cache did, for the response (`None` when not engaged).
    pub fn outcome(&self) -> Option<CacheOutcome> {
        let status = self.status?;
        let mut o = CacheOutcome {
            status: status.as_str(),
            tier: None,
            saved_usd: None,
            age_ms: None,
            stored: None,
        };
        match (status, &self.hit) {
            (CacheStatus::Hit(tier), Some(a)) => {
                o.tier = Some(tier.as_str());
                o.saved_usd = Some(Usd(a.cost_usd));
                o.age_ms = Some(crate::clock::unix_millis().saturating_sub(a.created_at_ms));
            }
            (CacheStatus::Miss | CacheStatus::Refresh, _) => o.stored = Some(self.stored),
            _ => {}
        }
        Some(o)
    }

    /// The response's `cache` object (`None` when not engaged).
    pub fn to_json(&self) -> Option<Value> {
        self.outcome().and_then(|o| serde_json::to_value(o).ok())
    }

    /// Adds `cache` to a response body.
    pub fn annotate(&self, v: &mut Value) {
        if let (Some(c), Value::Object(o)) = (self.to_json(), v) {
            o.insert("cache".into(), c);
        }
    }

    /// Counts the outcome in a call's metrics: `CacheHits` / `CacheMisses` / `CacheSavedCost`.
    pub fn record(&self, m: &mut CallMetrics) {
        match self.status {
            Some(CacheStatus::Hit(_)) => {
                m.cache_hits = 1;
                m.cache_saved = self.hit.as_ref().map(|a| a.cost_usd);
            }
            Some(CacheStatus::Miss) => m.cache_misses = 1,
            _ => {}
        }
    }

    /// Stores a Converse answer (`v` before the gateway's fields) when it may be: engaged for
    /// writing, a clean answer (`clean`: no guardrail intervention, no fallback, not stopped by
    /// a guardrail).
    pub async fn store_converse(&mut self, v: &Value, usage: &Usage, cost: &Cost, clean: bool) {
        let clean = clean
            && v.get("stopReason").and_then(Value::as_str) != Some("guardrail_intervened")
            && v.pointer("/output/message").is_some();
        if clean {
            self.store(v.clone(), usage, cost).await;
        }
    }

    /// Stores a complete stream's events when it may be (see [`Self::store_converse`]).
    pub async fn store_stream(
        &mut self,
        recorder: StreamRecorder,
        usage: &Usage,
        cost: &Cost,
        clean: bool,
    ) {
        if clean && !recorder.overflow && !recorder.events.is_empty() {
            self.store(json!({"events": recorder.events}), usage, cost)
                .await;
        }
    }

    async fn store(&mut self, body: Value, usage: &Usage, cost: &Cost) {
        if !self.wants_store() {
            return;
        }
        let (Some(cache), Some(key), Some(kind), Some(p)) =
            (&self.cache, &self.key, self.kind, &self.prepared)
        else {
            return;
        };
        let now = crate::clock::unix_millis();
        let answer = CachedAnswer {
            kind,
            model: p.resolved.model.id.to_string(),
            body,
            usage: (*usage).into(),
            cost_usd: cost.total(),
            created_at_ms: now,
            expires_at_ms: cache.expiry_from(now),
        };
        self.stored = cache.put(key, answer).await;
    }

    /// A recorder for a stream's events (`None` when nothing would be stored).
    pub fn recorder(&self) -> Option<StreamRecorder> {
        let cache = self.cache.as_ref()?;
        self.wants_store().then(|| StreamRecorder {
            events: Vec::new(),
            bytes: 0,
            limit: cache.settings().max_entry_bytes,
            overflow: false,
        })
    }
}

/// The events of a stream as they are handed out, up to the entry size limit.
#[derive(Clone)]
pub struct StreamRecorder {
    events: Vec<Value>,
    bytes: usize,
    limit: usize,
    overflow: bool,
}

impl std::fmt::Debug for StreamRecorder {
    // Counts only: never the answer's text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRecorder")
            .field("events", &self.events.len())
            .field("bytes", &self.bytes)
            .field("overflow", &self.overflow)
            .finish()
    }
}

impl StreamRecorder {
    /// Keeps an event (or gives up once over the limit: the answer will not be stored).
    pub fn record(&mut self, event: &Value) {
        if self.overflow {
            return;
        }
        self.bytes += event.to_string().len();
        if self.bytes > self.limit {
            self.overflow = true;
            self.events.clear();
        } else {
            self.events.push(event.clone());
        }
    }
}

impl CacheProbe {
    /// Decides what the cache does for a call and looks it up. `prepare` gives the call the
    /// request will try first (what would be sent; `None` when it does not prepare: the call
    /// then fails with its own error), from which the key is computed. `allowed` says whether
    /// the caller's API key may use its model: one that may not gets no hit (the call is refused
    /// as usual further on). An invalid `x-gateway-cache` value is a 400 even when the cache is
    /// off.
    pub(crate) async fn open(
        cache: Option<&Arc<ResponseCache>>,
        kind: AnswerKind,
        directive: &CacheDirective,
        prepare: impl FnOnce() -> Option<Prepared>,
        key_of: impl FnOnce(&Prepared) -> CacheKey,
        allowed: impl FnOnce(&ModelEntry) -> bool,
    ) -> Result<CacheProbe, GatewayError> {
        if let CacheDirective::Invalid(v) = directive {
            return Err(GatewayError::invalid_request(format!(
                "{}: {v:?} is not one of: use, bypass, refresh",
                super::HEADER
            )));
        }
        let Some(cache) = cache else {
            return Ok(CacheProbe::default());
        };
        let (read, write, status) = match (directive, cache.settings().mode) {
            (_, CacheMode::Off) | (CacheDirective::Default, CacheMode::OptIn) => {
                return Ok(CacheProbe::default());
            }
            (CacheDirective::Bypass, _) => (false, false, CacheStatus::Bypass),
            (CacheDirective::Refresh, _) => (false, true, CacheStatus::Refresh),
            _ => (true, true, CacheStatus::Miss),
        };
        let mut probe = CacheProbe {
            cache: Some(cache.clone()),
            kind: Some(kind),
            status: Some(status),
            write,
            ..CacheProbe::default()
        };
        if !read && !write {
            return Ok(probe);
        }
        let Some(prepared) = prepare() else {
            probe.write = false;
            return Ok(probe);
        };
        let key = key_of(&prepared);
        if !allowed(&prepared.resolved.model) {
            return Ok(CacheProbe::default());
        }
        if read
            && let Some((answer, tier)) = cache.get(&key).await
            && answer.kind == kind
        {
            probe.hit = Some(answer);
            probe.status = Some(CacheStatus::Hit(tier));
        }
        probe.key = Some(key);
        probe.prepared = Some(prepared);
        Ok(probe)
    }
}
