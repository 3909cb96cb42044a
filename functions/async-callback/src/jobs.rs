//! Job messages from the jobs queue: claim, run, store the result, finish, call the webhook.
//!
//! "Nothing lost, nothing run twice", per delivery:
//! - the record decides (`record::decide`): a finished job is acknowledged without running, a
//!   job another delivery holds under a live lease comes back later, a queued one is claimed
//!   with a compare-and-set on its attempt count (so of two concurrent deliveries one runs);
//! - retryable failures (throttling, timeouts, 5xx) release the claim and report the message as
//!   a batch item failure, so only it comes back; on the last allowed delivery
//!   (`GATEWAY_JOBS_MAX_RECEIVE_COUNT`) the job is marked failed first, then the message goes on
//!   to the dead-letter queue;
//! - other failures mark the job failed at once and acknowledge the message.
//!
//! A run that crashes mid-way leaves the job `running` under a lease that ends with its
//! invocation's deadline; the message comes back after the visibility timeout and, the lease
//! having expired, the job is claimed again and rerun (the Bedrock call may then have been made
//! twice; the result object and the record are written once, by the claim that holds).

use std::time::Instant;

use gateway_jobs::async_invoke::AsyncState;
use gateway_jobs::planner::Mode;
use gateway_jobs::record::{
    Claim, DEFAULT_LEASE_MS, async_output_prefix, decide, now_ms, result_key,
};
use gateway_jobs::results::ResultStore;
use gateway_jobs::store::{Outcome, Owner};
use gateway_jobs::webhook::WebhookSender;
use gateway_jobs::{
    JobError, JobId, JobKind, JobOwner, JobRecord, JobStore, JobsSettings, WebhookOutcome,
    WebhookStatus,
};
use inference_core::{CallContext, GatewayError};
use serde_json::json;

use crate::error::CallbackError;
use crate::runner::Runner;

/// The jobs side of async-callback, built once per cold start.
#[derive(Debug, Clone)]
pub struct JobsWorker {
    /// Job records.
    pub store: JobStore,
    /// The results bucket.
    pub results: ResultStore,
    /// Webhook delivery (policy and signing key).
    pub webhooks: WebhookSender,
    /// The delivery on which a retryable failure becomes final.
    pub max_receive_count: u32,
    /// Bedrock batch for jobs planned there (`None`: off).
    pub batch: Option<crate::batch_worker::BatchWorker>,
}

impl JobsWorker {
    /// Clients for the configured table and bucket, and the webhook signing key (read once).
    pub async fn new(
        sdk: &aws_config::SdkConfig,
        settings: JobsSettings,
    ) -> Result<JobsWorker, GatewayError> {
        Ok(JobsWorker {
            store: JobStore::new(sdk, &settings.table),
            results: ResultStore::new(sdk, &settings.bucket),
            webhooks: WebhookSender::new(
                settings.url_policy,
                gateway_jobs::secrets::resolve(sdk, &settings.secret).await?,
            ),
            max_receive_count: settings.max_receive_count,
            batch: crate::batch_worker::BatchWorker::new(sdk, &settings)?,
        })
    }
}

/// What happens to the message.
type Delivery = Result<(), CallbackError>;

fn retry(reason: impl Into<String>) -> Delivery {
    Err(CallbackError::JobRetry(reason.into()))
}

fn job_error(e: &GatewayError) -> JobError {
    JobError {
        error_type: e.error_type().to_owned(),
        message: e.message().to_owned(),
        retryable: e.is_retryable(),
    }
}

/// The lease of a claim (a job's, or an inbox line's): until the invocation's deadline (it
/// cannot run longer), or the function's timeout when the deadline is unknown.
pub(crate) fn lease_until(ctx: &CallContext, now: i64) -> i64 {
    match ctx.deadline {
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now()).as_millis();
            now + i64::try_from(left).unwrap_or(DEFAULT_LEASE_MS)
        }
        None => now + DEFAULT_LEASE_MS,
    }
}

/// Handles one delivery of a job message. `Ok`: acknowledge; `Err`: report as a batch item
/// failure (it comes back after the visibility timeout, or goes to the DLQ).
pub async fn process(
    runner: &dyn Runner,
    worker: &JobsWorker,
    id: &JobId,
    receive_count: u32,
    ctx: &CallContext,
) -> Delivery {
    let last = receive_count >= worker.max_receive_count;
    let now = now_ms();
    let Some(record) = worker.store.get(id).await? else {
        // Records are written before their message, so this is a record past its TTL or a
        // message for another deployment: nothing to run.
        tracing::warn!(job_id = %id, "message for an unknown job acknowledged");
        return Ok(());
    };
    match decide(&record, now) {
        Claim::Done => {
            tracing::info!(job_id = %id, status = record.status.as_str(), "job already finished; duplicate delivery acknowledged");
            Ok(())
        }
        Claim::Busy if last => {
            // The run holding the lease will finish (or its lease expires and ... no message is
            // left to re-claim it: see docs/jobs.md, crash on the last delivery).
            tracing::warn!(job_id = %id, "job running elsewhere on the last delivery; acknowledged");
            Ok(())
        }
        Claim::Busy => retry("job is running under another delivery's lease, or in its batch"),
        Claim::Held => {
            // Planned as batch: the batch driver (on its schedule) runs it, not this message
            // (a resubmission with the same idempotency key may have sent one).
            tracing::info!(job_id = %id, "batch job held for its group; message acknowledged");
            Ok(())
        }
        Claim::Poll { arn } => poll_async(runner, worker, &record, &arn, last, ctx).await,
        Claim::Run { attempt } => {
            if !worker
                .store
                .claim(&record, lease_until(ctx, now), now)
                .await?
            {
                return if last {
                    Ok(())
                } else {
                    retry("job was claimed by a concurrent delivery")
                };
            }
            tracing::info!(job_id = %id, attempt, receive_count, "job claimed");
            // Runs as the API key that submitted it: revoked -> unauthorized, over budget ->
            // budget_exceeded (both final), over tokens per minute -> rate_limited (retried).
            let ctx = &match runner.job_context(&record, ctx).await {
                Ok(c) => c,
                Err(e) => {
                    return failed_attempt(worker, &record, Owner::Attempt(attempt), &e, last, ctx)
                        .await;
                }
            };
            match record.kind {
                JobKind::Converse => {
                    run_converse(runner, worker, &record, attempt, last, ctx).await
                }
                JobKind::AsyncInvoke => {
                    start_async(runner, worker, &record, attempt, last, ctx).await
                }
            }
        }
    }
}

async fn run_converse(
    runner: &dyn Runner,
    worker: &JobsWorker,
    record: &JobRecord,
    attempt: u32,
    last: bool,
    ctx: &CallContext,
) -> Delivery {
    let id = &record.job_id;
    let answer = match runner.converse(planned_request(record), ctx).await {
        Ok(a) => a,
        Err(e) => {
            return failed_attempt(worker, record, Owner::Attempt(attempt), &e, last, ctx).await;
        }
    };
    let key = result_key(id);
    let body = serde_json::to_vec(&answer.json)?;
    if let Err(e) = worker.results.put_json(&key, body).await {
        return failed_attempt(worker, record, Owner::Attempt(attempt), &e, last, ctx).await;
    }
    let outcome = Outcome::Succeeded {
        usage: answer.usage,
        cost: answer.cost,
        result_key: key,
    };
    finish(worker, record, &Owner::Attempt(attempt), &outcome, ctx)
        .await
        .map(drop)
}

/// The request as the plan runs it: a job planned for the flex tier asks for it (the planner
/// only chooses flex for a model that offers it and a request that names no tier).
fn planned_request(record: &JobRecord) -> serde_json::Value {
    let mut request = record.request.clone();
    let flex = record.plan.as_ref().is_some_and(|p| p.mode == Mode::Flex);
    if let (true, Some(o)) = (flex, request.as_object_mut()) {
        o.insert("serviceTier".into(), json!({"type": "flex"}));
    }
    request
}

async fn start_async(
    runner: &dyn Runner,
    worker: &JobsWorker,
    record: &JobRecord,
    attempt: u32,
    last: bool,
    ctx: &CallContext,
) -> Delivery {
    let id = &record.job_id;
    let output = format!(
        "s3://{}/{}",
        worker.results.bucket(),
        async_output_prefix(id)
    );
    match runner.start_async(id, &record.request, &output).await {
        Ok(arn) => {
            worker
                .store
                .set_async_invocation(id, attempt, &arn, now_ms())
                .await?;
            tracing::info!(job_id = %id, "async invocation started");
            // Comes back after the visibility timeout to poll GetAsyncInvoke.
            retry("async invocation started; polling on the next delivery")
        }
        Err(e) => failed_attempt(worker, record, Owner::Attempt(attempt), &e, last, ctx).await,
    }
}

async fn poll_async(
    runner: &dyn Runner,
    worker: &JobsWorker,
    record: &JobRecord,
    arn: &str,
    last: bool,
    ctx: &CallContext,
) -> Delivery {
    let owner = Owner::Invocation(arn.to_owned());
    let id = &record.job_id;
    match runner.poll_async(arn).await {
        Ok(AsyncState::InProgress) if last => {
            let e = GatewayError::timeout(
                "the async invocation was still in progress on the last delivery of the job message",
            );
            failed_attempt(worker, record, owner, &e, true, ctx).await
        }
        Ok(AsyncState::InProgress) => retry("async invocation in progress"),
        Ok(AsyncState::Completed { output_uri }) => {
            let key = result_key(id);
            let body = json!({
                "job_id": id.as_str(),
                "invocation_arn": arn,
                "status": "Completed",
                "output_s3_uri": output_uri,
            });
            if let Err(e) = worker
                .results
                .put_json(&key, serde_json::to_vec(&body)?)
                .await
            {
                return failed_attempt(worker, record, owner, &e, last, ctx).await;
            }
            let cost = runner.async_cost(&record.request);
            let outcome = Outcome::Succeeded {
                usage: None,
                cost: cost.clone(),
                result_key: key,
            };
            // Charged to the job's key once, by the delivery that recorded the completion.
            if finish(worker, record, &owner, &outcome, ctx).await? {
                runner.settle_async(record, cost.as_ref()).await;
            }
            Ok(())
        }
        Ok(AsyncState::Failed { message }) => {
            let err = JobError {
                error_type: "model_error".into(),
                message: format!("async invocation failed: {message}"),
                retryable: false,
            };
            finish(worker, record, &owner, &Outcome::Failed(err), ctx)
                .await
                .map(drop)
        }
        Err(e) => failed_attempt(worker, record, owner, &e, last, ctx).await,
    }
}

/// A failed attempt: retryable and not the last delivery -> release and come back; otherwise
/// the job fails now (on the last delivery the message is still reported, so the queue moves
/// it to the DLQ).
async fn failed_attempt(
    worker: &JobsWorker,
    record: &JobRecord,
    owner: Owner,
    e: &GatewayError,
    last: bool,
    ctx: &CallContext,
) -> Delivery {
    let id = &record.job_id;
    let err = job_error(e);
    if e.is_retryable() && !last {
        match &owner {
            Owner::Attempt(a) => {
                worker.store.release(id, *a, &err, now_ms()).await?;
            }
            // An async invocation keeps running at Bedrock: nothing to release, poll again.
            // A batch's records are retried by the batch poller, not here.
            Owner::Invocation(_) | Owner::Batch(_) => {}
        }
        tracing::warn!(job_id = %id, error_type = e.error_type(), "job attempt failed; will be retried");
        return retry(format!("retryable: {}", e.error_type()));
    }
    let mut final_err = err;
    if e.is_retryable() {
        final_err.message = format!(
            "gave up after {} deliveries: {}",
            worker.max_receive_count, final_err.message
        );
    }
    tracing::warn!(job_id = %id, error_type = e.error_type(), retryable = e.is_retryable(), "job failed");
    finish(worker, record, &owner, &Outcome::Failed(final_err), ctx).await?;
    if e.is_retryable() {
        retry("last delivery: job marked failed; the message goes to the dead-letter queue")
    } else {
        Ok(())
    }
}

/// Moves the job to its final state (if this claim still holds it) and delivers its webhook.
/// A store failure here brings the message back (the record is not final yet, so the job must
/// not be forgotten); webhook failures are only recorded (the job is final; a webhook whose
/// delivery stopped stays `pending`). `Ok(true)`: this run recorded the outcome.
pub(crate) async fn finish(
    worker: &JobsWorker,
    record: &JobRecord,
    owner: &Owner,
    outcome: &Outcome,
    ctx: &CallContext,
) -> Result<bool, CallbackError> {
    let id = &record.job_id;
    let pending = record.webhook_url.as_ref().map(|_| WebhookOutcome {
        status: WebhookStatus::Pending,
        attempts: 0,
        last_status_code: None,
        last_error: None,
    });
    match worker
        .store
        .finish(id, owner, outcome, pending.as_ref(), now_ms())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(job_id = %id, "claim lost before finishing (another run took over); result not recorded by this run");
            return Ok(false);
        }
        Err(e) => {
            tracing::error!(job_id = %id, error = %e, "could not record the job's outcome");
            return Err(e.into());
        }
    }
    let status = match outcome {
        Outcome::Succeeded { .. } => "succeeded",
        Outcome::Failed(_) => "failed",
    };
    tracing::info!(job_id = %id, status, "job finished");
    let Some(url) = &record.webhook_url else {
        return Ok(true);
    };
    let summary = match worker.store.get(id).await {
        Ok(Some(r)) => r.summary(Some(worker.results.bucket())),
        _ => {
            tracing::error!(job_id = %id, "could not read the finished job for its webhook");
            return Ok(true);
        }
    };
    let body = serde_json::to_vec(&summary).unwrap_or_default();
    // Signed with the key of the job's owner (its API key's derived secret), so one tenant's
    // receiver never accepts what another tenant could sign.
    let owner = JobOwner::of(record.key_id.as_ref());
    let delivered = worker
        .webhooks
        .deliver(url, &body, &owner, ctx.deadline)
        .await;
    tracing::info!(job_id = %id, status = ?delivered.status, attempts = delivered.attempts, code = ?delivered.last_status_code, "webhook");
    if let Err(e) = worker.store.record_webhook(id, &delivered, now_ms()).await {
        tracing::error!(job_id = %id, error = %e, "could not record the webhook outcome");
    }
    Ok(true)
}
