//! The record stage: one [`CallRecord`] per model call becomes the call's metrics record (EMF),
//! and the caller's key is settled from what the call used.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::auth::Actual;
use crate::cache::CacheProbe;
use crate::context::CallContext;
use crate::cost::{Cost, Usage};
use crate::error::GatewayError;
use crate::guard::GuardrailReport;
use crate::resolve::Resolved;

use super::Gateway;

/// What one model call did, for its metrics record.
#[derive(Debug)]
pub(crate) struct CallRecord<'a> {
    /// `Converse`, `ConverseStream`, `InvokeModel`, `InvokeModelWithResponseStream`.
    pub(crate) operation: &'static str,
    /// The bare model ID (the `Model` dimension).
    pub(crate) model: &'a str,
    pub(crate) started: Instant,
    /// Time to first token (streams).
    pub(crate) first_token: Option<Duration>,
    /// What the call used (`None`: no tokens to count, e.g. a cache hit).
    pub(crate) usage: Option<&'a Usage>,
    /// What it cost (`None`: not priced, e.g. refused by a guardrail before the model).
    pub(crate) cost: Option<&'a Cost>,
    pub(crate) fallbacks: usize,
    pub(crate) guardrail: &'a GuardrailReport,
    /// Bedrock's guardrail intervened on a stream (the report may not say so yet).
    pub(crate) bedrock_intervened: bool,
    pub(crate) cache: Option<&'a CacheProbe>,
    /// A stream that failed midway.
    pub(crate) error: Option<&'a GatewayError>,
}

impl<'a> CallRecord<'a> {
    /// A record of `operation` on `model` that started at `started`.
    pub(crate) fn new(
        operation: &'static str,
        model: &'a str,
        started: Instant,
        guardrail: &'a GuardrailReport,
    ) -> Self {
        CallRecord {
            operation,
            model,
            started,
            first_token: None,
            usage: None,
            cost: None,
            fallbacks: 0,
            guardrail,
            bedrock_intervened: false,
            cache: None,
            error: None,
        }
    }
}

impl Gateway {
    /// Writes the call's metrics record.
    pub(crate) fn record(&self, ctx: &CallContext, r: CallRecord<'_>) {
        let mut m = self.metrics(ctx, r.operation, r.model);
        m.latency = Some(r.started.elapsed());
        m.time_to_first_token = r.first_token;
        match (r.usage, r.cost) {
            (Some(u), Some(c)) => m.usage(u, c),
            (None, Some(c)) => m.cost = Some(c.total()),
            _ => {}
        }
        m.fallbacks = r.fallbacks as u64;
        r.guardrail.record(&mut m);
        if let Some(c) = r.cache {
            c.record(&mut m);
        }
        if r.bedrock_intervened && !m.guardrail_sources.contains(&"bedrock") {
            m.guardrail_interventions = 1;
            m.guardrail_sources.push("bedrock");
        }
        if let Some(e) = r.error {
            m.error(e);
        }
        m.emit(&self.config);
    }

    /// Settles the caller's key with what the call used (`None`: release the reservation).
    pub(crate) async fn settle_call(&self, ctx: &CallContext, actual: Option<Actual>) {
        crate::auth::settle(ctx.caller.as_ref(), actual).await;
    }

    /// Settles a stream whose end was recorded with [`Gateway::stash_usage`].
    pub(crate) async fn settle_stashed(&self, ctx: &CallContext) {
        crate::auth::settle_stashed(ctx.caller.as_ref()).await;
    }

    /// [`Gateway::settle_stashed`] from a `Drop`: the write runs as a spawned task.
    pub(crate) fn settle_stashed_later(&self, ctx: &CallContext) {
        crate::auth::settle_stashed_later(ctx.caller.as_ref());
    }

    /// Records what a stream used when it ends, for settlement.
    pub(crate) fn stash_usage(&self, ctx: &CallContext, resolved: &Resolved, usage: Option<Usage>) {
        crate::auth::stash_usage(ctx.caller.as_ref(), &self.catalog(), resolved, usage);
    }

    /// Counts a relayed stream event's output, for a stream cut before its usage arrived.
    pub(crate) fn note_output(&self, ctx: &CallContext, resolved: &Resolved, event: &Value) {
        crate::auth::note_output(ctx.caller.as_ref(), resolved, event);
    }
}
