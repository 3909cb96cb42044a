//! Per-key concurrent streams: a stream holds a lease, a slot among its key's
//! `max_concurrent_streams`, from admission to its end, so one key cannot hold every stream-url
//! environment with 900-second streams. The store is a trait, like [`Meter`](super::Meter);
//! the DynamoDB one is `gateway_stores::auth::DynamoLeases`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{BoxFuture, Caller, KeyId};
use crate::error::GatewayError;

/// Highest `max_concurrent_streams` (a key's and the deployment default's): every lease of a
/// key is one entry of one DynamoDB item, which must stay far below DynamoDB's 400 KB.
pub const MAX_STREAMS_LIMIT: u32 = 1_000;

/// How long a lease outlives the invocation's deadline: the stream cannot outlive its
/// invocation, so a lease left by a crashed function frees itself this long after it.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// A lease's life without a known deadline (a local run): Lambda's longest timeout.
const NO_DEADLINE: Duration = Duration::from_secs(900);

/// One lease's identifier: random, unrelated to the key or the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseId(String);

impl LeaseId {
    /// A new random lease ID (`l` + 32 hex digits).
    pub fn new() -> LeaseId {
        LeaseId(format!("l{}", uuid::Uuid::new_v4().simple()))
    }

    /// The ID as text (the lease's name in the store).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for LeaseId {
    fn default() -> Self {
        LeaseId::new()
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the keys' open streams are held.
pub trait StreamLeases: Send + Sync + fmt::Debug {
    /// Takes lease `id` for one of `key`'s streams until `expires_at` (epoch seconds), after
    /// dropping the key's expired leases; refused with 429 `too_many_streams` when `limit`
    /// live leases are held. Concurrent acquisitions cannot together pass the limit.
    fn acquire<'a>(
        &'a self,
        key: &'a KeyId,
        id: &'a LeaseId,
        limit: u32,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), GatewayError>>;

    /// Gives lease `id` back. Idempotent; best effort (failures are logged: the lease then
    /// expires on its own).
    fn release(self: Arc<Self>, key: KeyId, id: LeaseId) -> BoxFuture<'static, ()>;
}

/// A held lease: given back exactly once, awaited by [`StreamLease::release`] at a stream's
/// end, or from `Drop` as a spawned task (a client that went away).
pub struct StreamLease {
    held: Option<(Arc<dyn StreamLeases>, KeyId, LeaseId)>,
}

impl fmt::Debug for StreamLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamLease")
            .field("lease", &self.held.as_ref().map(|(_, _, id)| id))
            .finish()
    }
}

impl StreamLease {
    /// Gives the lease back, spawned and awaited: a caller that stops waiting (client gone)
    /// does not cut the write short.
    pub async fn release(mut self) {
        let Some((store, key, id)) = self.held.take() else {
            return;
        };
        let f = store.release(key, id);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let _ = rt.spawn(f).await;
            }
            Err(_) => f.await,
        }
    }
}

impl Drop for StreamLease {
    fn drop(&mut self) {
        if let Some((store, key, id)) = self.held.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(store.release(key, id));
        }
    }
}

/// When a lease taken now expires: at the invocation's deadline (Lambda's longest timeout
/// when unknown) plus a margin.
fn lease_expiry(deadline: Option<Instant>) -> u64 {
    let left = deadline.map_or(NO_DEADLINE, |d| d.saturating_duration_since(Instant::now()));
    crate::clock::unix_seconds() + (left + LEASE_MARGIN).as_secs()
}

/// Admission of a stream for the request's caller: a lease on one of its key's
/// concurrent-stream slots, or 429 `too_many_streams`. `Ok(None)` for callers without a key
/// (auth off, IAM) or without a limit.
pub(crate) async fn lease_stream(
    caller: Option<&Arc<Caller>>,
    deadline: Option<Instant>,
) -> Result<Option<StreamLease>, GatewayError> {
    let Some((caller, (store, limit))) = caller.and_then(|c| Some((c, c.streams.clone()?))) else {
        return Ok(None);
    };
    let key = caller.key_id().clone();
    let id = LeaseId::new();
    store
        .acquire(&key, &id, limit, lease_expiry(deadline))
        .await?;
    Ok(Some(StreamLease {
        held: Some((store, key, id)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_after_the_deadline_with_a_margin() {
        let now = crate::clock::unix_seconds();
        let in_a_minute = Instant::now() + Duration::from_secs(60);
        let e = lease_expiry(Some(in_a_minute));
        assert!((now + 89..=now + 91).contains(&e), "{e} vs {now}");
        let e = lease_expiry(None);
        assert!((now + 929..=now + 931).contains(&e), "{e} vs {now}");
        assert_ne!(LeaseId::new(), LeaseId::new());
    }
}
