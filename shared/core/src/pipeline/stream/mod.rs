//! One guarded stream for both streamed call kinds (ConverseStream and
//! InvokeModelWithResponseStream): upstream events pass through the local content filter, a
//! guardrail report comes last, the response cache records a clean answer, and the end of the
//! stream (normal, failed or dropped by the client) is recorded and settled exactly once.
//!
//! What differs per kind (reading the SDK's events, usage, the guardrail trace's place) is an
//! [`Upstream`]; [`ConverseStreamCall`] and [`InvokeStreamCall`] are this type over each.

mod converse;
mod native;

use gateway_model::json_path;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cache::{CacheProbe, StreamRecorder};
use crate::call::CallMeta;
use crate::context::CallContext;
use crate::cost::{Cost, Usage, cost_for};
use crate::error::GatewayError;
use crate::guard::{self, GUARDRAIL_EVENT, GuardrailReport, Intervention, Source, StreamGuard};
use crate::policy::MaxTokens;
use crate::resilience::FallbackStep;
use crate::resolve::Resolved;

use super::Gateway;
use super::record::CallRecord;

pub use converse::ConverseUpstream;
pub use native::{CHUNK_EVENT, InvokeUpstream};

/// An open ConverseStream. Call [`GuardedStream::recv`] until it yields `None`, then
/// [`GuardedStream::summary`] for the closing event (usage and cost). Dropping it before the
/// end (client gone) drops the upstream connection, which cancels the model call; the metrics
/// record is still written, with what was produced.
pub type ConverseStreamCall = GuardedStream<ConverseUpstream>;

/// An open InvokeModelWithResponseStream: the model's own JSON chunks, guarded like
/// [`ConverseStreamCall`].
pub type InvokeStreamCall = GuardedStream<InvokeUpstream>;

/// What differs between the streamed call kinds.
pub trait Upstream: Send + std::fmt::Debug {
    /// The operation name in metrics.
    const OPERATION: &'static str;
    /// Where an event carries Bedrock's guardrail trace (masked by the local filter).
    const TRACE: &'static str;
    /// Whether relayed output is counted for a stream cut before its usage arrived.
    const COUNTS_OUTPUT: bool;

    /// The next upstream event as JSON (`None` at the end), noting what it says in `seen`.
    fn next(
        &mut self,
        seen: &mut Seen,
    ) -> impl Future<Output = Result<Option<Value>, GatewayError>> + Send;

    /// The event name an event is handed out under.
    fn name(event: &Value) -> String;

    /// The payload of the closing guardrail event.
    fn guardrail_event(report: Value) -> Value;

    /// Usage, once known.
    fn usage(&self) -> Option<Usage>;
}

/// What the upstream events said so far, beside their content.
#[derive(Debug)]
pub struct Seen {
    started: Instant,
    first_token: Option<Duration>,
    guardrail_intervened: bool,
    /// Bedrock's guardrail trace, when traced.
    guardrail_trace: Option<Value>,
}

impl Seen {
    fn new(started: Instant) -> Self {
        Seen {
            started,
            first_token: None,
            guardrail_intervened: false,
            guardrail_trace: None,
        }
    }

    /// Marks the first generated content (time to first token).
    fn content(&mut self) {
        if self.first_token.is_none() {
            self.first_token = Some(self.started.elapsed());
        }
    }
}

/// Where a stream is in its life.
#[derive(Debug)]
enum Phase {
    /// Reading upstream.
    Open,
    /// No more upstream events (ended, or blocked by the local filter): hand out what is
    /// pending, then end.
    Closed,
    /// The upstream failed: hand out the held-back text, then this error.
    Failing(GatewayError),
}

/// A streamed model call with its guards; see [`ConverseStreamCall`], [`InvokeStreamCall`].
#[derive(Debug)]
pub struct GuardedStream<U: Upstream> {
    gateway: Gateway,
    ctx: CallContext,
    resolved: Resolved,
    max_tokens: Option<MaxTokens>,
    fallback: Vec<FallbackStep>,
    upstream: U,
    seen: Seen,
    phase: Phase,
    /// The local filter over the answer (`None` when the policy changes nothing).
    filter: Option<StreamGuard>,
    /// Events ready to hand out (a held-back tail, added stop events, the guardrail event).
    pending: VecDeque<(String, Value)>,
    report: GuardrailReport,
    /// The response cache for this call (not engaged for native streams).
    cache: CacheProbe,
    /// The events handed out, while the answer may still be stored.
    recorder: Option<StreamRecorder>,
    /// The router's decision (`model: "auto"`), for the closing event.
    routing: Option<Value>,
    /// The upstream ended normally (not failed, not cut).
    ended_ok: bool,
    /// The end was recorded.
    finished: bool,
    /// The caller's concurrent-stream slot, given back at the end (or from `Drop`).
    lease: Option<crate::auth::StreamLease>,
}

/// How a stream starts: the candidate that answered and what the admit stage produced.
pub(crate) struct Opened<U> {
    pub(crate) upstream: U,
    pub(crate) resolved: Resolved,
    pub(crate) max_tokens: Option<MaxTokens>,
    pub(crate) fallback: Vec<FallbackStep>,
    pub(crate) report: GuardrailReport,
    pub(crate) filter: Option<StreamGuard>,
    pub(crate) cache: CacheProbe,
    pub(crate) routing: Option<Value>,
}

impl<U: Upstream> GuardedStream<U> {
    pub(crate) fn new(
        gateway: &Gateway,
        ctx: &CallContext,
        started: Instant,
        o: Opened<U>,
    ) -> Self {
        GuardedStream {
            gateway: gateway.clone(),
            ctx: ctx.clone(),
            resolved: o.resolved,
            max_tokens: o.max_tokens,
            fallback: o.fallback,
            upstream: o.upstream,
            seen: Seen::new(started),
            phase: Phase::Open,
            filter: o.filter,
            pending: VecDeque::new(),
            report: o.report,
            recorder: o.cache.recorder(),
            cache: o.cache,
            routing: o.routing,
            ended_ok: false,
            finished: false,
            lease: None,
        }
    }

    /// What is being called.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// Fallback steps taken before the stream opened.
    pub fn fallback(&self) -> &[FallbackStep] {
        &self.fallback
    }

    /// Guardrail interventions so far.
    pub fn guardrail(&self) -> &GuardrailReport {
        &self.report
    }

    /// Usage so far (once the upstream reported it).
    pub fn usage(&self) -> Option<Usage> {
        self.upstream.usage()
    }

    /// The next event `(name, payload)`, `None` at the end, or the mapped error if the stream
    /// fails midway (send it as an `error` event, then stop).
    ///
    /// Text passes through the local content filter (a tail that could still become an entity
    /// is held back and released at the block's end). When a guardrail intervened, a
    /// `guardrail` event comes last; when the filter blocks, the answer is closed, the
    /// `guardrail` event follows and the upstream is not read further.
    pub async fn next_event(&mut self) -> Result<Option<(String, Value)>, GatewayError> {
        loop {
            if let Some((name, v)) = self.pending.pop_front() {
                if let Some(r) = &mut self.recorder {
                    r.record(&v);
                }
                return Ok(Some((name, v)));
            }
            match std::mem::replace(&mut self.phase, Phase::Closed) {
                Phase::Failing(e) => return Err(e),
                Phase::Closed => {
                    self.store_in_cache().await;
                    self.finish(None);
                    self.gateway.settle_stashed(&self.ctx).await;
                    self.release_lease().await;
                    return Ok(None);
                }
                Phase::Open => self.phase = Phase::Open,
            }
            match self.upstream.next(&mut self.seen).await {
                Ok(Some(v)) => self.on_event(v),
                Ok(None) => {
                    self.ended_ok = true;
                    self.flush_filter();
                    self.end_of_guarded_stream();
                }
                Err(e) => {
                    self.finish(Some(&e));
                    self.gateway.settle_stashed(&self.ctx).await;
                    self.release_lease().await;
                    // Text held back before the failure is filtered as final and sent first.
                    if self.flush_filter() {
                        self.phase = Phase::Failing(e);
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    fn on_event(&mut self, mut v: Value) {
        if U::COUNTS_OUTPUT {
            self.gateway.note_output(&self.ctx, &self.resolved, &v);
        }
        let Some(g) = &mut self.filter else {
            self.pending.push_back((U::name(&v), v));
            return;
        };
        if let Some(t) = json_path::at_mut(&mut v, U::TRACE)
            && let Some(f) = &self.gateway.filter
        {
            guard::mask_all_strings(f, t);
        }
        let out = g.on_event(v);
        self.pending
            .extend(out.into_iter().map(|e| (U::name(&e), e)));
        if g.blocked().is_some() {
            self.end_of_guarded_stream();
        }
    }

    /// Releases the filter's held-back text as final; whether there was any.
    fn flush_filter(&mut self) -> bool {
        let Some(g) = &mut self.filter else {
            return false;
        };
        let rest = g.flush_all();
        let any = !rest.is_empty();
        self.pending
            .extend(rest.into_iter().map(|e| (U::name(&e), e)));
        any
    }

    /// Reports every intervention in one `guardrail` event and stops reading upstream.
    fn end_of_guarded_stream(&mut self) {
        self.phase = Phase::Closed;
        if self.seen.guardrail_intervened {
            self.report.push(
                Intervention::bedrock(Source::Bedrock, self.seen.guardrail_trace.take()),
                &self.ctx.request_id,
            );
        }
        if let Some(i) = self.filter.as_ref().and_then(StreamGuard::intervention) {
            self.report.push(i, &self.ctx.request_id);
        }
        if let Some(g) = self.report.to_json() {
            self.pending
                .push_back((GUARDRAIL_EVENT.to_owned(), U::guardrail_event(g)));
        }
    }

    /// What the call is billed: its usage and cost, or nothing for a replayed cache hit.
    fn billed(&self) -> (Usage, Cost) {
        let usage = if self.cache.is_hit() {
            Usage::default()
        } else {
            self.upstream.usage().unwrap_or_default()
        };
        let r = &self.resolved;
        let cost = cost_for(&self.gateway.catalog(), r, &usage);
        (usage, cost)
    }

    /// The closing event's payload: `{"model", "resolved", "max_tokens", "usage",
    /// "usage_known", "cost", "request_id", "fallback"?, "cache"?, "routing"?, "guardrail"?}`.
    /// A replayed cache hit reports the stored answer's usage at zero cost.
    pub fn summary(&self) -> Value {
        let usage = self.upstream.usage().unwrap_or_default();
        let cost = self.billed().1;
        let mut v = json!({
            "usage": usage.to_bedrock_json(),
            "usage_known": self.upstream.usage().is_some(),
        });
        let mut meta = CallMeta::new(&self.resolved, self.max_tokens, cost, &self.ctx.request_id);
        meta.fallback = self.fallback.clone();
        meta.cache = self.cache.outcome();
        meta.routing = self.routing.clone();
        meta.guardrail = self.report.to_json();
        meta.merge_into(&mut v);
        v
    }

    /// Stores the stream once it ended normally with a clean answer: no guardrail intervention
    /// (Bedrock's or the local filter's), no fallback, usage known. Runs once.
    async fn store_in_cache(&mut self) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let clean = self.ended_ok
            && self.report.is_empty()
            && !self.seen.guardrail_intervened
            && self.fallback.is_empty()
            && self.upstream.usage().is_some();
        let (usage, cost) = self.billed();
        self.cache
            .store_stream(recorder, &usage, &cost, clean)
            .await;
    }

    /// Gives the caller's stream slot back (awaited, once; a dropped stream's lease is given
    /// back from its own `Drop`).
    async fn release_lease(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }

    /// Records the end of the call once: the metrics record, and what it used for settlement.
    fn finish(&mut self, error: Option<&GatewayError>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let (usage, cost) = self.billed();
        let model = self.resolved.model.id.as_str();
        let mut record = CallRecord::new(U::OPERATION, model, self.seen.started, &self.report);
        record.first_token = self.seen.first_token;
        record.usage = Some(&usage);
        record.cost = Some(&cost);
        record.fallbacks = self.fallback.len();
        record.cache = Some(&self.cache);
        record.bedrock_intervened = self.seen.guardrail_intervened;
        record.error = error;
        self.gateway.record(&self.ctx, record);
        // A replayed cache hit is billed nothing (as a Converse hit is): settle it at zero.
        let billed = if self.cache.is_hit() {
            Some(Usage::default())
        } else {
            self.upstream.usage()
        };
        self.gateway.stash_usage(&self.ctx, &self.resolved, billed);
    }
}

impl Gateway {
    /// The one admission of every streamed call (ConverseStream, InvokeModelWithResponseStream,
    /// and the compat routes on top of them): a lease on one of the caller's concurrent-stream
    /// slots (429 `too_many_streams` without one) before `open` runs, handed to the stream,
    /// which gives it back at its end. A stream that fails to open releases the lease and
    /// what the caller's key reserved.
    pub(super) async fn open_stream<U: Upstream>(
        &self,
        ctx: &CallContext,
        open: impl Future<Output = Result<GuardedStream<U>, GatewayError>>,
    ) -> Result<GuardedStream<U>, GatewayError> {
        let lease = crate::auth::lease_stream(ctx.caller.as_ref(), ctx.deadline).await?;
        match open.await {
            Ok(mut call) => {
                call.lease = lease;
                Ok(call)
            }
            Err(e) => {
                // Nothing was produced: release what the caller's key reserved (`auth`).
                self.settle_call(ctx, None).await;
                if let Some(lease) = lease {
                    lease.release().await;
                }
                Err(e)
            }
        }
    }
}

impl<U: Upstream> Drop for GuardedStream<U> {
    fn drop(&mut self) {
        // Client went away mid-stream: account for what was produced (usage may be unknown).
        if !self.finished {
            tracing::info!(request_id = %self.ctx.request_id, "stream dropped before the end");
            self.finish(None);
        }
        // Settles the caller's key for what was produced (`auth`); the lease, if still held,
        // is given back from its own `Drop`.
        self.gateway.settle_stashed_later(&self.ctx);
    }
}
