//! ConverseStream: the admit stage shared with Converse, a cache hit replayed as its stored
//! events, otherwise the attempt stage, and the SDK's events read as JSON.

use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamOutput as ConverseStreamOutputOk;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{ConverseStreamOutput, StopReason};
use gateway_model::json_path;
use serde_json::{Value, json};

use crate::cache::{AnswerKind, CacheProbe};
use crate::call::Prepared;
use crate::catalog::Capability;
use crate::context::CallContext;
use crate::convert::{stream_event_to_json, usage_from_sdk};
use crate::cost::Usage;
use crate::error::{GatewayError, from_sdk_error};
use crate::guard::{GUARDRAIL_EVENT, StreamGuard, StreamShape};

use super::super::Gateway;
use super::super::attempt::{Attempt, CallAttempt, Override, Refused, send_within};
use super::super::converse::ConverseAttempt;
use super::super::requested::CallBody;
use super::{ConverseStreamCall, GuardedStream, Opened, Seen, Upstream};

/// The events of a ConverseStream (`None`: a cache hit replayed from its stored events).
#[derive(Debug)]
pub struct ConverseUpstream {
    receiver: Option<EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>>,
    usage: Option<Usage>,
}

impl Upstream for ConverseUpstream {
    const OPERATION: &'static str = "ConverseStream";
    const TRACE: &'static str = "/metadata/trace/guardrail";
    const COUNTS_OUTPUT: bool = true;

    async fn next(&mut self, seen: &mut Seen) -> Result<Option<Value>, GatewayError> {
        let Some(receiver) = self.receiver.as_mut() else {
            return Ok(None);
        };
        let Some(event) = receiver.recv().await.map_err(from_sdk_error)? else {
            return Ok(None);
        };
        if matches!(event, ConverseStreamOutput::ContentBlockDelta(_)) {
            seen.content();
        }
        let v = stream_event_to_json(&event);
        match &event {
            ConverseStreamOutput::Metadata(m) => {
                self.usage = m.usage().map(usage_from_sdk);
                if let Some(t) = json_path::at(&v, Self::TRACE) {
                    seen.guardrail_trace = Some(t.clone());
                }
            }
            ConverseStreamOutput::MessageStop(m) => {
                seen.guardrail_intervened = *m.stop_reason() == StopReason::GuardrailIntervened;
            }
            _ => {}
        }
        Ok(Some(v))
    }

    fn name(v: &Value) -> String {
        v.as_object()
            .and_then(|o| o.keys().next())
            .cloned()
            .unwrap_or_default()
    }

    fn guardrail_event(report: Value) -> Value {
        json!({ GUARDRAIL_EVENT: report })
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

impl ConverseStreamCall {
    /// The next event as JSON (`{"contentBlockDelta": {...}}`) under its name; see
    /// [`GuardedStream::next_event`].
    pub async fn recv(&mut self) -> Result<Option<(String, Value)>, GatewayError> {
        self.next_event().await
    }

    /// The `maxTokens` sent.
    pub fn max_tokens(&self) -> Option<crate::policy::MaxTokens> {
        self.max_tokens
    }

    /// What the response cache did for this stream (`None`: not engaged), for the
    /// `x-gateway-cache` response header.
    pub fn cache_status(&self) -> Option<crate::cache::CacheStatus> {
        self.cache.status()
    }
}

/// The ConverseStream candidates of one request: admitted like Converse's (for streaming),
/// sent with ConverseStream.
struct ConverseStreamAttempt<'a>(ConverseAttempt<'a>);

impl Attempt for ConverseStreamAttempt<'_> {
    type Candidate = Prepared;
    type Output = ConverseStreamOutputOk;
    const OPERATION: &'static str = "ConverseStream";

    async fn admit(&self, i: usize, name: &str) -> Result<Prepared, Refused> {
        self.0.admit_for(i, name, Capability::Streaming).await
    }

    async fn send(
        &self,
        p: &Prepared,
        timeout: Option<Override>,
    ) -> Result<ConverseStreamOutputOk, GatewayError> {
        let invoked = p.resolved.target.id();
        let sdk = self.0.gw.client.sdk();
        let call = p
            .parts
            .clone()
            .apply_stream(sdk.converse_stream().model_id(&invoked));
        send_within!(call, timeout).map_err(from_sdk_error)
    }
}

impl Gateway {
    /// ConverseStream: opens the stream (with fallback before the first event) and returns a
    /// handle that yields events as JSON and accounts for usage and cost at the end.
    pub async fn converse_stream(
        &self,
        request: impl Into<CallBody>,
        ctx: &CallContext,
    ) -> Result<ConverseStreamCall, GatewayError> {
        self.open_stream(ctx, self.converse_stream_open(request.into(), ctx))
            .await
    }

    /// [`Gateway::converse_stream`] without its admission (`open_stream`).
    async fn converse_stream_open(
        &self,
        body: CallBody,
        ctx: &CallContext,
    ) -> Result<ConverseStreamCall, GatewayError> {
        let mut a = self.admit_request(body, ctx, true).await?;
        let started = a.started;
        if let Some(call) = self.replay_stream(&mut a.cache, ctx, started, &mut a.routing) {
            return Ok(call);
        }
        let attempt = ConverseStreamAttempt(CallAttempt::new(self, ctx, &a));
        let sent = self
            .try_candidates(ctx, &a.requested, started, &attempt)
            .await?;
        let opened = Opened {
            upstream: ConverseUpstream {
                receiver: Some(sent.output.stream),
                usage: None,
            },
            resolved: sent.candidate.resolved,
            max_tokens: Some(sent.candidate.max_tokens),
            fallback: sent.fallback,
            report: a.report,
            filter: self
                .filter
                .as_ref()
                .map(|f| StreamGuard::new(f, StreamShape::Converse)),
            cache: a.cache,
            routing: a.routing,
        };
        Ok(GuardedStream::new(self, ctx, started, opened))
    }

    /// A stream that replays a hit (taking the probe and routing), `None` when there is none.
    fn replay_stream(
        &self,
        cache: &mut CacheProbe,
        ctx: &CallContext,
        started: std::time::Instant,
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
        let opened = Opened {
            upstream: ConverseUpstream {
                receiver: None,
                usage: Some(usage),
            },
            resolved: prepared.resolved,
            max_tokens: Some(prepared.max_tokens),
            fallback: Vec::new(),
            report: Default::default(),
            filter: None,
            cache: std::mem::take(cache),
            routing: routing.take(),
        };
        let mut call = GuardedStream::new(self, ctx, started, opened);
        // Nothing more to read: the stored events are handed out as they were the first time.
        call.seen.content();
        call.phase = super::Phase::Closed;
        call.recorder = None;
        call.pending = events
            .into_iter()
            .map(|e| (ConverseUpstream::name(&e), e))
            .collect();
        Some(call)
    }
}
