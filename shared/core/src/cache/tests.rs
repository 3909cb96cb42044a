use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::config::Config;
use crate::config::ConfigError;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(move |k| map.get(k).cloned())
}

fn answer(expires_in_ms: u64) -> CachedAnswer {
    let now = crate::clock::unix_millis();
    CachedAnswer {
        kind: AnswerKind::Converse,
        model: "m".into(),
        body: json!({"output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}}}),
        usage: StoredUsage::default(),
        cost_usd: Decimal::new(12, 4),
        created_at_ms: now,
        expires_at_ms: now + expires_in_ms,
    }
}

fn key(n: u32) -> CacheKey {
    CacheKey::of_value(&json!({ "n": n }))
}

#[test]
fn settings_parse_and_name_the_variable() {
    let c = config(&[]).unwrap();
    assert_eq!(c.cache, CacheSettings::default());
    assert_eq!(c.cache.mode, CacheMode::Off);
    let c = config(&[
        ("GATEWAY_CACHE", "opt_in"),
        ("GATEWAY_CACHE_TTL_SECONDS", "5"),
        ("GATEWAY_CACHE_MAX_ENTRY_BYTES", "1000"),
        ("GATEWAY_CACHE_MEMORY_ENTRIES", "0"),
        ("GATEWAY_CACHE_TABLE", "t"),
    ])
    .unwrap();
    assert_eq!(c.cache.mode, CacheMode::OptIn);
    assert_eq!(c.cache.ttl, Duration::from_secs(5));
    assert_eq!(c.cache.max_entry_bytes, 1000);
    assert_eq!(c.cache.memory_entries, 0);
    assert_eq!(c.cache.table.as_deref(), Some("t"));
    for (var, bad) in [
        ("GATEWAY_CACHE", "sometimes"),
        ("GATEWAY_CACHE_TTL_SECONDS", "0"),
        ("GATEWAY_CACHE_MAX_ENTRY_BYTES", "500000"),
        ("GATEWAY_CACHE_MEMORY_ENTRIES", "-1"),
    ] {
        let e = config(&[(var, bad)]).unwrap_err().to_string();
        assert!(e.starts_with(var), "{e}");
    }
}

#[test]
fn directives() {
    assert_eq!(CacheDirective::parse(None), CacheDirective::Default);
    assert_eq!(CacheDirective::parse(Some(" USE ")), CacheDirective::Use);
    assert_eq!(
        CacheDirective::parse(Some("bypass")),
        CacheDirective::Bypass
    );
    assert_eq!(
        CacheDirective::parse(Some("refresh")),
        CacheDirective::Refresh
    );
    assert!(matches!(
        CacheDirective::parse(Some("maybe")),
        CacheDirective::Invalid(_)
    ));
}

#[test]
fn canonical_form_ignores_key_order_but_not_values() {
    let a = CacheKey::of_value(&json!({"a": 1, "b": {"x": [1, 2], "y": "z"}}));
    let b = CacheKey::of_value(&json!({"b": {"y": "z", "x": [1, 2]}, "a": 1}));
    let c = CacheKey::of_value(&json!({"a": 1, "b": {"x": [2, 1], "y": "z"}}));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.to_hex().len(), 64);
}

#[test]
fn lru_evicts_the_least_recently_used_and_drops_expired() {
    let mut lru = memory::Lru::new(2);
    let now = crate::clock::unix_millis();
    lru.put(key(1), Arc::new(answer(60_000)));
    lru.put(key(2), Arc::new(answer(60_000)));
    assert!(lru.get(&key(1), now).is_some()); // 1 is now the most recent
    lru.put(key(3), Arc::new(answer(60_000)));
    assert_eq!(lru.len(), 2);
    assert!(lru.get(&key(2), now).is_none(), "2 was evicted");
    assert!(lru.get(&key(1), now).is_some());
    lru.put(key(4), Arc::new(answer(10)));
    assert!(lru.get(&key(4), now + 11).is_none(), "expired");
}

/// A shared tier in a map: what DynamoDB does, minus the network.
#[derive(Debug, Default)]
struct MapTier(Mutex<HashMap<String, (String, u64)>>);

impl SharedTier for MapTier {
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Result<Option<String>, GatewayError>> {
        let v = self
            .0
            .lock()
            .unwrap()
            .get(&key.to_hex())
            .map(|x| x.0.clone());
        Box::pin(async move { Ok(v) })
    }
    fn put<'a>(
        &'a self,
        key: &'a CacheKey,
        json: String,
        expires_at_s: u64,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        self.0
            .lock()
            .unwrap()
            .insert(key.to_hex(), (json, expires_at_s));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn two_tiers_memory_first_shared_refills_memory() {
    let shared = Arc::new(MapTier::default());
    let settings = CacheSettings {
        mode: CacheMode::On,
        ..CacheSettings::default()
    };
    let a = ResponseCache::new(settings.clone()).with_shared(shared.clone());
    assert!(a.put(&key(1), answer(60_000)).await);
    assert_eq!(a.get(&key(1)).await.unwrap().1, Tier::Memory);
    // Another warm instance: its memory is empty, the shared tier has it.
    let b = ResponseCache::new(settings).with_shared(shared.clone());
    assert_eq!(b.get(&key(1)).await.unwrap().1, Tier::Shared);
    assert_eq!(b.get(&key(1)).await.unwrap().1, Tier::Memory);
    // The TTL attribute is in epoch seconds, after the answer's expiry.
    let (json, ttl) = shared.0.lock().unwrap()[&key(1).to_hex()].clone();
    let stored: CachedAnswer = serde_json::from_str(&json).unwrap();
    assert!(ttl * 1000 >= stored.expires_at_ms);
    assert!(b.get(&key(2)).await.is_none());
}

#[tokio::test]
async fn expired_and_oversized_entries_are_not_served() {
    let shared = Arc::new(MapTier::default());
    let settings = CacheSettings {
        mode: CacheMode::On,
        max_entry_bytes: 300,
        memory_entries: 0,
        ..CacheSettings::default()
    };
    let c = ResponseCache::new(settings).with_shared(shared.clone());
    // Expired in the table but not yet deleted by DynamoDB's lazy TTL: a miss.
    assert!(c.put(&key(1), answer(30)).await);
    assert!(c.get(&key(1)).await.is_some());
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert!(c.get(&key(1)).await.is_none());
    let mut big = answer(60_000);
    big.body = json!({"text": "x".repeat(400)});
    assert!(!c.put(&key(2), big).await);
    assert!(shared.0.lock().unwrap().get(&key(2).to_hex()).is_none());
}

#[tokio::test]
async fn debug_output_never_shows_answers() {
    let c = ResponseCache::new(CacheSettings::default());
    let mut a = answer(60_000);
    a.body = json!({"output": {"message": {"content": [{"text": "secret answer text"}]}}});
    assert!(c.put(&key(1), a.clone()).await);
    let shown = format!("{c:?} {a:?}");
    assert!(!shown.contains("secret answer text"), "{shown}");
    assert!(shown.contains("memory_entries: Some(1)"), "{shown}");
}
