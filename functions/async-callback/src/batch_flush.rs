//! Flushing a model's group into Bedrock batch jobs.
//!
//! A group is flushed when it holds `GATEWAY_BATCH_MIN_RECORDS` jobs (Bedrock refuses fewer),
//! or when waiting longer would endanger its earliest deadline: at deadline - 24 h (the batch
//! window) - `GATEWAY_BATCH_FLUSH_MARGIN_SECONDS`. A group due with too few jobs cannot be a
//! batch: its jobs run on demand instead, with that reason on their plan.
//!
//! A batch is recorded (its run item, listing its members) before any job moves into it, so a
//! flush cut off anywhere is resumed by the next poll with the same batch ID: the claims are
//! idempotent for the same batch, the input file is rewritten whole, and the same client
//! request token makes CreateModelInvocationJob answer the same job.

use gateway_jobs::batch::BatchId;
use gateway_jobs::batch::control;
use gateway_jobs::batch::native;
use gateway_jobs::batch::settings::MAX_RECORDS;
use gateway_jobs::batch::store::{BatchRun, in_batch};
use gateway_jobs::planner::BATCH_WINDOW_MS;
use gateway_jobs::record::now_ms;
use gateway_jobs::{JobRecord, JobStatus};
use inference_core::catalog::Capability;
use inference_core::convert::ConverseParts;
use inference_core::{CallContext, Gateway, GatewayError};

use crate::batch_return::{on_demand, send_back};
use crate::batch_worker::{BatchWorker, read_records};
use crate::jobs::JobsWorker;

/// Flushes `model`'s group if it is full or due; returns the batches started.
pub(crate) async fn flush_group(
    gw: &Gateway,
    worker: &JobsWorker,
    batch: &BatchWorker,
    model: &str,
    ctx: &CallContext,
) -> Result<Vec<BatchId>, GatewayError> {
    let store = &worker.store;
    let members = store.batch_group(model).await?;
    if members.is_empty() {
        return Ok(vec![]);
    }
    let now = now_ms();
    let mut held = Vec::new();
    let mut moved_on = Vec::new();
    for (member, record) in read_records(store, &members).await? {
        match record {
            Some(r) if r.status == JobStatus::Queued && r.batch_id.is_none() => {
                if r.is_batch_planned() {
                    held.push(r);
                } else {
                    // Sent to on demand by an earlier flush that stopped before its message
                    // was sent and the member dropped: send it (a second message runs nothing).
                    batch.queue.enqueue(&r.job_id).await?;
                    moved_on.push(member);
                }
            }
            // No record yet: a submission between its two writes (or one that died there);
            // kept until its record appears.
            None => {}
            Some(_) => moved_on.push(member),
        }
    }
    store.remove_from_batch_group(model, &moved_on).await?;
    held.sort_by_key(|r| r.deadline_at.unwrap_or(i64::MAX));
    let min = batch.settings.min_records;
    let due = |jobs: &[JobRecord]| {
        jobs.iter()
            .filter_map(|r| r.deadline_at)
            .min()
            .is_some_and(|d| now >= d - BATCH_WINDOW_MS - batch.settings.flush_margin_ms)
    };
    let mut started = Vec::new();
    for chunk in held.chunks(MAX_RECORDS) {
        if chunk.len() >= min {
            started.push(start_batch(gw, worker, batch, model, chunk, now, ctx).await?);
        } else if due(chunk) {
            too_few(worker, batch, model, chunk, min).await?;
        }
    }
    Ok(started)
}

/// A due group smaller than Bedrock's minimum: its jobs run on demand now.
async fn too_few(
    worker: &JobsWorker,
    batch: &BatchWorker,
    model: &str,
    jobs: &[JobRecord],
    min: usize,
) -> Result<(), GatewayError> {
    let why = format!(
        "its batch group for {model} had {} of the {min} jobs a Bedrock batch needs when its earliest deadline left no more time to wait",
        jobs.len()
    );
    for r in jobs {
        if worker
            .store
            .replan_on_demand(&r.job_id, None, &on_demand(r, &why), None, now_ms())
            .await?
        {
            batch.queue.enqueue(&r.job_id).await?;
        }
    }
    let ids: Vec<String> = jobs.iter().map(|r| r.job_id.to_string()).collect();
    worker.store.remove_from_batch_group(model, &ids).await?;
    tracing::info!(model = %model, jobs = jobs.len(), "batch group too small at its deadline: run on demand");
    Ok(())
}

async fn start_batch(
    gw: &Gateway,
    worker: &JobsWorker,
    batch: &BatchWorker,
    model: &str,
    jobs: &[JobRecord],
    now: i64,
    ctx: &CallContext,
) -> Result<BatchId, GatewayError> {
    let run = BatchRun {
        id: BatchId::random(),
        model: model.to_owned(),
        members: jobs.iter().map(|r| r.job_id.clone()).collect(),
        job_arn: None,
        done: false,
        created_at: now,
    };
    worker.store.create_batch_run(&run).await?;
    let ids: Vec<String> = jobs.iter().map(|r| r.job_id.to_string()).collect();
    let result = submit_run(gw, worker, batch, &run, ctx).await;
    // Whatever happened, the jobs now belong to the run (the poll resumes or ends it).
    worker.store.remove_from_batch_group(model, &ids).await?;
    result.map(|()| run.id)
}

/// Moves the run's members into it, writes the input file and creates the Bedrock job (again,
/// when resumed). A run whose members cannot make a batch sends them back on demand.
pub(crate) async fn submit_run(
    gw: &Gateway,
    worker: &JobsWorker,
    batch: &BatchWorker,
    run: &BatchRun,
    ctx: &CallContext,
) -> Result<(), GatewayError> {
    let now = now_ms();
    let ids: Vec<String> = run.members.iter().map(|m| m.to_string()).collect();
    let mut claimed = Vec::new();
    for (_, record) in read_records(&worker.store, &ids).await? {
        let Some(r) = record else { continue };
        if in_batch(&r, &run.id)
            || worker
                .store
                .claim_for_batch(&r.job_id, &run.id, now)
                .await?
        {
            claimed.push(r);
        }
    }
    let mut lines = String::new();
    for r in &claimed {
        match model_input(gw, &r.request) {
            Ok(body) => {
                let line = serde_json::json!({"recordId": r.job_id.as_str(), "modelInput": body});
                lines.push_str(&line.to_string());
                lines.push('\n');
            }
            Err(e) => {
                tracing::warn!(job_id = %r.job_id, error = %e, "job left out of its batch input")
            }
        }
    }
    let count = lines.lines().count();
    if count < batch.settings.min_records {
        let why = format!(
            "only {count} of its batch's jobs could be submitted, fewer than the {} Bedrock needs",
            batch.settings.min_records
        );
        return end_run(gw, worker, batch, run, &claimed, &why, ctx).await;
    }
    let bucket = worker.results.bucket();
    worker
        .results
        .put_json(&run.id.input_key(), lines.into_bytes())
        .await?;
    let earliest = claimed
        .iter()
        .filter_map(|r| r.deadline_at)
        .min()
        .unwrap_or(now + BATCH_WINDOW_MS);
    let hours = i32::try_from(((earliest - now) / 3_600_000).clamp(24, 168)).unwrap_or(24);
    let created = control::create(
        &batch.bedrock,
        &run.id,
        &run.model,
        &batch.settings.role_arn,
        &format!("s3://{bucket}/{}", run.id.input_key()),
        &format!("s3://{bucket}/{}", run.id.output_prefix()),
        hours,
    )
    .await;
    match created {
        Ok(arn) => {
            worker.store.set_batch_arn(&run.id, &arn).await?;
            tracing::info!(batch_id = %run.id, model = %run.model, records = count, "batch job created");
            Ok(())
        }
        // Bedrock refused the job itself (validation): it never will take it.
        Err(e) if !e.is_retryable() => {
            let why = format!("Bedrock refused the batch job: {}", e.message());
            end_run(gw, worker, batch, run, &claimed, &why, ctx).await
        }
        Err(e) => Err(e),
    }
}

/// Ends a run that cannot go to Bedrock: every member back on demand (or failed, past its
/// deadline), the run closed.
async fn end_run(
    gw: &Gateway,
    worker: &JobsWorker,
    batch: &BatchWorker,
    run: &BatchRun,
    members: &[JobRecord],
    why: &str,
    ctx: &CallContext,
) -> Result<(), GatewayError> {
    tracing::warn!(batch_id = %run.id, reason = why, "batch not submitted; its jobs run on demand");
    for r in members {
        send_back(gw, worker, batch, &run.id, r, why, ctx).await?;
    }
    worker.store.close_batch_run(&run.id).await
}

/// The native body of a job's Converse request, with `maxTokens` as the policy sets it.
fn model_input(
    gw: &Gateway,
    request: &serde_json::Value,
) -> Result<serde_json::Value, GatewayError> {
    let name = gw.requested_model(request)?;
    let parts = ConverseParts::from_json(request, &["model"])?;
    let prepared = gw.prepare(&name, &parts, Capability::Converse, None)?;
    if let Some(why) = native::blocker(&prepared.resolved.model, request) {
        return Err(GatewayError::invalid_request(why));
    }
    Ok(native::model_input(request, prepared.max_tokens.value))
}
