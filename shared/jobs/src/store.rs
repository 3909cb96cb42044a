//! Job records in DynamoDB (moto locally via `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//! Every transition is a conditional write naming the state it expects, so two deliveries of the
//! same message (or a slow run and its successor) cannot both move a job: the loser's write fails
//! its condition and it stands down. Sub-documents (request, usage, cost, errors, webhook) are
//! stored as JSON strings: they are read and written whole, never queried.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::id::JobId;
use super::record::{JobError, JobKind, JobRecord, JobStatus, WebhookOutcome};
use gateway_stores::dynamo::{get_s, n, s};
use inference_core::error::GatewayError;

type Item = HashMap<String, AttributeValue>;

/// Which claim a write must still hold to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The run that claimed attempt N (its `attempts` value).
    Attempt(u32),
    /// The poller of this async invocation (any delivery may poll).
    Invocation(String),
    /// The poller of this gateway batch (`batch::BatchId`).
    Batch(String),
}

/// How a job finished, for [`JobStore::finish`].
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The result is in S3 under `result_key`.
    Succeeded {
        /// Bedrock's `usage`.
        usage: Option<Value>,
        /// The API's `cost`.
        cost: Option<Value>,
        /// Key of the result object.
        result_key: String,
    },
    /// No result; why.
    Failed(JobError),
}

/// The jobs table.
#[derive(Debug, Clone)]
pub struct JobStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

pub(crate) fn json_s<T: serde::Serialize>(v: &T) -> AttributeValue {
    s(serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
}

/// The store's name in errors.
pub(crate) const STORE: &str = "job store";

pub(crate) fn store_error<E, R>(what: &str, e: SdkError<E, R>) -> GatewayError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    gateway_stores::dynamo::store_error(STORE, what, e)
}

/// `#name` tokens of expressions: every attribute is referred to by an alias, because DynamoDB
/// reserves many plain words (`status`, `usage`, ...) and refuses unused aliases.
fn aliases(exprs: &[&Option<String>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in exprs.iter().filter_map(|e| e.as_deref()) {
        let mut rest = e;
        while let Some(i) = rest.find('#') {
            let tail = &rest[i + 1..];
            let len = tail
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let name = &tail[..len];
            if !name.is_empty() && !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
            rest = &tail[len..];
        }
    }
    out
}

/// Adds `#x -> x` for every alias the request's expressions use.
pub(crate) trait Named {
    fn named(self) -> Self;
}

impl Named for aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
    fn named(self) -> Self {
        let names = aliases(&[
            self.get_update_expression(),
            self.get_condition_expression(),
        ]);
        names.into_iter().fold(self, |b, n| {
            b.expression_attribute_names(format!("#{n}"), n)
        })
    }
}

impl Named for aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
    fn named(self) -> Self {
        let names = aliases(&[self.get_condition_expression()]);
        names.into_iter().fold(self, |b, n| {
            b.expression_attribute_names(format!("#{n}"), n)
        })
    }
}

impl JobStore {
    /// An UpdateItem of the row whose `job_id` is `key` (a job, a batch run, the batch index).
    pub(crate) fn update_row(
        &self,
        key: impl Into<String>,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("job_id", AttributeValue::S(key.into()))
    }

    /// A store over `table`, from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> JobStore {
        JobStore {
            client: Client::new(sdk),
            table: table.into(),
        }
    }

    /// Reads a job (strongly consistent: decisions are made on it).
    pub async fn get(&self, id: &JobId) -> Result<Option<JobRecord>, GatewayError> {
        self.read_item(id.as_str(), "GetItem")
            .await?
            .map(|i| from_item(&i))
            .transpose()
    }

    /// Reads the table's item `pk` (a job, an idempotency key, an inbox line), strongly
    /// consistent; `what` names the call in errors.
    pub(crate) async fn read_item(
        &self,
        pk: &str,
        what: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, GatewayError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("job_id", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(what, e))?;
        Ok(out.item)
    }

    /// Writes a new job unless one with its ID exists. `Ok(false)`: it exists (same idempotency
    /// key), nothing written.
    pub async fn create(&self, record: &JobRecord) -> Result<bool, GatewayError> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
            .condition_expression("attribute_not_exists(#job_id)")
            .named()
            .send()
            .await;
        gateway_stores::dynamo::conditional(r, STORE, "PutItem")
    }

    /// Claims a job seen as `seen` (status and attempts unchanged since): `running`, attempt
    /// `seen.attempts + 1`, leased until `lease_until`. `Ok(false)`: someone else moved it first.
    pub async fn claim(
        &self,
        seen: &JobRecord,
        lease_until: i64,
        now: i64,
    ) -> Result<bool, GatewayError> {
        let r = self.update_row(seen.job_id.as_str())
            .update_expression("SET #status = :running, #attempts = :next, #lease_until = :lease, #updated_at = :now, \
                 #started_at = if_not_exists(#started_at, :now)",
            )
            .condition_expression("#status = :seen AND #attempts = :attempts")
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":seen", s(seen.status.as_str()))
            .expression_attribute_values(":attempts", n(seen.attempts))
            .expression_attribute_values(":next", n(seen.attempts + 1))
            .expression_attribute_values(":lease", n(lease_until))
            .expression_attribute_values(":now", n(now))
            .named()
            .send()
            .await;
        gateway_stores::dynamo::conditional(r, STORE, "UpdateItem (claim)")
    }

    fn owned_update(
        &self,
        id: &JobId,
        owner: &Owner,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let b = self
            .update_row(id.as_str())
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()));
        match owner {
            Owner::Attempt(a) => b
                .condition_expression("#status = :running AND #attempts = :owner")
                .expression_attribute_values(":owner", n(a)),
            Owner::Invocation(arn) => b
                .condition_expression("#status = :running AND #async_invocation_arn = :owner")
                .expression_attribute_values(":owner", s(arn)),
            Owner::Batch(batch) => b
                .condition_expression("#status = :running AND #batch_id = :owner")
                .expression_attribute_values(":owner", s(batch)),
        }
    }

    /// Gives a claimed job back to the queue after a retryable failure: `queued`, with the error
    /// as `last_error`. `Ok(false)`: the claim was lost (another run took over).
    pub async fn release(
        &self,
        id: &JobId,
        attempt: u32,
        error: &JobError,
        now: i64,
    ) -> Result<bool, GatewayError> {
        let r = self
            .owned_update(id, &Owner::Attempt(attempt))
            .update_expression(
                "SET #status = :queued, #last_error = :err, #updated_at = :now REMOVE #lease_until",
            )
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":err", json_s(error))
            .expression_attribute_values(":now", n(now))
            .named()
            .send()
            .await;
        gateway_stores::dynamo::conditional(r, STORE, "UpdateItem (release)")
    }

    /// Records the StartAsyncInvoke ARN on the claimed job (later deliveries poll it).
    pub async fn set_async_invocation(
        &self,
        id: &JobId,
        attempt: u32,
        arn: &str,
        now: i64,
    ) -> Result<bool, GatewayError> {
        let r = self
            .owned_update(id, &Owner::Attempt(attempt))
            .update_expression("SET #async_invocation_arn = :arn, #updated_at = :now")
            .expression_attribute_values(":arn", s(arn))
            .expression_attribute_values(":now", n(now))
            .named()
            .send()
            .await;
        gateway_stores::dynamo::conditional(r, STORE, "UpdateItem (async invocation)")
    }

    /// Moves a job its `owner` still holds to `succeeded` or `failed` (webhook `pending` when it
    /// has one). `Ok(false)`: the claim was lost; nothing written.
    pub async fn finish(
        &self,
        id: &JobId,
        owner: &Owner,
        outcome: &Outcome,
        webhook_pending: Option<&WebhookOutcome>,
        now: i64,
    ) -> Result<bool, GatewayError> {
        let mut set = vec![
            "#status = :final",
            "#updated_at = :now",
            "#finished_at = :now",
        ];
        let mut b = self
            .owned_update(id, owner)
            .expression_attribute_values(":now", n(now));
        match outcome {
            Outcome::Succeeded {
                usage,
                cost,
                result_key,
            } => {
                b = b
                    .expression_attribute_values(":final", s(JobStatus::Succeeded.as_str()))
                    .expression_attribute_values(":key", s(result_key));
                set.push("#result_key = :key");
                if let Some(u) = usage {
                    b = b.expression_attribute_values(":usage", json_s(u));
                    set.push("#usage = :usage");
                }
                if let Some(c) = cost {
                    b = b.expression_attribute_values(":cost", json_s(c));
                    set.push("#cost = :cost");
                }
            }
            Outcome::Failed(err) => {
                b = b
                    .expression_attribute_values(":final", s(JobStatus::Failed.as_str()))
                    .expression_attribute_values(":err", json_s(err));
                set.push("#error = :err");
            }
        }
        if let Some(w) = webhook_pending {
            b = b.expression_attribute_values(":wh", json_s(w));
            set.push("#webhook = :wh");
        }
        let expr = format!("SET {} REMOVE #lease_until", set.join(", "));
        gateway_stores::dynamo::conditional(
            b.update_expression(expr).named().send().await,
            STORE,
            "UpdateItem (finish)",
        )
    }

    /// Records the webhook outcome (after the job finished; unconditional: only the run that
    /// finished the job delivers its webhook).
    pub async fn record_webhook(
        &self,
        id: &JobId,
        outcome: &WebhookOutcome,
        now: i64,
    ) -> Result<(), GatewayError> {
        self.update_row(id.as_str())
            .update_expression("SET #webhook = :wh, #updated_at = :now")
            .condition_expression("attribute_exists(#job_id)")
            .expression_attribute_values(":wh", json_s(outcome))
            .expression_attribute_values(":now", n(now))
            .named()
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (webhook)", e))?;
        Ok(())
    }

    /// After a failed enqueue: `failed` with `error.type = enqueue_failed`, so the record is
    /// never left `queued` with no message, and a resubmission with the same idempotency key
    /// can put it back (see [`JobStore::requeue`]).
    pub async fn mark_enqueue_failed(
        &self,
        id: &JobId,
        error: &JobError,
        now: i64,
    ) -> Result<bool, GatewayError> {
        let r = self
            .update_row(id.as_str())
            .update_expression(
                "SET #status = :failed, #error = :err, #updated_at = :now, #finished_at = :now",
            )
            .condition_expression("#status = :queued AND #attempts = :zero")
            .expression_attribute_values(":failed", s(JobStatus::Failed.as_str()))
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":err", json_s(error))
            .expression_attribute_values(":now", n(now))
            .named()
            .send()
            .await;
        gateway_stores::dynamo::conditional(r, STORE, "UpdateItem (enqueue failed)")
    }

    /// Before re-sending a job's message: back to `queued` (from an enqueue failure, or still
    /// never claimed) with `enqueued_at = now`. `Ok(false)`: it moved meanwhile (claimed).
    pub async fn requeue(&self, id: &JobId, now: i64) -> Result<bool, GatewayError> {
        let r = self.update_row(id.as_str())
            .update_expression("SET #status = :queued, #enqueued_at = :now, #updated_at = :now REMOVE #error, #finished_at",
            )
            .condition_expression("#attempts = :zero AND (#status = :queued OR (#status = :failed AND contains(#error, :ef)))",
            )
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":failed", s(JobStatus::Failed.as_str()))
            .expression_attribute_values(":ef", s(super::record::ENQUEUE_FAILED))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now))
            .named()
            .send()
            .await;
        gateway_stores::dynamo::conditional(r, STORE, "UpdateItem (requeue)")
    }
}

/// The DynamoDB item of a record.
pub fn to_item(r: &JobRecord) -> Item {
    let mut i = Item::new();
    i.insert("job_id".into(), s(r.job_id.as_str()));
    i.insert("status".into(), s(r.status.as_str()));
    i.insert("kind".into(), s(r.kind.as_str()));
    i.insert("model".into(), s(&r.model));
    i.insert("request".into(), json_s(&r.request));
    i.insert("request_hash".into(), s(&r.request_hash));
    i.insert("created_at".into(), n(r.created_at));
    i.insert("updated_at".into(), n(r.updated_at));
    i.insert("attempts".into(), n(r.attempts));
    i.insert("expires_at".into(), n(r.expires_at));
    let mut opt = |k: &str, v: Option<AttributeValue>| {
        if let Some(v) = v {
            i.insert(k.into(), v);
        }
    };
    opt("idempotency_key", r.idempotency_key.as_deref().map(s));
    opt("webhook_url", r.webhook_url.as_deref().map(s));
    opt("enqueued_at", r.enqueued_at.map(n));
    opt("started_at", r.started_at.map(n));
    opt("finished_at", r.finished_at.map(n));
    opt("lease_until", r.lease_until.map(n));
    opt(
        "async_invocation_arn",
        r.async_invocation_arn.as_deref().map(s),
    );
    opt("usage", r.usage.as_ref().map(json_s));
    opt("cost", r.cost.as_ref().map(json_s));
    opt("result_key", r.result_key.as_deref().map(s));
    opt("error", r.error.as_ref().map(json_s));
    opt("last_error", r.last_error.as_ref().map(json_s));
    opt("webhook", r.webhook.as_ref().map(json_s));
    opt("key_id", r.key_id.as_ref().map(|k| s(k.as_str())));
    opt("deadline_at", r.deadline_at.map(n));
    opt("max_cost_usd", r.max_cost_usd.as_deref().map(s));
    opt("plan", r.plan.as_ref().map(json_s));
    opt("batch_id", r.batch_id.as_deref().map(s));
    i
}

fn corrupt(field: &str) -> GatewayError {
    GatewayError::internal(format!("job record: missing or malformed {field}"))
}

fn get_n(i: &Item, k: &str) -> Option<i64> {
    i.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn get_json<T: serde::de::DeserializeOwned>(i: &Item, k: &str) -> Option<T> {
    get_s(i, k).and_then(|t| serde_json::from_str(t).ok())
}

/// A record from its DynamoDB item.
pub fn from_item(i: &Item) -> Result<JobRecord, GatewayError> {
    let job_id = JobId::parse(get_s(i, "job_id").ok_or_else(|| corrupt("job_id"))?)
        .map_err(|_| corrupt("job_id"))?;
    Ok(JobRecord {
        job_id,
        status: get_s(i, "status")
            .and_then(JobStatus::parse)
            .ok_or_else(|| corrupt("status"))?,
        kind: get_s(i, "kind")
            .and_then(JobKind::parse)
            .ok_or_else(|| corrupt("kind"))?,
        model: get_s(i, "model").unwrap_or_default().to_owned(),
        request: get_json(i, "request").ok_or_else(|| corrupt("request"))?,
        request_hash: get_s(i, "request_hash").unwrap_or_default().to_owned(),
        idempotency_key: get_s(i, "idempotency_key").map(str::to_owned),
        webhook_url: get_s(i, "webhook_url").map(str::to_owned),
        created_at: get_n(i, "created_at").ok_or_else(|| corrupt("created_at"))?,
        updated_at: get_n(i, "updated_at").unwrap_or_default(),
        enqueued_at: get_n(i, "enqueued_at"),
        started_at: get_n(i, "started_at"),
        finished_at: get_n(i, "finished_at"),
        attempts: get_n(i, "attempts")
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0),
        lease_until: get_n(i, "lease_until"),
        async_invocation_arn: get_s(i, "async_invocation_arn").map(str::to_owned),
        usage: get_json(i, "usage"),
        cost: get_json(i, "cost"),
        result_key: get_s(i, "result_key").map(str::to_owned),
        error: get_json(i, "error"),
        last_error: get_json(i, "last_error"),
        webhook: get_json(i, "webhook"),
        key_id: match get_s(i, "key_id") {
            Some(k) => Some(inference_core::auth::KeyId::parse(k).map_err(|_| corrupt("key_id"))?),
            None => None,
        },
        deadline_at: get_n(i, "deadline_at"),
        max_cost_usd: get_s(i, "max_cost_usd").map(str::to_owned),
        plan: get_json(i, "plan"),
        batch_id: get_s(i, "batch_id").map(str::to_owned),
        expires_at: get_n(i, "expires_at").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::WebhookStatus;
    use serde_json::json;

    #[test]
    fn items_round_trip() {
        let mut r = JobRecord::new(
            JobId::random(),
            JobKind::AsyncInvoke,
            "amazon.nova-reel-v1:0".into(),
            json!({"model": "amazon.nova-reel-v1:0", "native": {"taskType": "TEXT_VIDEO"}}),
            "abc".into(),
            Some("k1".into()),
            Some("https://example.com/h".into()),
            1_700_000_000_000,
        );
        r.status = JobStatus::Succeeded;
        r.key_id = Some(inference_core::auth::KeyId::parse("key_0123456789abcdef").unwrap());
        r.attempts = 2;
        r.deadline_at = Some(1_700_086_400_000);
        r.max_cost_usd = Some("0.5".into());
        r.batch_id = Some("batch_x".into());
        r.plan = Some(crate::planner::Plan {
            mode: crate::planner::Mode::Batch,
            reason: "cheapest".into(),
            estimated_cost_usd: "0.1".parse().unwrap(),
            on_demand_cost_usd: "0.2".parse().unwrap(),
            saving_usd: "0.1".parse().unwrap(),
        });
        r.usage = Some(json!({"inputTokens": 3}));
        r.error = None;
        r.last_error = Some(JobError {
            error_type: "throttled".into(),
            message: "slow down".into(),
            retryable: true,
        });
        r.webhook = Some(WebhookOutcome {
            status: WebhookStatus::Delivered,
            attempts: 1,
            last_status_code: Some(204),
            last_error: None,
        });
        assert_eq!(from_item(&to_item(&r)).unwrap(), r);
    }

    #[test]
    fn every_attribute_in_an_expression_gets_an_alias() {
        let u = Some("SET #status = :s, #usage = :u REMOVE #lease_until".to_owned());
        let c = Some("#status = :running AND #attempts = :a".to_owned());
        assert_eq!(
            aliases(&[&u, &c]),
            ["status", "usage", "lease_until", "attempts"]
        );
        assert!(aliases(&[&None]).is_empty());
    }

    #[test]
    fn corrupt_items_are_internal_errors() {
        let mut i = to_item(&JobRecord::new(
            JobId::random(),
            JobKind::Converse,
            "m".into(),
            json!({}),
            "h".into(),
            None,
            None,
            0,
        ));
        i.insert("status".into(), s("exploded"));
        assert_eq!(from_item(&i).unwrap_err().status(), 500);
    }
}
