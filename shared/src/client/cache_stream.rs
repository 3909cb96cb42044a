//! The response cache on the streaming path: a hit is replayed as the stored events (the same
//! sequence the stream handed out the first time), and a complete, clean stream is stored.

use std::time::Instant;

use serde_json::Value;

use super::{ConverseStreamCall, Gateway};
use crate::cache::{AnswerKind, CacheProbe};
use crate::context::CallContext;
use crate::cost::{Cost, Usage, cost_of};

impl Gateway {
    /// A stream that replays a hit (taking the probe and routing), `None` when there is none.
    pub(super) fn replay_stream(
        &self,
        cache: &mut CacheProbe,
        ctx: &CallContext,
        started: Instant,
        routing: &mut Option<Value>,
    ) -> Option<ConverseStreamCall> {
        let replay = cache
            .hit()
            .filter(|a| a.kind == AnswerKind::Stream)
            .and_then(|a| {
                let events = a.body.get("events")?.as_array()?.clone();
                Some((events, Usage::from(a.usage)))
            });
        let (Some((events, usage)), Some(prepared)) = (replay, cache.prepared().cloned()) else {
            return None;
        };
        tracing::info!(request_id = %ctx.request_id, model = %prepared.resolved.target.id(), "stream replayed from the response cache");
        Some(ConverseStreamCall {
            gateway: self.clone(),
            ctx: ctx.clone(),
            prepared,
            fallback: Vec::new(),
            receiver: None,
            started,
            first_token: Some(started.elapsed()),
            usage: Some(usage),
            guardrail_intervened: false,
            guardrail_trace: None,
            finished: false,
            filter: None,
            pending: events.into(),
            report: super::GuardrailReport::default(),
            closed: true,
            failed: None,
            cache: std::mem::take(cache),
            recorder: None,
            ended_ok: false,
            routing: routing.take(),
        })
    }
}

impl ConverseStreamCall {
    /// What the call is billed: its usage and cost, or nothing for a replayed hit.
    pub(super) fn billed(&self) -> (Usage, Cost) {
        let usage = if self.cache.is_hit() {
            Usage::default()
        } else {
            self.usage.unwrap_or_default()
        };
        let cost = cost_of(
            &self.gateway.catalog,
            &self.prepared.resolved.model,
            self.prepared.resolved.pricing,
            &usage,
        );
        (usage, cost)
    }

    /// Stores the stream once it ended normally with a clean answer: no guardrail intervention
    /// (Bedrock's or the local filter's), no fallback, usage known. Runs once.
    pub(super) async fn store_in_cache(&mut self) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let clean = self.ended_ok
            && self.report.is_empty()
            && !self.guardrail_intervened
            && self.fallback.is_empty()
            && self.usage.is_some();
        let (usage, cost) = self.billed();
        self.cache
            .store_stream(recorder, &usage, &cost, clean)
            .await;
    }
}

impl ConverseStreamCall {
    /// What the response cache did for this stream (`None`: not engaged), for the
    /// `x-gateway-cache` response header.
    pub fn cache_status(&self) -> Option<crate::cache::CacheStatus> {
        self.cache.status()
    }
}
