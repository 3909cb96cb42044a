//! The in-memory tier: a small LRU per warm function, so repeated questions to the same
//! instance do not even reach the shared table.

use std::collections::HashMap;
use std::sync::Arc;

use super::{CacheKey, CachedAnswer};

/// Least-recently-used map of answers. Eviction scans for the oldest entry: O(n) on insert only,
/// which is nothing next to the model call a miss makes, at the capacities the settings allow.
pub struct Lru {
    capacity: usize,
    tick: u64,
    entries: HashMap<CacheKey, (Arc<CachedAnswer>, u64)>,
}

impl std::fmt::Debug for Lru {
    // Sizes only: never the stored answers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lru")
            .field("capacity", &self.capacity)
            .field("len", &self.entries.len())
            .finish()
    }
}

impl Lru {
    /// An empty LRU of `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Lru {
        Lru {
            capacity: capacity.max(1),
            tick: 0,
            entries: HashMap::new(),
        }
    }

    /// A fresh entry (and marks it used); an expired one is dropped.
    pub fn get(&mut self, key: &CacheKey, now_ms: u64) -> Option<Arc<CachedAnswer>> {
        self.tick += 1;
        let tick = self.tick;
        let (answer, used) = self.entries.get_mut(key)?;
        if !answer.is_fresh(now_ms) {
            self.entries.remove(key);
            return None;
        }
        *used = tick;
        Some(answer.clone())
    }

    /// Inserts or replaces, evicting the least recently used entry when full.
    pub fn put(&mut self, key: CacheKey, answer: Arc<CachedAnswer>) {
        self.tick += 1;
        if !self.entries.contains_key(&key)
            && self.entries.len() >= self.capacity
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
        self.entries.insert(key, (answer, self.tick));
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
