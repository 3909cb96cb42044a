//! Running one `inbox/` object: read it (under the size cap), run each line once, write its
//! outbox object.
//!
//! S3 events arrive at least once and a run can die mid-file, so with the jobs table configured
//! every line with a request is checkpointed (`gateway_jobs::checkpoint`): claimed before its
//! model call, its result line recorded after. A second delivery, or a retry after a crash,
//! reuses the recorded lines and runs only the rest. The outbox object is written once, whole,
//! after every line has a result, so a re-run rewrites it with the same lines: never a
//! duplicate, never half a file.

use gateway_jobs::JobStore;
use gateway_jobs::checkpoint::{InboxVersion, LineState};
use gateway_jobs::record::now_ms;
use inference_core::CallContext;
use serde_json::Value;

use crate::error::CallbackError;
use crate::events::ObjectRef;
use crate::inbox::{self, InboxLine};
use crate::inbox_plan::{self, Route};
use crate::jobs::lease_until;
use crate::state::State;
use crate::storage::Fetched;

/// Checkpoints of one object version.
struct Checkpoints<'a> {
    store: &'a JobStore,
    object: InboxVersion,
}

/// Runs every request of one inbox object and writes one result line per request to `outbox/`.
pub async fn process_inbox_object(
    state: &State,
    object: &ObjectRef,
    ctx: &CallContext,
) -> Result<(), CallbackError> {
    let Some(out_key) = inbox::outbox_key(&object.key) else {
        tracing::info!(key = %object.key, "ignoring object outside inbox/");
        return Ok(());
    };
    let max = state.inbox.max_bytes;
    let (bytes, version) = match state
        .storage
        .get_inbox(&object.bucket, &object.key, max)
        .await?
    {
        Fetched::TooLarge { size } => {
            tracing::warn!(key = %object.key, size, max, "inbox object over the size cap; not run");
            let line = inbox::too_large_line(size, max);
            return state
                .storage
                .put_jsonl(&object.bucket, &out_key, inbox::to_jsonl(&[line])?)
                .await;
        }
        Fetched::Object { bytes, version } => (bytes, version),
    };
    // Without the jobs table (or a version to key on) lines run without checkpoints.
    let checkpoints = state
        .jobs
        .as_ref()
        .zip(version)
        .map(|(worker, version)| Checkpoints {
            store: &worker.store,
            object: InboxVersion {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                version,
            },
        });
    let mut results = Vec::new();
    let mut busy = 0usize;
    for line in inbox::parse_requests(&bytes) {
        match run_line(state, checkpoints.as_ref(), line, ctx).await? {
            Some(result) => results.push(result),
            None => busy += 1,
        }
    }
    if busy > 0 {
        // Another run holds those lines; the outbox is written by whichever run sees them all
        // done (this event comes back: SQS redelivery, or Lambda's retry of a direct event).
        return Err(CallbackError::InboxBusy {
            key: object.key.clone(),
            lines: busy,
        });
    }
    let ok = results
        .iter()
        .filter(|r| r["ok"] == Value::Bool(true))
        .count();
    tracing::info!(key = %object.key, out = %out_key, lines = results.len(), ok, "inbox object processed");
    state
        .storage
        .put_jsonl(&object.bucket, &out_key, inbox::to_jsonl(&results)?)
        .await
}

/// One line's result line: recorded earlier, or run now. `None`: another run holds it.
async fn run_line(
    state: &State,
    checkpoints: Option<&Checkpoints<'_>>,
    line: InboxLine,
    ctx: &CallContext,
) -> Result<Option<Value>, CallbackError> {
    let request = match line.request {
        // Nothing runs for a line that is not a request: nothing to checkpoint.
        Err(message) => {
            return Ok(Some(inbox::error_line(
                line.line,
                "invalid_request",
                &message,
                false,
            )));
        }
        Ok(request) => request,
    };
    if let Some(c) = checkpoints {
        let now = now_ms();
        match c
            .store
            .claim_line(&c.object, line.line, lease_until(ctx, now), now)
            .await?
        {
            LineState::Done(result) => return Ok(Some(result)),
            LineState::Busy => return Ok(None),
            LineState::Run => {}
        }
    }
    let result = match inbox_plan::route(state, line.line, request).await? {
        Route::Done(result) => result,
        Route::Now(request, plan) => {
            let mut result = match state.runner.converse(request, ctx).await {
                Ok(answer) => inbox::ok_line(line.line, answer.json),
                Err(e) => {
                    inbox::error_line(line.line, e.error_type(), e.message(), e.is_retryable())
                }
            };
            if let Some(p) = plan.and_then(|p| serde_json::to_value(p).ok()) {
                result["plan"] = p;
            }
            result
        }
    };
    if let Some(c) = checkpoints {
        c.store
            .complete_line(&c.object, line.line, &result, |size| {
                inbox::unkept_line(line.line, size)
            })
            .await?;
    }
    Ok(Some(result))
}
