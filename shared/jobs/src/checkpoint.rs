//! Per-line checkpoints of S3 `inbox/` objects, in the jobs table.
//!
//! S3 delivers events at least once, and a run can die mid-file. Each line that makes a model
//! call is claimed first (a conditional put with a lease) and its result line recorded after,
//! keyed by bucket, key, the object's version (version ID, else ETag) and line number. A
//! re-delivered or resumed object reuses recorded results instead of calling (and billing) the
//! model again; a line another run holds under a live lease is left to it; a line whose lease
//! expired (its run died between the claim and the record) is claimed again and rerun, the one
//! call that may repeat. A new upload under the same key is a new version, so it runs afresh.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::store::{JobStore, Named, STORE, json_s, store_error};
use gateway_stores::dynamo::{get_s, n, s};
use inference_core::error::GatewayError;

/// Prefix of checkpoint items' partition keys (never a job ID).
const ITEM_PREFIX: &str = "inbox#";

/// Days a line's checkpoint is kept: far longer than S3 and Lambda retry an event.
pub const CHECKPOINT_TTL_DAYS: i64 = 7;

/// Largest result line kept whole in a checkpoint (a DynamoDB item is at most 400 KB). A larger
/// one is recorded as an error line saying so: a re-run does not call the model again, and the
/// answer is only in the outbox written by the run that got it.
pub const MAX_CHECKPOINT_RESULT_BYTES: usize = 300_000;

/// One version of one inbox object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxVersion {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The version ID, or the ETag in an unversioned bucket.
    pub version: String,
}

impl InboxVersion {
    fn item_key(&self, line: usize) -> String {
        let text = format!("{}\n{}\n{}\n{line}", self.bucket, self.key, self.version);
        format!(
            "{ITEM_PREFIX}{}",
            hex::encode(Sha256::digest(text.as_bytes()))
        )
    }
}

/// Where one line stands, for the run that asks.
#[derive(Debug, Clone, PartialEq)]
pub enum LineState {
    /// This run claimed it: call the model, then [`JobStore::complete_line`].
    Run,
    /// It ran before: its result line.
    Done(Value),
    /// Another run holds it under a live lease.
    Busy,
}

impl JobStore {
    /// Claims line `line` of `object` until `lease_until` (Unix ms), unless it has a result or
    /// another run holds a live lease on it.
    pub async fn claim_line(
        &self,
        object: &InboxVersion,
        line: usize,
        lease_until: i64,
        now_ms: i64,
    ) -> Result<LineState, GatewayError> {
        let pk = object.item_key(line);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("job_id", s(&pk))
            .item("lease_until", n(lease_until))
            .item("expires_at", n(now_ms / 1000 + CHECKPOINT_TTL_DAYS * 86_400))
            .condition_expression(
                "attribute_not_exists(#job_id) OR (attribute_not_exists(#result) AND #lease_until < :now)",
            )
            .expression_attribute_values(":now", n(now_ms))
            .named()
            .send()
            .await;
        if gateway_stores::dynamo::conditional(put, STORE, "PutItem (inbox line)")? {
            return Ok(LineState::Run);
        }
        let item = self.read_item(&pk, "GetItem (inbox line)").await?;
        let result = item
            .as_ref()
            .and_then(|i| get_s(i, "result"))
            .and_then(|r| serde_json::from_str(r).ok());
        Ok(result.map_or(LineState::Busy, LineState::Done))
    }

    /// Records line `line`'s result line (`fallback` instead when `result` is too large to keep).
    pub async fn complete_line(
        &self,
        object: &InboxVersion,
        line: usize,
        result: &Value,
        fallback: impl FnOnce(usize) -> Value,
    ) -> Result<(), GatewayError> {
        let text = serde_json::to_string(result).unwrap_or_default();
        let kept = if text.len() > MAX_CHECKPOINT_RESULT_BYTES {
            json_s(&fallback(text.len()))
        } else {
            s(text)
        };
        self.update_row(object.item_key(line))
            .update_expression("SET #result = :r REMOVE #lease_until")
            .expression_attribute_values(":r", kept)
            .named()
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (inbox line)", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_versions_have_their_own_items() {
        let v1 = InboxVersion {
            bucket: "b".into(),
            key: "inbox/a.jsonl".into(),
            version: "etag1".into(),
        };
        let v2 = InboxVersion {
            version: "etag2".into(),
            ..v1.clone()
        };
        assert_eq!(v1.item_key(1), v1.item_key(1));
        assert_ne!(v1.item_key(1), v1.item_key(2));
        assert_ne!(v1.item_key(1), v2.item_key(1));
        assert!(v1.item_key(1).starts_with("inbox#"));
        assert!(crate::JobId::parse(&v1.item_key(1)).is_err());
    }
}
