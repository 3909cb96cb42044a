//! Batch bookkeeping in the jobs table, beside the job records:
//!
//! - `batch#index`: `models` (string set: models with a group) and `open` (batch IDs not done);
//! - `batch#group#<model>`: `members`, the IDs of jobs held for that model's next batch;
//! - `batch#run#<batch id>`: one batch: model, members, Bedrock's job ARN once created, status.
//!
//! A job's own record stays the truth: it is moved into a batch by a conditional write
//! (`queued`, in no batch -> `running` in this batch), finished only while it is still in that
//! batch (`store::Owner::Batch`), and moved back to on demand the same way. The sets are
//! indexes: a stale member is dropped when read, and adding or removing twice changes nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::BatchId;
use crate::id::JobId;
use crate::planner::Plan;
use crate::record::{JobError, JobRecord, JobStatus, RECORD_TTL_DAYS};
use crate::store::{JobStore, Named, STORE, json_s, store_error};
use gateway_stores::dynamo::{get_s, n, s};
use inference_core::error::GatewayError;

const INDEX: &str = "batch#index";

fn group_key(model: &str) -> String {
    format!("batch#group#{model}")
}

fn run_key(id: &BatchId) -> String {
    format!("batch#run#{id}")
}

fn string_set(item: &HashMap<String, AttributeValue>, k: &str) -> Vec<String> {
    item.get(k)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default()
}

/// What the index lists.
#[derive(Debug, Clone, Default)]
pub struct BatchIndex {
    /// Models with a group (possibly empty now).
    pub models: Vec<String>,
    /// Batches not done.
    pub open: Vec<BatchId>,
}

/// One batch as recorded.
#[derive(Debug, Clone)]
pub struct BatchRun {
    /// Its ID.
    pub id: BatchId,
    /// The model ID it runs.
    pub model: String,
    /// The jobs it holds.
    pub members: Vec<JobId>,
    /// Bedrock's job ARN, once CreateModelInvocationJob answered.
    pub job_arn: Option<String>,
    /// `done` once every member was finished or sent back.
    pub done: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl JobStore {
    /// Holds a job for its model's next batch (idempotent).
    pub async fn add_to_batch_group(&self, model: &str, id: &JobId) -> Result<(), GatewayError> {
        self.add_to_set(&group_key(model), "members", vec![id.as_str().to_owned()])
            .await?;
        self.add_to_set(INDEX, "models", vec![model.to_owned()])
            .await
    }

    /// The jobs held for `model`.
    pub async fn batch_group(&self, model: &str) -> Result<Vec<String>, GatewayError> {
        Ok(self
            .read_item(&group_key(model), "GetItem (batch group)")
            .await?
            .map(|i| string_set(&i, "members"))
            .unwrap_or_default())
    }

    /// Drops jobs from `model`'s group (flushed, or no longer held).
    pub async fn remove_from_batch_group(
        &self,
        model: &str,
        ids: &[String],
    ) -> Result<(), GatewayError> {
        for chunk in ids.chunks(1_000) {
            self.update_row(group_key(model))
                .update_expression("DELETE #members :ids")
                .expression_attribute_values(":ids", AttributeValue::Ss(chunk.to_vec()))
                .named()
                .send()
                .await
                .map_err(|e| store_error("UpdateItem (batch group)", e))?;
        }
        Ok(())
    }

    /// The index of groups and open batches.
    pub async fn batch_index(&self) -> Result<BatchIndex, GatewayError> {
        let Some(item) = self.read_item(INDEX, "GetItem (batch index)").await? else {
            return Ok(BatchIndex::default());
        };
        Ok(BatchIndex {
            models: string_set(&item, "models"),
            open: string_set(&item, "open")
                .iter()
                .filter_map(|b| BatchId::parse(b))
                .collect(),
        })
    }

    /// Records a new batch (before any job is moved into it) and lists it as open.
    pub async fn create_batch_run(&self, run: &BatchRun) -> Result<(), GatewayError> {
        let members: Vec<String> = run.members.iter().map(|m| m.as_str().to_owned()).collect();
        let mut item = HashMap::new();
        item.insert("job_id".to_owned(), s(run_key(&run.id)));
        item.insert("model".to_owned(), s(&run.model));
        item.insert("members".to_owned(), AttributeValue::Ss(members));
        item.insert("created_at".to_owned(), n(run.created_at));
        item.insert(
            "expires_at".to_owned(),
            n(run.created_at / 1000 + RECORD_TTL_DAYS * 86_400),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem (batch run)", e))?;
        self.add_to_set(INDEX, "open", vec![run.id.as_str().to_owned()])
            .await
    }

    /// Reads a batch.
    pub async fn batch_run(&self, id: &BatchId) -> Result<Option<BatchRun>, GatewayError> {
        let Some(i) = self.read_item(&run_key(id), "GetItem (batch run)").await? else {
            return Ok(None);
        };
        Ok(Some(BatchRun {
            id: id.clone(),
            model: get_s(&i, "model").unwrap_or_default().to_owned(),
            members: string_set(&i, "members")
                .iter()
                .filter_map(|m| JobId::parse(m).ok())
                .collect(),
            job_arn: get_s(&i, "job_arn").map(str::to_owned),
            done: get_s(&i, "state") == Some("done"),
            created_at: i
                .get("created_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or_default(),
        }))
    }

    /// Records Bedrock's job ARN on the batch.
    pub async fn set_batch_arn(&self, id: &BatchId, arn: &str) -> Result<(), GatewayError> {
        self.update_row(run_key(id))
            .update_expression("SET #job_arn = :arn")
            .expression_attribute_values(":arn", s(arn))
            .named()
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (batch arn)", e))?;
        Ok(())
    }

    /// Marks a batch done (every member finished or sent back) and drops it from the index.
    pub async fn close_batch_run(&self, id: &BatchId) -> Result<(), GatewayError> {
        self.update_row(run_key(id))
            .update_expression("SET #state = :done")
            .expression_attribute_values(":done", s("done"))
            .named()
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (batch done)", e))?;
        self.update_row(INDEX)
            .update_expression("DELETE #open :id")
            .expression_attribute_values(":id", AttributeValue::Ss(vec![id.as_str().to_owned()]))
            .named()
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (batch index)", e))?;
        Ok(())
    }

    /// Moves a held job into batch `batch`: `running`, attempt + 1. Idempotent for the same
    /// batch (a flush resumed after a crash). `Ok(false)`: it is in another batch, or no
    /// longer queued for one.
    pub async fn claim_for_batch(
        &self,
        id: &JobId,
        batch: &BatchId,
        now: i64,
    ) -> Result<bool, GatewayError> {
        let r = self.update_row(id.as_str())
            .update_expression(
                "SET #status = :running, #batch_id = :b, #attempts = #attempts + :one, \
                 #updated_at = :now, #started_at = if_not_exists(#started_at, :now)",
            )
            .condition_expression(
                "(#status = :queued AND attribute_not_exists(#batch_id)) OR (#status = :running AND #batch_id = :b)",
            )
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":b", s(batch.as_str()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .named()
            .send()
            .await;
        gateway_stores::dynamo::conditional(r, STORE, "UpdateItem (batch claim)")
    }

    /// Sends a job back to run on demand with a new `plan`: from its batch (`from` = that
    /// batch: `running` there -> `queued`, with `last_error`), or, `from` = `None`, a held job
    /// whose group could not be flushed in time. `Ok(false)`: it moved meanwhile.
    pub async fn replan_on_demand(
        &self,
        id: &JobId,
        from: Option<&BatchId>,
        plan: &Plan,
        last_error: Option<&JobError>,
        now: i64,
    ) -> Result<bool, GatewayError> {
        let mut b = self
            .update_row(id.as_str())
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":plan", json_s(plan))
            .expression_attribute_values(":now", n(now));
        let mut set =
            "SET #status = :queued, #plan = :plan, #updated_at = :now, #enqueued_at = :now"
                .to_owned();
        if let Some(e) = last_error {
            b = b.expression_attribute_values(":err", json_s(e));
            set.push_str(", #last_error = :err");
        }
        b = match from {
            Some(batch) => b
                .condition_expression("#status = :running AND #batch_id = :b")
                .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
                .expression_attribute_values(":b", s(batch.as_str())),
            None => b.condition_expression("#status = :queued AND attribute_not_exists(#batch_id)"),
        };
        let expr = format!("{set} REMOVE #batch_id, #lease_until");
        let r = b.update_expression(expr).named().send().await;
        gateway_stores::dynamo::conditional(r, STORE, "UpdateItem (replan)")
    }

    async fn add_to_set(
        &self,
        pk: &str,
        attr: &str,
        values: Vec<String>,
    ) -> Result<(), GatewayError> {
        self.update_row(pk)
            .update_expression(format!("ADD #{attr} :v"))
            .expression_attribute_values(":v", AttributeValue::Ss(values))
            .named()
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (batch set)", e))?;
        Ok(())
    }
}

/// Whether `record` is still in batch `batch` (the poller acts only on those).
pub fn in_batch(record: &JobRecord, batch: &BatchId) -> bool {
    record.status == JobStatus::Running && record.batch_id.as_deref() == Some(batch.as_str())
}
