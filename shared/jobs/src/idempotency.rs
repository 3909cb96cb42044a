//! Idempotency keys, scoped per owner (the submitting API key, or the deployment with
//! `GATEWAY_AUTH=none`).
//!
//! A key is one item in the jobs table, `job_id = "idem#" + SHA-256(owner, key)`, written with a
//! conditional put, that points at the job's random ID. Two concurrent submissions with the same
//! owner and key race on that one item: exactly one write wins, and the other reads the
//! winner's job ID. The job record itself is then written (by either of them: it is the same
//! record, and its own conditional put lets one through), so a submission that crashed after
//! the idempotency item but before the job converges on the next retry instead of being stuck.
//! Another owner's same key is another item, hence another job.

use sha2::{Digest, Sha256};

use super::id::{IdempotencyKey, JobId, JobOwner};
use super::record::RECORD_TTL_DAYS;
use super::store::{JobStore, Named, STORE};
use gateway_stores::dynamo::{get_s, n, s};
use inference_core::error::GatewayError;

/// Prefix of idempotency items' partition keys; never a valid job ID, so `JobStore::get` and
/// job messages can never name one.
const ITEM_PREFIX: &str = "idem#";

/// What an idempotency key maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentJob {
    /// The job the key's first submission created (or is creating).
    pub job_id: JobId,
    /// Its submission's hash: a different body under the same key is a conflict.
    pub request_hash: String,
}

/// The outcome of [`JobStore::claim_idempotency_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// This submission took the key: create the job under the ID it proposed.
    Taken,
    /// The key was already taken (now or earlier): this is its job.
    Held(IdempotentJob),
}

/// The partition key of an owner's idempotency key (hashed: the key is the caller's text).
pub fn item_key(owner: &JobOwner, key: &IdempotencyKey) -> String {
    let digest = Sha256::digest(format!("{}\n{}", owner.scope(), key.as_str()).as_bytes());
    format!("{ITEM_PREFIX}{}", hex::encode(digest))
}

impl JobStore {
    /// Takes `key` for `owner`, pointing it at `job_id`, unless the owner used the key before;
    /// then answers the job it points at. Kept as long as a job record (`expires_at`).
    pub async fn claim_idempotency_key(
        &self,
        owner: &JobOwner,
        key: &IdempotencyKey,
        job: &IdempotentJob,
        now_ms: i64,
    ) -> Result<KeyClaim, GatewayError> {
        let pk = item_key(owner, key);
        // Twice at most: a held item can vanish between the put and the read only when its TTL
        // passed in between, and the second put then takes it.
        for _ in 0..2 {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("job_id", s(&pk))
                .item("target_job_id", s(job.job_id.as_str()))
                .item("request_hash", s(&job.request_hash))
                .item("created_at", n(now_ms))
                .item("expires_at", n(now_ms / 1000 + RECORD_TTL_DAYS * 86_400))
                .condition_expression("attribute_not_exists(#job_id)")
                .named()
                .send()
                .await;
            if gateway_stores::dynamo::conditional(put, STORE, "PutItem (idempotency key)")? {
                return Ok(KeyClaim::Taken);
            }
            if let Some(held) = self.idempotent_job(&pk).await? {
                return Ok(KeyClaim::Held(held));
            }
        }
        Err(GatewayError::internal(
            "idempotency key: could neither take nor read it",
        ))
    }

    async fn idempotent_job(&self, pk: &str) -> Result<Option<IdempotentJob>, GatewayError> {
        let Some(item) = self.read_item(pk, "GetItem (idempotency key)").await? else {
            return Ok(None);
        };
        let job_id = get_s(&item, "target_job_id")
            .and_then(|t| JobId::parse(t).ok())
            .ok_or_else(|| GatewayError::internal("idempotency item: malformed target_job_id"))?;
        Ok(Some(IdempotentJob {
            job_id,
            request_hash: get_s(&item, "request_hash").unwrap_or_default().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inference_core::auth::KeyId;

    #[test]
    fn items_are_per_owner_and_never_job_ids() {
        let k = IdempotencyKey::parse("order-42").unwrap();
        let a = JobOwner::Key(KeyId::parse("key_00000000000000aa").unwrap());
        let b = JobOwner::Key(KeyId::parse("key_00000000000000bb").unwrap());
        assert_eq!(item_key(&a, &k), item_key(&a, &k));
        assert_ne!(item_key(&a, &k), item_key(&b, &k));
        assert_ne!(item_key(&a, &k), item_key(&JobOwner::Deployment, &k));
        assert!(JobId::parse(&item_key(&a, &k)).is_err());
        assert!(!item_key(&a, &k).contains("order-42"));
    }
}
