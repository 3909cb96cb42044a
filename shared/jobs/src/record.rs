//! The job record and its state machine, as pure data and pure functions: the DynamoDB store
//! (`store`) only persists what these functions decide, with conditional writes that make each
//! transition happen at most once.
//!
//! ```text
//!            claim (attempts+1, lease)           result written
//!   queued ───────────────────────────> running ───────────────> succeeded
//!     ^  ^                               │  │ \
//!     │  └── release (retryable error) ──┘  │  └── non-retryable error, or a retryable one on
//!     │                                     │      the last allowed delivery ──────> failed
//!     │                                     └── lease expired (crashed run): re-claimed
//!     └── same idempotency key resubmitted after an enqueue failure ─── failed(enqueue_failed)
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::id::JobId;
use super::planner::{Mode, Plan};
use inference_core::auth::KeyId;

/// How long a job that was never claimed may sit `queued` before a resubmission with the same
/// idempotency key sends its message again (the first send may have been lost in a crash between
/// the record write and the enqueue). Re-sending is always safe: a second delivery runs nothing.
pub const REENQUEUE_AFTER_MS: i64 = 60_000;

/// Lease of a claimed job when the invocation's deadline is unknown (local runtimes): the
/// async-callback function's timeout.
pub const DEFAULT_LEASE_MS: i64 = 900_000;

/// Days a job record is kept (DynamoDB TTL on `expires_at`).
pub const RECORD_TTL_DAYS: i64 = 30;

/// The `error.type` of a job whose message could not be enqueued: the one failure a
/// resubmission with the same idempotency key may undo.
pub const ENQUEUE_FAILED: &str = "enqueue_failed";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Recorded and enqueued (or released for a retry); waiting for a delivery.
    Queued,
    /// Claimed by one delivery, under a lease.
    Running,
    /// Finished; the result is in S3.
    Succeeded,
    /// Finished without a result; `error` says why.
    Failed,
}

impl JobStatus {
    /// The stored and reported name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<JobStatus> {
        Some(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            _ => return None,
        })
    }

    /// Succeeded or failed: nothing will change it again.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

/// How the job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A Converse request, run with `Gateway::converse`.
    Converse,
    /// A native body for a model Bedrock runs with StartAsyncInvoke (Nova Reel), polled with
    /// GetAsyncInvoke on later deliveries.
    AsyncInvoke,
}

impl JobKind {
    /// The stored and reported name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Converse => "converse",
            JobKind::AsyncInvoke => "async_invoke",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "converse" => Some(JobKind::Converse),
            "async_invoke" => Some(JobKind::AsyncInvoke),
            _ => None,
        }
    }
}

/// Why a job failed, or why its last attempt did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// The gateway error type (`throttled`, `model_error`, ..., or `enqueue_failed`).
    #[serde(rename = "type")]
    pub error_type: String,
    /// What happened (never prompt text).
    pub message: String,
    /// Whether the cause may pass (it did not, if the job failed with it).
    pub retryable: bool,
}

/// Where the webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// The job finished; delivery has not completed yet (or the run stopped before it did).
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every attempt failed, or the URL was refused at delivery time.
    Failed,
}

/// The webhook outcome recorded on the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOutcome {
    /// Where delivery stands.
    pub status: WebhookStatus,
    /// POSTs made.
    pub attempts: u32,
    /// The last HTTP status received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    /// The last failure (refused URL, connection error, non-2xx).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One job, as stored (one DynamoDB item) and read back.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// The job's ID (partition key).
    pub job_id: JobId,
    /// Where it is.
    pub status: JobStatus,
    /// How it runs.
    pub kind: JobKind,
    /// The model ID it resolved to at submission (for display; the run resolves again).
    pub model: String,
    /// What to run: the Converse request (with `model`), or `{"model", "native"}`.
    pub request: Value,
    /// SHA-256 of the canonical submission, to tell a repeated submission from a conflicting one.
    pub request_hash: String,
    /// The caller's idempotency key (GSI `by-idempotency-key`).
    pub idempotency_key: Option<String>,
    /// Where to POST the summary when the job finishes.
    pub webhook_url: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last change.
    pub updated_at: i64,
    /// Unix milliseconds of the last enqueue.
    pub enqueued_at: Option<i64>,
    /// Unix milliseconds of the first claim.
    pub started_at: Option<i64>,
    /// Unix milliseconds of the terminal transition.
    pub finished_at: Option<i64>,
    /// Claims so far (runs started, including re-claims after a crash).
    pub attempts: u32,
    /// Unix milliseconds until which the current claim holds.
    pub lease_until: Option<i64>,
    /// StartAsyncInvoke's ARN, once started.
    pub async_invocation_arn: Option<String>,
    /// Token usage (Bedrock's `usage` shape) when succeeded.
    pub usage: Option<Value>,
    /// Cost (the API's `cost` shape) when succeeded.
    pub cost: Option<Value>,
    /// The result object's key in the results bucket.
    pub result_key: Option<String>,
    /// Why it failed (terminal).
    pub error: Option<JobError>,
    /// Why the last attempt failed (retryable; the job was released for another delivery).
    pub last_error: Option<JobError>,
    /// Webhook delivery outcome.
    pub webhook: Option<WebhookOutcome>,
    /// The API key that submitted it (its public ID, never the key or its hash), with
    /// `GATEWAY_AUTH=api_key`: the run is admitted and charged as that key (`jobs::charge`).
    pub key_id: Option<KeyId>,
    /// Unix milliseconds by which the caller wants the result (`deadline` at submission).
    pub deadline_at: Option<i64>,
    /// The caller's cap on the job's estimated cost (USD, decimal string).
    pub max_cost_usd: Option<String>,
    /// How the planner chose to run it, and why (`planner`).
    pub plan: Option<Plan>,
    /// The gateway's batch (`batch::BatchId`) that holds it, once a group was flushed.
    pub batch_id: Option<String>,
    /// Unix seconds: DynamoDB TTL.
    pub expires_at: i64,
}

impl JobRecord {
    /// A new queued job.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job_id: JobId,
        kind: JobKind,
        model: String,
        request: Value,
        request_hash: String,
        idempotency_key: Option<String>,
        webhook_url: Option<String>,
        now_ms: i64,
    ) -> JobRecord {
        JobRecord {
            job_id,
            status: JobStatus::Queued,
            kind,
            model,
            request,
            request_hash,
            idempotency_key,
            webhook_url,
            created_at: now_ms,
            updated_at: now_ms,
            enqueued_at: Some(now_ms),
            started_at: None,
            finished_at: None,
            attempts: 0,
            lease_until: None,
            async_invocation_arn: None,
            usage: None,
            cost: None,
            result_key: None,
            error: None,
            last_error: None,
            webhook: None,
            key_id: None,
            deadline_at: None,
            max_cost_usd: None,
            plan: None,
            batch_id: None,
            expires_at: now_ms / 1000 + RECORD_TTL_DAYS * 86_400,
        }
    }
}

/// What a delivery of a job's message should do, decided from the record alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Claim it (compare-and-set on the `attempts` seen) and run it as attempt `attempt`.
    Run {
        /// The attempt number this claim writes.
        attempt: u32,
    },
    /// StartAsyncInvoke already ran: ask GetAsyncInvoke how it is going.
    Poll {
        /// The invocation to ask about.
        arn: String,
    },
    /// Already succeeded or failed: acknowledge the message, run nothing.
    Done,
    /// Another delivery holds a live lease on it (or its batch is running): let this message
    /// come back later.
    Busy,
    /// Planned as batch and not flushed yet: the batch flusher runs it, not a message.
    Held,
}

impl JobRecord {
    /// Planned to run in a Bedrock batch (and not moved back to on demand since).
    pub fn is_batch_planned(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| p.mode == Mode::Batch)
    }
}

/// Decides what a delivery does with a job at `now_ms`.
///
/// A `running` job whose lease has expired was abandoned mid-run (the invocation crashed or timed
/// out before it could finish or release): it is claimed again. Whatever that run had done is
/// repeated; its late writes, if it was merely slow, are refused because they are conditional on
/// the attempt number it claimed.
pub fn decide(record: &JobRecord, now_ms: i64) -> Claim {
    match record.status {
        JobStatus::Succeeded | JobStatus::Failed => Claim::Done,
        JobStatus::Queued if record.is_batch_planned() => Claim::Held,
        JobStatus::Queued => Claim::Run {
            attempt: record.attempts + 1,
        },
        JobStatus::Running if record.batch_id.is_some() => Claim::Busy,
        JobStatus::Running => {
            if let Some(arn) = &record.async_invocation_arn {
                return Claim::Poll { arn: arn.clone() };
            }
            match record.lease_until {
                Some(until) if until > now_ms => Claim::Busy,
                _ => Claim::Run {
                    attempt: record.attempts + 1,
                },
            }
        }
    }
}

/// What a submission that found an existing job under its idempotency key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resubmit {
    /// Same key, different request: 409.
    Conflict,
    /// Same request: answer with the existing job, change nothing.
    Existing,
    /// Same request, and the job may have no message in the queue (never claimed and enqueued
    /// long ago, or its enqueue failed): send the message again (and reset an enqueue failure to
    /// `queued`), then answer with the job.
    Reenqueue,
}

/// Decides what to do with an existing job when the same idempotency key is submitted again.
pub fn resubmit(existing: &JobRecord, request_hash: &str, now_ms: i64) -> Resubmit {
    if existing.request_hash != request_hash {
        return Resubmit::Conflict;
    }
    let enqueue_failed = existing.status == JobStatus::Failed
        && existing
            .error
            .as_ref()
            .is_some_and(|e| e.error_type == ENQUEUE_FAILED);
    let stale_queued = existing.status == JobStatus::Queued
        && existing.attempts == 0
        && existing
            .enqueued_at
            .is_none_or(|t| now_ms - t >= REENQUEUE_AFTER_MS);
    if enqueue_failed || stale_queued {
        Resubmit::Reenqueue
    } else {
        Resubmit::Existing
    }
}

/// The result object's key: `results/<job_id>.json`.
pub fn result_key(job_id: &JobId) -> String {
    format!("results/{job_id}.json")
}

/// Where StartAsyncInvoke writes its output: `results/<job_id>/` (the prefix the functions may
/// write under).
pub fn async_output_prefix(job_id: &JobId) -> String {
    format!("results/{job_id}/")
}

/// RFC 3339 (UTC, milliseconds) for a Unix-milliseconds time.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    i64::try_from(inference_core::clock::unix_millis()).unwrap_or(i64::MAX)
}

impl JobRecord {
    /// The job as `GET /v1/jobs/{id}` and the webhook report it (without a presigned link,
    /// which only the API adds). Never includes the request (it may hold a prompt).
    pub fn summary(&self, bucket: Option<&str>) -> Value {
        let mut v = json!({
            "job_id": self.job_id.as_str(),
            "status": self.status.as_str(),
            "kind": self.kind.as_str(),
            "model": self.model,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "attempts": self.attempts,
            "status_url": format!("/v1/jobs/{}", self.job_id),
        });
        let o = v.as_object_mut();
        let Some(o) = o else { return v };
        let mut put = |k: &str, val: Option<Value>| {
            if let Some(val) = val {
                o.insert(k.to_owned(), val);
            }
        };
        put("started_at", self.started_at.map(|t| rfc3339(t).into()));
        put("finished_at", self.finished_at.map(|t| rfc3339(t).into()));
        put(
            "idempotency_key",
            self.idempotency_key.clone().map(Into::into),
        );
        put("key_id", self.key_id.as_ref().map(|k| k.as_str().into()));
        put("deadline", self.deadline_at.map(|t| rfc3339(t).into()));
        put("max_cost_usd", self.max_cost_usd.clone().map(Into::into));
        put(
            "plan",
            self.plan
                .as_ref()
                .and_then(|p| serde_json::to_value(p).ok()),
        );
        put("batch_id", self.batch_id.clone().map(Into::into));
        put("usage", self.usage.clone());
        put("cost", self.cost.clone());
        put(
            "error",
            self.error
                .as_ref()
                .and_then(|e| serde_json::to_value(e).ok()),
        );
        put(
            "last_error",
            self.last_error
                .as_ref()
                .filter(|_| !self.status.is_terminal())
                .and_then(|e| serde_json::to_value(e).ok()),
        );
        put(
            "async_invocation_arn",
            self.async_invocation_arn.clone().map(Into::into),
        );
        put(
            "result",
            self.result_key.as_ref().map(|key| match bucket {
                Some(b) => json!({"bucket": b, "key": key, "s3_uri": format!("s3://{b}/{key}")}),
                None => json!({"key": key}),
            }),
        );
        put(
            "webhook",
            self.webhook
                .as_ref()
                .and_then(|w| serde_json::to_value(w).ok()),
        );
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: JobStatus) -> JobRecord {
        let mut r = JobRecord::new(
            JobId::random(),
            JobKind::Converse,
            "amazon.nova-lite-v1:0".into(),
            json!({"model": "nova-lite"}),
            "h1".into(),
            None,
            None,
            1_000_000,
        );
        r.status = status;
        r
    }

    #[test]
    fn finished_jobs_are_acknowledged_without_running() {
        assert_eq!(decide(&job(JobStatus::Succeeded), 0), Claim::Done);
        assert_eq!(decide(&job(JobStatus::Failed), 0), Claim::Done);
    }

    #[test]
    fn queued_jobs_are_claimed_with_the_next_attempt() {
        let mut r = job(JobStatus::Queued);
        assert_eq!(decide(&r, 0), Claim::Run { attempt: 1 });
        r.attempts = 2; // released twice after throttling
        assert_eq!(decide(&r, 0), Claim::Run { attempt: 3 });
    }

    #[test]
    fn a_live_lease_is_busy_an_expired_one_is_reclaimed() {
        let mut r = job(JobStatus::Running);
        r.attempts = 1;
        r.lease_until = Some(5_000);
        assert_eq!(decide(&r, 4_999), Claim::Busy);
        assert_eq!(decide(&r, 5_000), Claim::Run { attempt: 2 });
        r.lease_until = None;
        assert_eq!(decide(&r, 0), Claim::Run { attempt: 2 });
    }

    #[test]
    fn started_async_invocations_are_polled_not_restarted() {
        let mut r = job(JobStatus::Running);
        r.async_invocation_arn = Some("arn:x".into());
        r.lease_until = Some(0);
        assert_eq!(
            decide(&r, 10),
            Claim::Poll {
                arn: "arn:x".into()
            }
        );
    }

    #[test]
    fn batch_jobs_wait_for_their_flush_and_their_batch() {
        let mut r = job(JobStatus::Queued);
        r.plan = Some(Plan {
            mode: Mode::Batch,
            reason: "r".into(),
            estimated_cost_usd: Default::default(),
            on_demand_cost_usd: Default::default(),
            saving_usd: Default::default(),
        });
        assert_eq!(decide(&r, 0), Claim::Held);
        r.status = JobStatus::Running;
        r.batch_id = Some("b".into());
        assert_eq!(decide(&r, 0), Claim::Busy);
        // Moved back to on demand (a record that failed in its batch): runs from its message.
        r.status = JobStatus::Queued;
        r.batch_id = None;
        r.plan.as_mut().unwrap().mode = Mode::OnDemand;
        assert_eq!(decide(&r, 0), Claim::Run { attempt: 1 });
    }

    #[test]
    fn resubmission_rules() {
        let now = 1_000_000 + REENQUEUE_AFTER_MS;
        let mut r = job(JobStatus::Queued);
        assert_eq!(resubmit(&r, "other", now), Resubmit::Conflict);
        assert_eq!(resubmit(&r, "h1", 1_000_001), Resubmit::Existing);
        assert_eq!(resubmit(&r, "h1", now), Resubmit::Reenqueue);
        r.attempts = 1; // claimed once and released: its message is in flight
        assert_eq!(resubmit(&r, "h1", now), Resubmit::Existing);
        let mut f = job(JobStatus::Failed);
        f.error = Some(JobError {
            error_type: ENQUEUE_FAILED.into(),
            message: "x".into(),
            retryable: true,
        });
        assert_eq!(resubmit(&f, "h1", 0), Resubmit::Reenqueue);
        f.error.as_mut().unwrap().error_type = "model_error".into();
        assert_eq!(resubmit(&f, "h1", now), Resubmit::Existing);
        assert_eq!(
            resubmit(&job(JobStatus::Succeeded), "h1", now),
            Resubmit::Existing
        );
    }

    #[test]
    fn summary_never_carries_the_request() {
        let mut r = job(JobStatus::Succeeded);
        r.request = json!({"messages": [{"role": "user", "content": [{"text": "secret prompt"}]}]});
        r.result_key = Some(result_key(&r.job_id));
        let s = r.summary(Some("bucket"));
        assert!(!s.to_string().contains("secret prompt"));
        assert_eq!(s["status"], "succeeded");
        assert_eq!(s["created_at"], "1970-01-01T00:16:40Z");
        assert!(
            s["result"]["s3_uri"]
                .as_str()
                .unwrap()
                .starts_with("s3://bucket/results/job_")
        );
    }
}
