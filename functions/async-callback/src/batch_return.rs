//! Sending a batch member back: a job its batch did not answer (or could not take) runs on
//! demand if its deadline leaves time, else fails with the reason.

use gateway_jobs::JobError;
use gateway_jobs::JobRecord;
use gateway_jobs::batch::BatchId;
use gateway_jobs::planner::{Mode, Plan};
use gateway_jobs::record::now_ms;
use gateway_jobs::store::{Outcome, Owner};
use inference_core::{CallContext, Gateway, GatewayError};

use crate::batch_worker::BatchWorker;
use crate::jobs::{JobsWorker, finish};

/// A record retried on demand needs at least this long before its deadline.
pub const ON_DEMAND_RETRY_MARGIN_MS: i64 = 5 * 60_000;

/// The plan of a job moved from batch to on demand: the on-demand estimate, and why.
pub(crate) fn on_demand(record: &JobRecord, why: &str) -> Plan {
    let on_demand = record
        .plan
        .as_ref()
        .map(|p| p.on_demand_cost_usd)
        .unwrap_or_default();
    Plan {
        mode: Mode::OnDemand,
        reason: format!("planned as batch, now on demand: {why}"),
        estimated_cost_usd: on_demand,
        on_demand_cost_usd: on_demand,
        saving_usd: Default::default(),
    }
}

pub(crate) fn gateway(e: crate::error::CallbackError) -> GatewayError {
    match e {
        crate::error::CallbackError::Gateway(g) => g,
        other => GatewayError::internal(other.to_string()),
    }
}

/// A member its batch did not answer: retried once on demand if its deadline leaves time
/// (its message is sent first; until the record says on demand, a delivery finds it busy
/// and comes back), else failed with the reason.
pub(crate) async fn send_back(
    _gw: &Gateway,
    worker: &JobsWorker,
    batch: &BatchWorker,
    id: &BatchId,
    record: &JobRecord,
    why: &str,
    ctx: &CallContext,
) -> Result<(), GatewayError> {
    let now = now_ms();
    let job = &record.job_id;
    let time_left = record
        .deadline_at
        .is_some_and(|d| now + ON_DEMAND_RETRY_MARGIN_MS < d);
    if time_left {
        batch.queue.enqueue(job).await?;
        let last = JobError {
            error_type: "batch_record_failed".into(),
            message: why.to_owned(),
            retryable: true,
        };
        let plan = on_demand(
            record,
            &format!("{why}; retried on demand within the deadline"),
        );
        worker
            .store
            .replan_on_demand(job, Some(id), &plan, Some(&last), now)
            .await?;
        tracing::info!(job_id = %job, batch_id = %id, "batch record failed; retried on demand");
        return Ok(());
    }
    let err = JobError {
        error_type: "batch_record_failed".into(),
        message: format!("{why}; no time left before the deadline to retry on demand"),
        retryable: false,
    };
    let owner = Owner::Batch(id.to_string());
    finish(worker, record, &owner, &Outcome::Failed(err), ctx)
        .await
        .map_err(gateway)?;
    Ok(())
}
