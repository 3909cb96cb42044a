//! Files and batches as stored (JSON objects in the results bucket, under the owner's prefix)
//! and as OpenAI's clients read them (the File and Batch objects).
//!
//! The owner (the calling API key, or the deployment without keys) is part of every object's
//! key, `openai/<owner scope>/...`: another key asks for a different object and gets the 404 of
//! one that does not exist, as for jobs.

use gateway_jobs::JobOwner;
use gateway_jobs::results::ResultStore;
use inference_core::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The kinds of ID, each `<prefix><32 hex>` (random, like job IDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `file-…`
    File,
    /// `batch_…`
    Batch,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::File => "file-",
            IdKind::Batch => "batch_",
        }
    }
}

/// A file or batch ID, checked before it goes into an object key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(String);

impl ObjectId {
    /// A fresh random ID.
    pub fn random(kind: IdKind) -> ObjectId {
        let hex = gateway_jobs::JobId::random().as_str()["job_".len()..].to_owned();
        ObjectId(format!("{}{hex}", kind.prefix()))
    }

    /// A derived ID (a batch's output and error files): `<kind prefix><suffix>`.
    pub fn derived(kind: IdKind, suffix: &str) -> ObjectId {
        ObjectId(format!("{}{suffix}", kind.prefix()))
    }

    /// Parses an ID of `kind`; anything else is the 404 of an object that does not exist.
    pub fn parse(kind: IdKind, s: &str) -> Result<ObjectId, GatewayError> {
        let ok = s.strip_prefix(kind.prefix()).is_some_and(|rest| {
            (1..=80).contains(&rest.len())
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if ok {
            Ok(ObjectId(s.to_owned()))
        } else {
            let what = match kind {
                IdKind::File => "file",
                IdKind::Batch => "batch",
            };
            let shown: String = s.chars().take(80).collect();
            Err(GatewayError::not_found(format!("no {what} {shown:?}")))
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the prefix.
    pub fn suffix(&self) -> &str {
        self.0
            .split_once(['-', '_'])
            .map_or(self.0.as_str(), |(_, s)| s)
    }
}

/// A stored file's description (its content is a sibling object).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileMeta {
    /// `file-…`
    pub id: ObjectId,
    /// Size of the content.
    pub bytes: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// The uploaded name (or the batch output's).
    pub filename: String,
    /// `batch` (uploaded) or `batch_output` (written by a batch).
    pub purpose: String,
}

impl FileMeta {
    /// OpenAI's File object.
    pub fn to_openai(&self) -> Value {
        json!({
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": null,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": null,
        })
    }
}

/// One line of a batch: the job that runs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    /// The caller's ID for the line.
    pub custom_id: String,
    /// Its job (`GET /v1/jobs/{id}` shows its plan and state).
    pub job_id: String,
    /// The forced tool of `response_format: json_object`, to read the answer back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_tool: Option<String>,
}

/// Requests done so far.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Lines.
    pub total: usize,
    /// Answered.
    pub completed: usize,
    /// Failed.
    pub failed: usize,
}

/// A stored batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchMeta {
    /// `batch_…`
    pub id: ObjectId,
    /// The uploaded input.
    pub input_file_id: ObjectId,
    /// `/v1/chat/completions`.
    pub endpoint: String,
    /// `24h`.
    pub completion_window: String,
    /// The caller's metadata (at most 16 string pairs).
    pub metadata: Option<Value>,
    /// The model every line names.
    pub model: String,
    /// `in_progress`, `completed`, `expired`, `cancelled`.
    pub status: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds (created + 24 h): unanswered lines then end in the error file.
    pub expires_at: u64,
    /// Unix seconds of the last state change.
    #[serde(default)]
    pub finished_at: Option<u64>,
    /// Set when finished.
    #[serde(default)]
    pub output_file_id: Option<ObjectId>,
    /// Set when finished with failed lines.
    #[serde(default)]
    pub error_file_id: Option<ObjectId>,
    /// Last counted.
    pub counts: Counts,
    /// How the lines were planned (mode -> lines), from the jobs at creation.
    pub plans: Value,
    /// The lines' jobs, in file order.
    pub members: Vec<Member>,
}

impl BatchMeta {
    /// OpenAI's Batch object (plus `plans`, the gateway's: how many lines run in which mode).
    pub fn to_openai(&self) -> Value {
        let at = |state: &str| (self.status == state).then_some(self.finished_at).flatten();
        json!({
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": null,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.created_at,
            "expires_at": self.expires_at,
            "finalizing_at": self.finished_at,
            "completed_at": at("completed"),
            "failed_at": null,
            "expired_at": at("expired"),
            "cancelling_at": at("cancelled"),
            "cancelled_at": at("cancelled"),
            "request_counts": self.counts,
            "metadata": self.metadata,
            "model": self.model,
            "plans": self.plans,
        })
    }
}

/// Where one owner's objects live in the results bucket.
#[derive(Debug, Clone)]
pub struct Objects {
    results: ResultStore,
    prefix: String,
}

fn corrupt(key: &str, e: serde_json::Error) -> GatewayError {
    GatewayError::internal(format!("stored object {key} is unreadable: {e}"))
}

impl Objects {
    /// The objects of `owner`.
    pub fn of(results: &ResultStore, owner: &JobOwner) -> Objects {
        Objects {
            results: results.clone(),
            prefix: format!("openai/{}/", owner.scope()),
        }
    }

    fn file_key(&self, id: &ObjectId) -> String {
        format!("{}files/{}.json", self.prefix, id.as_str())
    }

    fn content_key(&self, id: &ObjectId) -> String {
        format!("{}files/{}.jsonl", self.prefix, id.as_str())
    }

    fn batch_key(&self, id: &ObjectId) -> String {
        format!("{}batches/{}.json", self.prefix, id.as_str())
    }

    /// Stores a file: content first, then its description (which makes it visible).
    pub async fn put_file(&self, meta: &FileMeta, content: Vec<u8>) -> Result<(), GatewayError> {
        self.results
            .put_json(&self.content_key(&meta.id), content)
            .await?;
        let body = serde_json::to_vec(meta).map_err(|e| corrupt("file", e))?;
        self.results.put_json(&self.file_key(&meta.id), body).await
    }

    /// A file's description; 404 when this owner has no such file.
    pub async fn file(&self, id: &ObjectId) -> Result<FileMeta, GatewayError> {
        let key = self.file_key(id);
        let bytes = self
            .results
            .get_if_exists(&key)
            .await?
            .ok_or_else(|| GatewayError::not_found(format!("no file {:?}", id.as_str())))?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, e))
    }

    /// A file's content (after [`Objects::file`] found it).
    pub async fn content(&self, id: &ObjectId) -> Result<Vec<u8>, GatewayError> {
        self.results.get_bytes(&self.content_key(id)).await
    }

    /// Stores a batch (whole: a later state rewrites it).
    pub async fn put_batch(&self, meta: &BatchMeta) -> Result<(), GatewayError> {
        let body = serde_json::to_vec(meta).map_err(|e| corrupt("batch", e))?;
        self.results.put_json(&self.batch_key(&meta.id), body).await
    }

    /// A batch; 404 when this owner has no such batch.
    pub async fn batch(&self, id: &ObjectId) -> Result<BatchMeta, GatewayError> {
        let key = self.batch_key(id);
        let bytes = self
            .results
            .get_if_exists(&key)
            .await?
            .ok_or_else(|| GatewayError::not_found(format!("no batch {:?}", id.as_str())))?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, e))
    }

    /// This owner's batch IDs (at most 1,000).
    pub async fn batch_ids(&self) -> Result<Vec<ObjectId>, GatewayError> {
        let prefix = format!("{}batches/", self.prefix);
        Ok(self
            .results
            .list_keys(&prefix)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix(".json"))
            .filter_map(|id| ObjectId::parse(IdKind::Batch, id).ok())
            .collect())
    }

    /// A job's result object (the Converse answer).
    pub async fn result(&self, key: &str) -> Result<Option<Vec<u8>>, GatewayError> {
        self.results.get_if_exists(key).await
    }
}
