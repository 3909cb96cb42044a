//! The in-memory prompt cache: remembers which request prefixes (up to a cache point) were
//! written, so a repeat reports cache reads instead of writes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::native::Usage;
use crate::tokens::InputCount;

#[derive(Debug, Default)]
pub struct PromptCache {
    entries: Mutex<HashMap<u64, Instant>>,
}

impl PromptCache {
    /// Splits a request's input tokens into uncached, cache-read and cache-write parts, and
    /// records the prefix. A hit refreshes the entry's lifetime, as Bedrock does.
    pub fn usage(&self, count: &InputCount) -> Usage {
        let mut usage = Usage {
            input: count.total,
            ..Usage::default()
        };
        let Some(prefix) = count.prefix.filter(|p| p.tokens > 0) else {
            return usage;
        };
        let now = Instant::now();
        let hit = match self.entries.lock() {
            Ok(mut map) => {
                if map.len() > 100_000 {
                    map.retain(|_, exp| *exp > now);
                }
                let hit = map.get(&prefix.hash).is_some_and(|exp| *exp > now);
                map.insert(prefix.hash, now + Duration::from_secs(prefix.ttl.secs()));
                hit
            }
            Err(_) => false,
        };
        usage.input = count.total - prefix.tokens;
        if hit {
            usage.cache_read = prefix.tokens;
        } else {
            usage.cache_write = prefix.tokens;
            usage.cache_ttl = Some(prefix.ttl);
        }
        usage
    }

    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.lock() {
            m.clear();
        }
    }
}
