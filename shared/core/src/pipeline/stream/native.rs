//! InvokeModelWithResponseStream: a native body in, the model's own JSON chunks out, with the
//! same admit and attempt stages as InvokeModel and the same guards as ConverseStream.

use gateway_model::json_path;
use std::time::Instant;

use aws_sdk_bedrockruntime::operation::invoke_model_with_response_stream::InvokeModelWithResponseStreamOutput;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::ResponseStream;
use aws_sdk_bedrockruntime::types::error::ResponseStreamError;
use bytes::Bytes;
use serde_json::Value;

use crate::context::CallContext;
use crate::cost::Usage;
use crate::error::{GatewayError, from_sdk_error};
use crate::family::Family;
use crate::guard::{StreamGuard, StreamShape};
use crate::native;
use crate::resolve::Resolved;

use super::super::Gateway;
use super::super::admit::NativePrepared;
use super::super::attempt::{Attempt, CallAttempt, Override, Refused, send_within};
use super::super::native::{NativeAttempt, native_call};
use super::super::requested::Requested;
use super::{GuardedStream, InvokeStreamCall, Opened, Seen, Upstream};

const OPERATION: &str = "InvokeModelWithResponseStream";

/// Name of a native chunk event.
pub const CHUNK_EVENT: &str = "chunk";

/// The chunks of an InvokeModelWithResponseStream.
#[derive(Debug)]
pub struct InvokeUpstream {
    receiver: EventReceiver<ResponseStream, ResponseStreamError>,
    resolved: Resolved,
    /// From Bedrock's `amazon-bedrock-invocationMetrics` (last chunk): authoritative.
    metrics_usage: Option<Usage>,
    /// From the family's own usage fields, merged over chunks (used when metrics are absent).
    chunk_usage: Usage,
}

impl Upstream for InvokeUpstream {
    const OPERATION: &'static str = OPERATION;
    const TRACE: &'static str = "/amazon-bedrock-trace/guardrail";
    const COUNTS_OUTPUT: bool = false;

    async fn next(&mut self, seen: &mut Seen) -> Result<Option<Value>, GatewayError> {
        loop {
            match self.receiver.recv().await.map_err(from_sdk_error)? {
                Some(ResponseStream::Chunk(part)) => {
                    let bytes = part.bytes().map(Blob::as_ref).unwrap_or_default();
                    let chunk = serde_json::from_slice(bytes).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(bytes).into_owned())
                    });
                    self.observe(&chunk, seen);
                    return Ok(Some(chunk));
                }
                // Event types newer than this SDK: skip.
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    fn name(_: &Value) -> String {
        CHUNK_EVENT.to_owned()
    }

    fn guardrail_event(report: Value) -> Value {
        report
    }

    fn usage(&self) -> Option<Usage> {
        stream_usage(self.metrics_usage, self.chunk_usage)
    }
}

impl InvokeUpstream {
    fn observe(&mut self, chunk: &Value, seen: &mut Seen) {
        if carries_content(chunk) {
            seen.content();
        }
        let m = &self.resolved.model;
        let u = native::usage_from_body(m, chunk);
        if chunk.get("amazon-bedrock-invocationMetrics").is_some() {
            self.metrics_usage = Some(u);
        } else {
            self.chunk_usage = merge(self.chunk_usage, u);
        }
        if chunk
            .get("amazon-bedrock-guardrailAction")
            .and_then(Value::as_str)
            == Some("INTERVENED")
        {
            seen.guardrail_intervened = true;
        }
        if let Some(t) = json_path::at(chunk, Self::TRACE) {
            seen.guardrail_trace = Some(t.clone());
        }
    }
}

impl InvokeStreamCall {
    /// The next chunk as the model's own JSON, `None` at the end, or the mapped error if the
    /// stream fails midway (send it as an `error` event, then stop). Guardrail events are
    /// skipped: use [`GuardedStream::next_event`] to receive them too.
    pub async fn recv(&mut self) -> Result<Option<Value>, GatewayError> {
        loop {
            match self.next_event().await? {
                Some((name, v)) if name == CHUNK_EVENT => return Ok(Some(v)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Whether a chunk carries generated content (not a start or ping frame).
    pub fn is_content(chunk: &Value) -> bool {
        carries_content(chunk)
    }
}

/// The InvokeModelWithResponseStream candidates of one native request: admitted like
/// InvokeModel's (for streaming).
struct NativeStreamAttempt<'a>(NativeAttempt<'a>);

impl Attempt for NativeStreamAttempt<'_> {
    type Candidate = NativePrepared;
    type Output = InvokeModelWithResponseStreamOutput;
    const OPERATION: &'static str = OPERATION;

    async fn admit(&self, i: usize, name: &str) -> Result<NativePrepared, Refused> {
        self.0.admit_for(i, name, true).await
    }

    async fn send(
        &self,
        p: &NativePrepared,
        timeout: Option<Override>,
    ) -> Result<InvokeModelWithResponseStreamOutput, GatewayError> {
        let gw = self.0.gw;
        let sdk = gw.client.sdk();
        let call = native_call!(gw, sdk.invoke_model_with_response_stream(), p);
        send_within!(call, timeout).map_err(from_sdk_error)
    }
}

impl Gateway {
    /// InvokeModelWithResponseStream with the model's native JSON body. Errors before the first
    /// chunk (including every fallback attempt) are returned here; later ones from `recv`.
    pub async fn invoke_stream<'a>(
        &self,
        model: impl Into<Requested<'a>>,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<InvokeStreamCall, GatewayError> {
        self.open_stream(ctx, self.invoke_stream_open(model.into(), body, ctx))
            .await
    }

    /// [`Gateway::invoke_stream`] without its admission (`open_stream`).
    async fn invoke_stream_open(
        &self,
        model: Requested<'_>,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<InvokeStreamCall, GatewayError> {
        let started = Instant::now();
        self.learn_model(model.name()).await?;
        let req = self.native_request(model, &body, ctx, OPERATION)?;
        let attempt = NativeStreamAttempt(CallAttempt::new(self, ctx, &req));
        let sent = self
            .try_candidates(ctx, model.name(), started, &attempt)
            .await?;
        let resolved = sent.candidate.resolved;
        let shape = StreamShape::native(Family::for_model(&resolved.model));
        let opened = Opened {
            upstream: InvokeUpstream {
                receiver: sent.output.body,
                resolved: resolved.clone(),
                metrics_usage: None,
                chunk_usage: Usage::default(),
            },
            resolved,
            max_tokens: sent.candidate.max_tokens,
            fallback: sent.fallback,
            report: req.report,
            filter: self.filter.as_ref().map(|f| StreamGuard::new(f, shape)),
            cache: Default::default(),
            routing: None,
        };
        Ok(GuardedStream::new(self, ctx, started, opened))
    }
}

/// Whether a chunk carries generated content (for time to first token): not a start/ping frame.
fn carries_content(chunk: &Value) -> bool {
    let kind = chunk.get("type").and_then(Value::as_str);
    let event = chunk.get("event_type").and_then(Value::as_str);
    !matches!(kind, Some("message_start" | "content_block_start" | "ping"))
        && event != Some("stream-start")
        && chunk.get("messageStart").is_none()
        && chunk.get("contentBlockStart").is_none()
}

/// Field-wise maximum: families report input early and output (cumulatively) late.
/// A stream's usage: Bedrock's metrics when present (authoritative), else the chunks'. The
/// metrics count cache writes without their TTL; Claude's `message_start` says how many were
/// 1-hour writes (priced higher), so that share is moved over.
fn stream_usage(metrics: Option<Usage>, chunks: Usage) -> Option<Usage> {
    match metrics {
        Some(mut m) => {
            let one_hour = chunks.cache_write_1h_tokens.min(m.cache_write_5m_tokens);
            m.cache_write_5m_tokens -= one_hour;
            m.cache_write_1h_tokens += one_hour;
            Some(m)
        }
        None => (chunks != Usage::default()).then_some(chunks),
    }
}

fn merge(a: Usage, b: Usage) -> Usage {
    Usage {
        input_tokens: a.input_tokens.max(b.input_tokens),
        output_tokens: a.output_tokens.max(b.output_tokens),
        cache_read_tokens: a.cache_read_tokens.max(b.cache_read_tokens),
        cache_write_5m_tokens: a.cache_write_5m_tokens.max(b.cache_write_5m_tokens),
        cache_write_1h_tokens: a.cache_write_1h_tokens.max(b.cache_write_1h_tokens),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_chunks_and_usage_merge() {
        assert!(!carries_content(&json!({"type": "message_start"})));
        assert!(carries_content(&json!({"type": "content_block_delta"})));
        assert!(!carries_content(
            &json!({"messageStart": {"role": "assistant"}})
        ));
        assert!(carries_content(&json!({"generation": "hi"})));
        assert_eq!(
            merge(Usage::new(10, 1), Usage::new(0, 7)),
            Usage::new(10, 7)
        );
    }

    #[test]
    fn metrics_win_but_keep_the_one_hour_cache_writes() {
        let metrics = Usage {
            cache_write_5m_tokens: 50,
            ..Usage::new(10, 5)
        };
        let chunks = Usage {
            cache_write_5m_tokens: 30,
            cache_write_1h_tokens: 20,
            ..Usage::new(10, 5)
        };
        let u = stream_usage(Some(metrics), chunks).unwrap();
        assert_eq!((u.cache_write_5m_tokens, u.cache_write_1h_tokens), (30, 20));
        assert_eq!(stream_usage(Some(metrics), Usage::default()), Some(metrics));
        assert_eq!(stream_usage(None, chunks), Some(chunks));
        assert_eq!(stream_usage(None, Usage::default()), None);
    }
}
