//! The catalog a warm function uses, replaceable while it serves: the shipped catalog at cold
//! start, plus the application inference profiles learnt since (and the live catalog's merge,
//! when it refreshes). Readers take a cheap `Arc` snapshot; a lock is never held across `.await`.

use std::sync::{Arc, RwLock};

use crate::catalog::Catalog;

/// The current catalog, shared by every clone of the gateway.
#[derive(Debug)]
pub struct CatalogStore {
    current: RwLock<Arc<Catalog>>,
}

impl CatalogStore {
    /// A store holding `catalog`.
    pub fn new(catalog: Catalog) -> CatalogStore {
        CatalogStore {
            current: RwLock::new(Arc::new(catalog)),
        }
    }

    /// The catalog now (a snapshot: a later update does not change it).
    pub fn get(&self) -> Arc<Catalog> {
        match self.current.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the catalog with `f(current)`, atomically with respect to other updates.
    pub fn update(&self, f: impl FnOnce(&Catalog) -> Catalog) {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = f(&guard);
        *guard = Arc::new(next);
    }
}
