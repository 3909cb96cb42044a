//! Jobs are charged to the API key that submitted them (`GATEWAY_AUTH=api_key`; docs/auth.md,
//! "Async jobs"). The record keeps the key's ID; the run happens later, in async-callback:
//!
//! - at submission ([`admit_submission`]): the key must allow the model (400
//!   `model_not_allowed`), the job's reservation must fit its tokens per minute at all (400), and
//!   its estimate must fit the budgets as they stand (429 `budget_exceeded`, nothing reserved);
//! - at run time ([`run_context`]): the key is read by ID and the job runs as that caller, so a
//!   Converse job is admitted and settled by `Gateway::converse` like a synchronous call; a
//!   revoked key is 401 `unauthorized`; a StartAsyncInvoke (video) job's cost is checked against
//!   the budgets before it starts;
//! - when a video job completes ([`settle_async`]): its per-second cost is added to the key's
//!   spend and usage report.

use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;

use super::async_invoke;
use super::record::{JobKind, JobRecord};
use super::submit::Submission;
use inference_core::auth::{
    Actual, AdmissionRequest, Body, Caller, KeyId, check_allowed, reservation,
};
use inference_core::catalog::Capability;
use inference_core::context::CallContext;
use inference_core::convert::ConverseParts;
use inference_core::cost::Usage;
use inference_core::error::GatewayError;
use inference_core::pipeline::Gateway;

/// The job's model, checked against the caller's key, and its estimate (as admission computes
/// it for a synchronous call: padded input estimate + `maxTokens`; a video: its seconds priced).
fn estimate(
    gw: &Gateway,
    caller: &Caller,
    kind: JobKind,
    request: &Value,
) -> Result<AdmissionRequest, GatewayError> {
    match kind {
        JobKind::Converse => {
            let name = gw.requested_model(request)?;
            let parts = ConverseParts::from_json(request, &["model"])?;
            let prepared = gw.prepare(
                &name,
                &parts,
                Capability::Converse,
                caller.record.limits.default_tier,
            )?;
            let resolved = &prepared.resolved;
            check_allowed(caller, &resolved.model)?;
            let input = inference_core::auth::input_estimate(resolved, Body::Converse(request));
            let output = u64::from(prepared.max_tokens.value);
            Ok(reservation(&gw.catalog(), resolved, input, output))
        }
        JobKind::AsyncInvoke => {
            let model = request["model"].as_str().unwrap_or_default();
            let resolved = gw.resolve_allowed(model, Capability::AsyncInvoke)?;
            check_allowed(caller, &resolved.model)?;
            let usd = async_invoke::output_cost(gw, request)
                .map(|c| c.total())
                .unwrap_or_default();
            // Bedrock bills video by the second, not by tokens: nothing per minute.
            Ok(AdmissionRequest { tokens: 0, usd })
        }
    }
}

/// Checks the estimate against the key's limits without reserving anything.
async fn check(caller: &Caller, est: &AdmissionRequest) -> Result<(), GatewayError> {
    if let Some(tpm) = caller.limits().tokens_per_minute
        && est.tokens > tpm
    {
        // It could never be admitted: say so now rather than fail the job later.
        return Err(GatewayError::invalid_request(format!(
            "this job reserves {} tokens (input estimate + maxTokens), more than API key {}'s {tpm} tokens per minute; lower maxTokens",
            est.tokens,
            caller.key_id()
        )));
    }
    match caller.meter() {
        Some(meter) => meter.check_budget(caller, est.usd).await,
        None => Ok(()),
    }
}

/// `POST /v1/jobs` with a key: the checks above; returns the key's ID to record on the job
/// (`None` without keys).
pub async fn admit_submission(
    gw: &Gateway,
    ctx: &CallContext,
    sub: &Submission,
) -> Result<Option<KeyId>, GatewayError> {
    let Some(caller) = &ctx.caller else {
        return Ok(None);
    };
    let est = estimate(gw, caller, sub.kind, &sub.request)?;
    check(caller, &est).await?;
    Ok(Some(caller.key_id().clone()))
}

/// The context a claimed job runs in: `ctx` with the caller of the key that submitted it.
/// 401 `unauthorized` when the key was revoked or deleted since; a video job must also still
/// fit its key's budgets (429 `budget_exceeded`). Unchanged for jobs without a key, or when
/// this function runs without keys (`GATEWAY_AUTH=none`: nothing is metered).
pub async fn run_context(
    gw: &Gateway,
    record: &JobRecord,
    ctx: &CallContext,
) -> Result<CallContext, GatewayError> {
    let Some(key_id) = &record.key_id else {
        return Ok(ctx.clone());
    };
    let Some(caller) = gw.auth().caller_for_key_id(key_id).await? else {
        tracing::warn!(job_id = %record.job_id, key_id = %key_id, "job of an API key run without keys (GATEWAY_AUTH=none): not metered");
        return Ok(ctx.clone());
    };
    if record.kind == JobKind::AsyncInvoke {
        let est = estimate(gw, &caller, record.kind, &record.request)?;
        check(&caller, &est).await?;
    }
    Ok(ctx.clone().with_caller(Some(caller)))
}

/// A completed video job: its cost (the `cost` recorded on the job) is added to the key's
/// spend and usage report (one request, no tokens), under the model it ran.
pub async fn settle_async(gw: &Gateway, record: &JobRecord, cost: Option<&Value>) {
    settle_actual(gw, record, &Usage::default(), cost).await;
}

/// A job whose batch record completed: its tokens and batch-priced cost are added to the key's
/// spend and usage report, once (called only by the poll that recorded the outcome).
pub async fn settle_batch(gw: &Gateway, record: &JobRecord, usage: &Usage, cost: Option<&Value>) {
    settle_actual(gw, record, usage, cost).await;
}

async fn settle_actual(gw: &Gateway, record: &JobRecord, usage: &Usage, cost: Option<&Value>) {
    let (Some(key_id), Some(meter)) = (&record.key_id, gw.auth().meter()) else {
        return;
    };
    let usd = cost
        .and_then(|c| c.get("total"))
        .and_then(Value::as_str)
        .and_then(|s| Decimal::from_str(s).ok())
        .unwrap_or_default();
    let actual = Actual {
        model: record.model.clone(),
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_tokens: usage.cache_read_tokens + usage.cache_write_tokens(),
        cost: usd,
    };
    Arc::clone(meter)
        .settle(key_id.clone(), None, Some(actual))
        .await;
}
