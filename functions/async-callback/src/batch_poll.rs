//! Polling an open batch and recording each record's outcome on its job, exactly once.
//!
//! Every write is conditional on the job still being in this batch (`Owner::Batch`), so a
//! second poll of the same finished batch (a tick that overlapped, or one cut off half way and
//! repeated) changes nothing for the jobs already recorded: the result object is rewritten
//! with the same bytes, the record write is refused, and the key is charged and the webhook
//! sent only by the poll whose write went through.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};
use gateway_jobs::JobRecord;
use gateway_jobs::batch::control::{self, BatchState};
use gateway_jobs::batch::store::in_batch;
use gateway_jobs::batch::{BatchId, batch_cost, batch_cost_json, native};
use gateway_jobs::charge;
use gateway_jobs::record::result_key;
use gateway_jobs::store::{Outcome, Owner};
use inference_core::catalog::PricingScope;
use inference_core::ids::ModelId;
use inference_core::{CallContext, Gateway, GatewayError};
use serde_json::{Value, json};

use crate::batch_flush::submit_run;
use crate::batch_return::{gateway, send_back};
use crate::batch_worker::{BatchWorker, CONCURRENCY, read_records};
use crate::jobs::{JobsWorker, finish};

/// What the output says about one record: the model's answer, or why it failed.
type RecordOutcome = Result<Value, String>;

/// Polls batch `id`; `Ok(true)`: it finished and every member was recorded.
pub(crate) async fn poll_run(
    gw: &Gateway,
    worker: &JobsWorker,
    batch: &BatchWorker,
    id: &BatchId,
    ctx: &CallContext,
) -> Result<bool, GatewayError> {
    let Some(run) = worker.store.batch_run(id).await? else {
        worker.store.close_batch_run(id).await?;
        return Ok(false);
    };
    if run.done {
        worker.store.close_batch_run(id).await?;
        return Ok(false);
    }
    let Some(arn) = run.job_arn.clone() else {
        // Recorded, but its flush stopped before Bedrock answered: resume it.
        submit_run(gw, worker, batch, &run, ctx).await?;
        return Ok(false);
    };
    let (outcomes, ended) = match control::state(&batch.bedrock, &arn).await? {
        BatchState::Running => return Ok(false),
        BatchState::Finished => (read_output(worker, id, &arn).await?, None),
        BatchState::Ended { message } => (HashMap::new(), Some(message)),
    };
    let ids: Vec<String> = run.members.iter().map(|m| m.to_string()).collect();
    let records = read_records(&worker.store, &ids).await?;
    let results = stream::iter(records.into_iter().filter_map(|(_, r)| r))
        .filter(|r| std::future::ready(in_batch(r, id)))
        .map(|r| {
            let outcome = match outcomes.get(r.job_id.as_str()) {
                Some(o) => o.clone(),
                None => Err(ended
                    .clone()
                    .unwrap_or_else(|| "the record is missing from the batch output".into())),
            };
            let arn = arn.as_str();
            async move { record_outcome(gw, worker, batch, id, arn, &r, outcome, ctx).await }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    worker.store.close_batch_run(id).await?;
    tracing::info!(batch_id = %id, members = run.members.len(), "batch recorded");
    Ok(true)
}

/// The output's records by `recordId`: every `.jsonl.out` file under the job's folder.
async fn read_output(
    worker: &JobsWorker,
    id: &BatchId,
    arn: &str,
) -> Result<HashMap<String, RecordOutcome>, GatewayError> {
    let prefix = format!("{}{}/", id.output_prefix(), control::job_id_of(arn));
    let mut out = HashMap::new();
    for key in worker.results.list_keys(&prefix).await? {
        if !key.ends_with(".jsonl.out") {
            continue;
        }
        let bytes = worker.results.get_bytes(&key).await?;
        for line in String::from_utf8_lossy(&bytes).lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(record_id) = v.get("recordId").and_then(Value::as_str) else {
                continue;
            };
            let outcome = match (v.get("modelOutput"), v.get("error")) {
                (Some(o), None) if o.is_object() => Ok(o.clone()),
                (_, Some(e)) => Err(format!(
                    "batch record failed ({}): {}",
                    e.get("errorCode").map(Value::to_string).unwrap_or_default(),
                    e.get("errorMessage")
                        .and_then(Value::as_str)
                        .unwrap_or("no message")
                )),
                _ => Err("batch record has neither modelOutput nor error".into()),
            };
            out.insert(record_id.to_owned(), outcome);
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn record_outcome(
    gw: &Gateway,
    worker: &JobsWorker,
    batch: &BatchWorker,
    id: &BatchId,
    arn: &str,
    record: &JobRecord,
    outcome: RecordOutcome,
    ctx: &CallContext,
) -> Result<(), GatewayError> {
    let output = match outcome {
        Ok(o) => o,
        Err(why) => return send_back(gw, worker, batch, id, record, &why, ctx).await,
    };
    let catalog = gw.catalog();
    let model = record
        .model
        .parse::<ModelId>()
        .ok()
        .and_then(|m| catalog.get(&m).cloned())
        .ok_or_else(|| {
            GatewayError::internal(format!("model {} left the catalog", record.model))
        })?;
    let usage = inference_core::native::usage_from_body(&model, &output);
    let cost =
        batch_cost(&catalog, &model, PricingScope::Global, &usage).map(|c| batch_cost_json(&c));
    let mut body = native::answer(&output);
    body["usage"] = usage.to_bedrock_json();
    body["cost"] = cost.clone().unwrap_or(Value::Null);
    body["model"] = json!(record.model);
    body["batch"] = json!({"batch_id": id.as_str(), "job_arn": arn});
    let key = result_key(&record.job_id);
    worker
        .results
        .put_json(&key, serde_json::to_vec(&body).unwrap_or_default())
        .await?;
    let outcome = Outcome::Succeeded {
        usage: Some(usage.to_bedrock_json()),
        cost: cost.clone(),
        result_key: key,
    };
    let owner = Owner::Batch(id.to_string());
    if finish(worker, record, &owner, &outcome, ctx)
        .await
        .map_err(gateway)?
    {
        charge::settle_batch(gw, record, &usage, cost.as_ref()).await;
    }
    Ok(())
}
