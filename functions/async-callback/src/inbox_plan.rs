//! Inbox lines with `deadline` and/or `max_cost_usd`, read by the same parser as
//! `POST /v1/jobs` (`gateway_jobs::submit::validate`): a bad value is that line's error line,
//! with the message the API's 400 has. The planner then decides: a line planned for Bedrock
//! batch becomes a job held for a batch (its result line names the job, whose result comes
//! later: `GET /v1/jobs/{id}`); any other plan runs now, as every line did before (flex asks
//! for the flex tier), and its result line carries the plan.

use gateway_jobs::planner::{Mode, Plan};
use gateway_jobs::record::now_ms;
use gateway_jobs::submit;
use gateway_jobs::url_guard::UrlPolicy;
use serde_json::{Map, Value, json};

use crate::error::CallbackError;
use crate::inbox;
use crate::state::State;

/// What becomes of one line.
pub enum Route {
    /// Run this request now (and add the plan, if any, to its result line).
    Now(Value, Option<Plan>),
    /// The line's result line is known already (an error, or the job it became).
    Done(Value),
}

/// The fields a line may add to its Converse request.
const PLAN_FIELDS: [&str; 2] = ["deadline", "max_cost_usd"];

/// Plans one line's request.
pub async fn route(state: &State, line: usize, request: Value) -> Result<Route, CallbackError> {
    let Value::Object(mut o) = request else {
        return Ok(Route::Now(request, None));
    };
    if !PLAN_FIELDS.iter().any(|k| o.contains_key(*k)) {
        return Ok(Route::Now(Value::Object(o), None));
    }
    let Some(gw) = state.runner.gateway() else {
        let m = "deadline and max_cost_usd need the gateway's planner, which this runner lacks";
        return Ok(Route::Done(inbox::error_line(
            line,
            "internal_error",
            m,
            false,
        )));
    };
    let mut job = Map::new();
    for k in PLAN_FIELDS {
        if let Some(v) = o.remove(k) {
            job.insert(k.into(), v);
        }
    }
    job.insert("request".into(), Value::Object(o));
    let batch = state.jobs.as_ref().filter(|j| j.batch.is_some());
    // No webhook in an inbox line: the URL policy is never consulted.
    let policy = UrlPolicy::local_development(false);
    let sub = match submit::validate(gw, Value::Object(job), policy, batch.is_some()).await {
        Ok(sub) => sub,
        Err(e) => {
            let l = inbox::error_line(line, e.error_type(), e.message(), e.is_retryable());
            return Ok(Route::Done(l));
        }
    };
    match (sub.plan.mode, batch) {
        (Mode::Batch, Some(jobs)) => {
            let record = submit::record_new(&jobs.store, sub, None, now_ms()).await?;
            tracing::info!(line, job_id = %record.job_id, "inbox line held for a Bedrock batch");
            Ok(Route::Done(
                json!({"line": line, "ok": true, "job": record.summary(None)}),
            ))
        }
        (mode, _) => {
            let mut request = sub.request;
            if let (Mode::Flex, Some(o)) = (mode, request.as_object_mut()) {
                o.insert("serviceTier".into(), json!({"type": "flex"}));
            }
            Ok(Route::Now(request, Some(sub.plan)))
        }
    }
}
