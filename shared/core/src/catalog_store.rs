//! The catalog a warm function uses, replaceable while it serves: the shipped catalog at cold
//! start, plus the application inference profiles learnt since (and the live catalog's merge,
//! when it refreshes). Readers take a cheap `Arc` snapshot; a lock is never held across `.await`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::catalog::Catalog;
use crate::control::ControlPlane;

/// The current catalog, shared by every clone of the gateway.
#[derive(Debug)]
pub struct CatalogStore {
    /// The shipped (or `GATEWAY_CATALOG_FILE`) catalog: the base of every live merge.
    shipped: Arc<Catalog>,
    current: RwLock<Arc<Catalog>>,
}

impl CatalogStore {
    /// A store holding `catalog`.
    pub fn new(catalog: Catalog) -> CatalogStore {
        let shipped = Arc::new(catalog);
        CatalogStore {
            current: RwLock::new(Arc::clone(&shipped)),
            shipped,
        }
    }

    /// Reads the control plane once and merges it into the catalog; on failure the catalog
    /// stays as it is (shipped data at first, which `/v1/models` then reports) and the reason
    /// is logged.
    pub async fn refresh(&self, control: &ControlPlane) {
        let live = match control.live_models().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "live catalog: control plane not read; keeping the catalog");
                return;
            }
        };
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        let mut failed = None;
        self.update(|current| {
            match crate::live_catalog::merge(&self.shipped, current, &live, now) {
                Ok(next) => next,
                Err(e) => {
                    failed = Some(e);
                    current.clone()
                }
            }
        });
        match failed {
            Some(e) => tracing::warn!(error = %e.message(), "live catalog: merge refused"),
            None => tracing::info!(models = live.len(), "live catalog: refreshed"),
        }
    }

    /// Refreshes in the background once `first` resolves (the function passes
    /// [`serve::first_answered`](crate::serve::first_answered): the first request neither waits
    /// for the read nor shares the CPU with it), then every `every`
    /// (`GATEWAY_CATALOG_REFRESH_SECS`). In a Lambda the task runs while the environment is
    /// thawed: a refresh that fell due while frozen runs at the next request.
    pub fn spawn_refresh(
        self: &Arc<Self>,
        control: ControlPlane,
        every: Duration,
        first: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            first.await;
            loop {
                store.refresh(&control).await;
                tokio::time::sleep(every).await;
            }
        });
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
