//! `POST /v1/jobs` bodies: parsed and checked up front (model resolves and is allowed, the
//! request converts, `maxTokens` fits, the webhook URL is safe), so a job that cannot run is a
//! 400 now rather than a failed job later.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use rust_decimal::Decimal;

use super::deadline::Deadline;
use super::id::IdempotencyKey;
use super::id::JobId;
use super::planner::{Plan, Wants};
use super::queue::JobQueue;
use super::record::{ENQUEUE_FAILED, JobError, JobKind, JobRecord, now_ms};
use super::store::JobStore;
use super::url_guard::{UrlPolicy, WebhookUrl};
use inference_core::auth::KeyId;
use inference_core::catalog::Capability;
use inference_core::convert::ConverseParts;
use inference_core::error::GatewayError;
use inference_core::pipeline::Gateway;

/// Largest stored request (the record holds it, and a DynamoDB item is at most 400 KB).
pub const MAX_STORED_REQUEST_BYTES: usize = 300_000;

/// A checked submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// How it runs.
    pub kind: JobKind,
    /// The model ID it resolved to.
    pub model: String,
    /// What to run: the Converse request, or `{"model", "native"}`.
    pub request: Value,
    /// Where to report.
    pub webhook_url: Option<WebhookUrl>,
    /// The caller's key.
    pub idempotency_key: Option<IdempotencyKey>,
    /// SHA-256 of the canonical submission (request, webhook URL, deadline, cost cap).
    pub request_hash: String,
    /// `deadline`: how long the caller can wait.
    pub deadline: Option<Deadline>,
    /// `max_cost_usd`.
    pub max_cost_usd: Option<Decimal>,
    /// How it will run, and why (`planner`).
    pub plan: Plan,
}

/// The record of a checked submission as job `id`, charged to `key_id`: one place that turns a
/// submission into a record, for `POST /v1/jobs` and for batch and inbox lines.
fn new_record(id: JobId, sub: Submission, key_id: Option<KeyId>, now: i64) -> JobRecord {
    let mut record = JobRecord::new(
        id,
        sub.kind,
        sub.model,
        sub.request,
        sub.request_hash,
        sub.idempotency_key.map(|k| k.as_str().to_owned()),
        sub.webhook_url.map(|u| u.as_str().to_owned()),
        now,
    );
    record.key_id = key_id;
    record.deadline_at = sub.deadline.map(|d| now + d.as_ms());
    record.max_cost_usd = sub.max_cost_usd.map(|c| c.normalize().to_string());
    record.plan = Some(sub.plan);
    record
}

/// Records a checked submission as job `id` (a conditional write), charged to `key_id`. A job
/// planned for batch is held in its model's batch group before its record exists: the flusher
/// skips a member with no record, so a crash in between loses nothing (the caller got no
/// answer). `None` when `id`'s record exists already: an idempotency key's job, written by an
/// earlier or a concurrent submission. Enqueueing a job not held for batch is the caller's
/// (`JobRecord::is_batch_planned` tells which).
pub async fn record_as(
    store: &JobStore,
    id: JobId,
    sub: Submission,
    key_id: Option<KeyId>,
    now: i64,
) -> Result<Option<JobRecord>, GatewayError> {
    let record = new_record(id, sub, key_id, now);
    if record.is_batch_planned() {
        store
            .add_to_batch_group(&record.model, &record.job_id)
            .await?;
    }
    Ok(store.create(&record).await?.then_some(record))
}

/// Records a checked submission as a new job under a fresh ID and without an idempotency key
/// (a line of an OpenAI batch or of an inbox file), as [`record_as`] does.
pub async fn record_new(
    store: &JobStore,
    mut sub: Submission,
    key_id: Option<KeyId>,
    now: i64,
) -> Result<JobRecord, GatewayError> {
    sub.idempotency_key = None;
    record_as(store, JobId::random(), sub, key_id, now)
        .await?
        .ok_or_else(|| GatewayError::internal("a fresh job ID was already taken"))
}

/// Largest `max_cost_usd` accepted.
const MAX_COST_CAP: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// `max_cost_usd`: a positive number (or decimal string) up to 1,000,000.
fn max_cost(v: Value) -> Result<Option<Decimal>, GatewayError> {
    let bad = || {
        invalid(
            "max_cost_usd: expected a positive number of US dollars (e.g. 0.25), at most 1000000",
        )
    };
    let d = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.to_string().parse::<Decimal>().map_err(|_| bad())?,
        Value::String(t) => t.trim().parse::<Decimal>().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if d <= Decimal::ZERO || d > MAX_COST_CAP {
        return Err(bad());
    }
    Ok(Some(d))
}

fn invalid(m: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(m)
}

/// Parses and checks a submission, resolves the webhook host (DNS) when it is a name, and plans
/// it (`batch_on`: the deployment runs Bedrock batch).
pub async fn validate(
    gw: &Gateway,
    body: Value,
    policy: UrlPolicy,
    batch_on: bool,
) -> Result<Submission, GatewayError> {
    let Value::Object(mut o) = body else {
        return Err(invalid("request body must be a JSON object"));
    };
    if let Some(k) = o.keys().find(|k| {
        ![
            "request",
            "native",
            "model",
            "webhook_url",
            "idempotency_key",
            "deadline",
            "max_cost_usd",
        ]
        .contains(&k.as_str())
    }) {
        return Err(invalid(format!(
            "unknown field {k:?}; expected request (a Converse request), or native and model, plus optional webhook_url, idempotency_key, deadline and max_cost_usd"
        )));
    }
    let deadline = match o.remove("deadline") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(Deadline::parse(&d)?),
        Some(_) => {
            return Err(invalid(
                "deadline: expected a string such as \"10m\" or \"24h\"",
            ));
        }
    };
    let max_cost_usd = max_cost(o.remove("max_cost_usd").unwrap_or(Value::Null))?;
    let idempotency_key = match o.remove("idempotency_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(IdempotencyKey::parse(&k)?),
        Some(_) => return Err(invalid("idempotency_key: expected a string")),
    };
    let webhook_url = match o.remove("webhook_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => {
            let url = WebhookUrl::parse(&u, policy)?;
            url.resolve(policy).await?;
            Some(url)
        }
        Some(_) => return Err(invalid("webhook_url: expected a string")),
    };
    let (kind, model, request) = what_to_run(gw, &mut o)?;
    let stored = serde_json::to_vec(&request)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if stored > MAX_STORED_REQUEST_BYTES {
        return Err(
            GatewayError::payload_too_large(stored, MAX_STORED_REQUEST_BYTES)
                .context("job request"),
        );
    }
    let options = super::quote::options(gw, kind, &request, batch_on)?;
    let plan = super::planner::plan(
        &options,
        &Wants {
            deadline,
            max_cost_usd,
        },
    )?;
    let mut canonical = json!({
        "kind": kind.as_str(),
        "request": request,
        "webhook_url": webhook_url.as_ref().map(WebhookUrl::as_str),
    });
    // Absent when not given, so submissions from before deadlines hash as they did.
    if let Some(d) = deadline {
        canonical["deadline_ms"] = json!(d.as_ms());
    }
    if let Some(c) = max_cost_usd {
        canonical["max_cost_usd"] = json!(c.normalize().to_string());
    }
    let request_hash = hash(&canonical);
    Ok(Submission {
        deadline,
        max_cost_usd,
        plan,
        kind,
        model,
        request,
        webhook_url,
        idempotency_key,
        request_hash,
    })
}

/// The job's kind, model and what to run: a Converse `request`, or `native` and `model` for an
/// async-only model; each checked as its route would.
fn what_to_run(
    gw: &Gateway,
    o: &mut Map<String, Value>,
) -> Result<(JobKind, String, Value), GatewayError> {
    Ok(
        match (o.remove("request"), o.remove("native"), o.remove("model")) {
            (Some(request @ Value::Object(_)), None, None) => {
                let name = gw.requested_model(&request)?;
                let parts = ConverseParts::from_json(&request, &["model"])
                    .map_err(|e| e.context("request"))?;
                if parts.messages.is_empty() {
                    // Bedrock would refuse it at run time; refuse it now.
                    return Err(invalid(
                        "request.messages: at least one message is required",
                    ));
                }
                // The key's default tier is applied when the job runs (its caller is known then).
                let prepared = gw.prepare(&name, &parts, Capability::Converse, None)?;
                (
                    JobKind::Converse,
                    prepared.resolved.model.id.to_string(),
                    request,
                )
            }
            (Some(_), None, None) => {
                return Err(invalid(
                    "request: expected a JSON object (a Converse request)",
                ));
            }
            (None, Some(native @ Value::Object(_)), Some(Value::String(model))) => {
                let resolved = gw.resolve_allowed(&model, Capability::AsyncInvoke)?;
                crate::async_invoke::check_video_seconds(&native)?;
                let id = resolved.model.id.to_string();
                (
                    JobKind::AsyncInvoke,
                    id.clone(),
                    json!({"model": id, "native": native}),
                )
            }
            (None, Some(_), Some(Value::String(_))) => {
                return Err(invalid(
                    "native: expected a JSON object (the model's own body)",
                ));
            }
            (None, Some(_), _) => {
                return Err(invalid(
                    "model: required with native (a model run with StartAsyncInvoke, e.g. amazon.nova-reel-v1:0)",
                ));
            }
            (Some(_), _, _) => {
                return Err(invalid(
                    "give either request, or native and model; not both",
                ));
            }
            (None, None, _) => {
                return Err(invalid(
                    "request: required (a Converse request as for /v1/converse)",
                ));
            }
        },
    )
}

/// SHA-256 (hex) of a value's canonical JSON (object keys sorted at every level), so the same
/// request hashes the same whatever order its keys were sent in.
pub fn hash(v: &Value) -> String {
    hex::encode(Sha256::digest(canonical(v).to_string().as_bytes()))
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut m = Map::new();
            for k in keys {
                m.insert(k.clone(), canonical(&o[k]));
            }
            Value::Object(m)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Sends a recorded job to the queue; when that fails the record is marked `enqueue_failed`
/// (with `message`, retryable) so it never waits for a worker that will not come. False when
/// the job was not queued: the caller decides whether that fails its request.
pub async fn enqueue_or_mark_failed(
    store: &JobStore,
    queue: &JobQueue,
    id: &JobId,
    message: &str,
) -> bool {
    let Err(e) = queue.enqueue(id).await else {
        return true;
    };
    tracing::error!(job_id = %id, error = %e, "enqueue failed");
    let reason = JobError {
        error_type: ENQUEUE_FAILED.into(),
        message: message.into(),
        retryable: true,
    };
    if let Err(mark) = store.mark_enqueue_failed(id, &reason, now_ms()).await {
        tracing::error!(job_id = %id, error = %mark, "could not mark the job as not enqueued");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::Mode;

    #[test]
    fn max_cost_takes_positive_numbers_and_strings() {
        assert_eq!(
            max_cost(json!(0.25)).unwrap(),
            Some("0.25".parse().unwrap())
        );
        assert_eq!(
            max_cost(json!("1.5")).unwrap(),
            Some("1.5".parse().unwrap())
        );
        assert_eq!(max_cost(Value::Null).unwrap(), None);
        for bad in [
            json!(0),
            json!(-1),
            json!("x"),
            json!(true),
            json!(2_000_000),
        ] {
            let e = max_cost(bad.clone()).unwrap_err();
            assert!(e.message().starts_with("max_cost_usd:"), "{bad}");
        }
    }

    fn submission(mode: Mode) -> Submission {
        Submission {
            kind: JobKind::Converse,
            model: "amazon.nova-lite-v1:0".into(),
            request: json!({"messages": []}),
            webhook_url: None,
            idempotency_key: Some(IdempotencyKey::parse("order-17").unwrap()),
            request_hash: "h1".into(),
            deadline: Some(Deadline::parse("10m").unwrap()),
            max_cost_usd: Some("0.250".parse().unwrap()),
            plan: Plan {
                mode,
                reason: "test".into(),
                estimated_cost_usd: Decimal::ONE,
                on_demand_cost_usd: Decimal::ONE,
                saving_usd: Decimal::ZERO,
            },
        }
    }

    #[test]
    fn a_submission_becomes_its_record() {
        let id = JobId::random();
        let key = KeyId::parse("key_0123456789abcdef").unwrap();
        let now = 1_000_000;
        let r = new_record(id.clone(), submission(Mode::Batch), Some(key.clone()), now);
        assert_eq!(r.job_id, id);
        assert_eq!(r.key_id, Some(key));
        assert_eq!(r.idempotency_key.as_deref(), Some("order-17"));
        assert_eq!(r.request_hash, "h1");
        assert_eq!(r.deadline_at, Some(now + 600_000));
        assert_eq!(r.max_cost_usd.as_deref(), Some("0.25"));
        assert!(r.is_batch_planned());
        let r = new_record(JobId::random(), submission(Mode::OnDemand), None, now);
        assert!(!r.is_batch_planned());
        assert_eq!(r.key_id, None);
    }

    #[test]
    fn hashes_ignore_key_order_but_not_content() {
        let a = json!({"a": 1, "b": {"y": [1, 2], "x": "s"}});
        let b = json!({"b": {"x": "s", "y": [1, 2]}, "a": 1});
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(
            hash(&a),
            hash(&json!({"a": 1, "b": {"x": "s", "y": [2, 1]}}))
        );
    }
}
