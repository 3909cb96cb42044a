//! The hooks the call pipeline runs for an authenticated caller: admission before the model
//! call (allowed models, then tokens per minute and budgets reserved from the estimate) and
//! settlement after it (the reservation replaced by actual usage, which also feeds the usage
//! report). Without a caller in the [`CallContext`] every hook is a no-op.

use std::sync::Arc;

use serde_json::Value;

use super::{Actual, AdmissionRequest, Caller};
use crate::catalog::{Catalog, ModelEntry};
use crate::cost::{Cost, Usage};
use crate::error::{ErrorKind, GatewayError};
use crate::estimate::{Family, estimate_native, estimate_request};
use crate::resolve::Resolved;

/// The request body admission estimates input tokens from.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// A Converse-shaped body.
    Converse(&'a Value),
    /// A native InvokeModel body.
    Native(&'a Value),
}

/// Local input estimates can be a little low; admission pads them by this many percent so a
/// budget is not overspent by the estimate's error.
const INPUT_PAD_PERCENT: u64 = 10;

/// 400 `model_not_allowed` unless `caller`'s key may call `model` (a synchronous call's
/// admission and a job's submission say it the same way).
pub fn check_allowed(caller: &Caller, model: &ModelEntry) -> Result<(), GatewayError> {
    if caller.allows(model) {
        return Ok(());
    }
    Err(GatewayError::new(
        ErrorKind::ModelNotAllowed,
        format!(
            "model {} is not allowed for API key {} (ask its administrator to add it)",
            model.id,
            caller.key_id()
        ),
    ))
}

/// What a call to `resolved` reserves: its input estimate plus `max_output` tokens, priced at
/// the call's tier (admission reserves it; a job's submission checks it against the budgets).
pub fn reservation(
    catalog: &Catalog,
    resolved: &Resolved,
    input: u64,
    max_output: u64,
) -> AdmissionRequest {
    let usd = crate::cost::estimate_tier(
        catalog,
        &resolved.model,
        resolved.pricing,
        resolved.tier,
        input,
        max_output,
    )
    .total();
    AdmissionRequest {
        tokens: input + max_output,
        usd,
    }
}

/// Input tokens admission reserves for `body` on `resolved`'s model: the padded estimate, plus
/// an upper bound for each part the estimator cannot count (a document, a video, an S3 object:
/// the model's whole input window; encrypted reasoning: its size). Reserving the lower bound
/// would let concurrent calls with large PDFs overspend a budget by calls x their real cost.
pub fn input_estimate(resolved: &Resolved, body: Body<'_>) -> u64 {
    let family = Family::for_model(&resolved.model).unwrap_or(Family::Anthropic);
    let est = match body {
        Body::Converse(v) => estimate_request(family, v),
        Body::Native(v) => estimate_native(family, v),
    };
    let window = resolved.model.max_input_tokens;
    let (tokens, bound) = match est {
        Ok(e) => (u64::from(e.tokens), e.upper_bound(window)),
        // A body the estimator cannot read: about four bytes a token.
        Err(_) => match body {
            Body::Converse(v) | Body::Native(v) => {
                let t = v.to_string().len() as u64 / 4;
                (t, t)
            }
        },
    };
    let padded = tokens + tokens.div_ceil(100 / INPUT_PAD_PERCENT) + 1;
    padded.saturating_add(bound.saturating_sub(tokens))
}

impl Actual {
    /// What a call used, from usage and cost.
    pub fn new(model: &str, usage: &Usage, cost: &Cost) -> Actual {
        Actual {
            model: model.to_owned(),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_tokens: usage
                .cache_read_tokens
                .saturating_add(usage.cache_write_tokens()),
            cost: cost.total(),
        }
    }

    /// Tokens as the per-minute window counts them after the call.
    pub fn window_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_tokens)
    }
}

/// Admission of a model call on `resolved` for the request's caller (`None`: no key, nothing
/// to check): the key must allow the model; the first admitted call of a request also reserves
/// tokens per minute and budget from the estimate (input + `max_tokens`) until the call is
/// settled. Each model call is admitted: the next call of a request (an embeddings fan-out)
/// after settlement, a fallback candidate after the failed one's reservation was released.
pub(crate) async fn admit(
    caller: Option<&Arc<Caller>>,
    catalog: &Catalog,
    resolved: &Resolved,
    body: Body<'_>,
    max_tokens: Option<u32>,
) -> Result<(), GatewayError> {
    let Some(caller) = caller else {
        return Ok(());
    };
    check_allowed(caller, &resolved.model)?;
    {
        let mut state = caller.lock();
        if state.admitted {
            return Ok(());
        }
        state.admitted = true;
    }
    let Some(meter) = &caller.meter else {
        return Ok(());
    };
    let input = input_estimate(resolved, body);
    caller.lock().input_estimate = input;
    if !caller.limits().meters_calls() {
        return Ok(());
    }
    let request = reservation(catalog, resolved, input, u64::from(max_tokens.unwrap_or(0)));
    match meter.admit(caller, &request).await {
        Ok(r) => {
            caller.lock().reservation = Some(r);
            Ok(())
        }
        Err(e) => {
            // Refused: a fallback candidate must not slip through on the flag.
            caller.lock().admitted = false;
            Err(e)
        }
    }
}

/// Settles the request's call: `actual` usage (or, with `None`, a release of the
/// reservation). Awaited, so a Lambda invocation does not end with the write pending.
pub(crate) async fn settle(caller: Option<&Arc<Caller>>, actual: Option<Actual>) {
    if let Some(f) = settlement(caller, actual) {
        write_to_the_end(f).await;
    }
}

/// Runs a settlement write spawned and awaited: a caller that stops waiting (client gone) does
/// not cut the writes short halfway.
async fn write_to_the_end(f: super::BoxFuture<'static, ()>) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            let _ = rt.spawn(f).await;
        }
        Err(_) => f.await,
    }
}

/// Settles a stream whose end was already recorded with [`stash_usage`] (the normal end of a
/// stream: awaited before the closing event).
pub(crate) async fn settle_stashed(caller: Option<&Arc<Caller>>) {
    let actual = caller.and_then(|c| c.lock().actual.take());
    if let Some(actual) = actual {
        settle(caller, Some(actual)).await;
    }
}

/// Like [`settle_stashed`], from a `Drop` (a client that went away): the write runs as a
/// spawned task.
pub(crate) fn settle_stashed_later(caller: Option<&Arc<Caller>>) {
    let actual = caller.and_then(|c| c.lock().actual.take());
    if let Some(f) = actual.and_then(|a| settlement(caller, Some(a)))
        && let Ok(rt) = tokio::runtime::Handle::try_current()
    {
        rt.spawn(f);
    }
}

/// Records what a stream used when it ends (normally, with an error, or dropped), for
/// [`settle_stashed`] / [`settle_stashed_later`]. A stream cut before Bedrock reported usage is
/// settled for what it produced: the input estimate and the output tokens estimated from the
/// deltas already relayed ([`note_output`]).
pub(crate) fn stash_usage(
    caller: Option<&Arc<Caller>>,
    catalog: &Catalog,
    resolved: &Resolved,
    usage: Option<Usage>,
) {
    let Some(c) = caller else { return };
    if c.meter.is_none() {
        return;
    }
    let mut state = c.lock();
    let usage = usage.unwrap_or_else(|| Usage::new(state.input_estimate, state.produced));
    let cost = crate::cost::cost_for(catalog, resolved, &usage);
    state.actual = Some(Actual::new(resolved.model.id.as_str(), &usage, &cost));
}

/// Counts the output of a relayed ConverseStream event (text, reasoning and tool-input
/// deltas), estimated with the model's tokenizer coefficients, for [`stash_usage`].
pub(crate) fn note_output(caller: Option<&Arc<Caller>>, resolved: &Resolved, event: &Value) {
    let Some(c) = caller else { return };
    let Some(delta) = event.pointer("/contentBlockDelta/delta") else {
        return;
    };
    let text = delta
        .get("text")
        .or_else(|| delta.pointer("/reasoningContent/text"))
        .or_else(|| delta.pointer("/toolUse/input"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.is_empty() {
        return;
    }
    let family = Family::for_model(&resolved.model).unwrap_or(Family::Anthropic);
    let tokens = u64::from(crate::estimate::estimate_text(family, text));
    let mut state = c.lock();
    state.produced = state.produced.saturating_add(tokens);
}

/// Admission of a call beside the model call (ApplyGuardrail): its worst-case cost `usd` is
/// reserved against the caller's budgets, apart from the model call's reservation (which may be
/// held at the same time). `None`: no key, or nothing metered.
pub(crate) async fn admit_side_call(
    caller: Option<&Arc<Caller>>,
    usd: rust_decimal::Decimal,
) -> Result<Option<super::Reservation>, GatewayError> {
    let Some(caller) = caller else {
        return Ok(None);
    };
    let Some(meter) = &caller.meter else {
        return Ok(None);
    };
    if !caller.limits().meters_calls() {
        return Ok(None);
    }
    meter
        .admit(caller, &AdmissionRequest { tokens: 0, usd })
        .await
        .map(Some)
}

/// Settles a side call admitted by [`admit_side_call`]: its reservation replaced by `actual`
/// (released with `None`), which also lands on the usage report under `actual.model`.
pub(crate) async fn settle_side_call(
    caller: Option<&Arc<Caller>>,
    reservation: Option<super::Reservation>,
    actual: Option<Actual>,
) {
    let Some(caller) = caller else { return };
    let Some(meter) = caller.meter.clone() else {
        return;
    };
    if reservation.is_none() && actual.is_none() {
        return;
    }
    write_to_the_end(meter.settle(caller.key_id().clone(), reservation, actual)).await;
}

/// The settlement write for the request's caller, if there is anything to write.
fn settlement(
    caller: Option<&Arc<Caller>>,
    actual: Option<Actual>,
) -> Option<super::BoxFuture<'static, ()>> {
    let caller = caller?;
    let meter = caller.meter.clone()?;
    let reservation = {
        // The call is over: a later model call of the same request (an embeddings fan-out, a
        // fallback candidate) is admitted, and reserves, on its own.
        let mut state = caller.lock();
        state.admitted = false;
        state.produced = 0;
        state.reservation.take()
    };
    if reservation.is_none() && actual.is_none() {
        return None;
    }
    Some(meter.settle(caller.key_id().clone(), reservation, actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actual_from_usage_and_cost() {
        let usage = Usage {
            input_tokens: 12,
            output_tokens: 5,
            cache_read_tokens: 3,
            ..Usage::default()
        };
        let catalog = crate::catalog::Catalog::embedded().unwrap();
        let m = catalog.by_name("haiku").unwrap();
        let cost = crate::cost::cost_of(&catalog, m, crate::catalog::PricingScope::Global, &usage);
        let a = Actual::new(m.id.as_str(), &usage, &cost);
        assert_eq!(a.input_tokens, 12);
        assert_eq!(a.window_tokens(), 20);
        assert_eq!(a.cost, cost.total());
    }
}
