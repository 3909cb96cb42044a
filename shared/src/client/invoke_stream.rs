//! InvokeModelWithResponseStream: a native body in, the model's own JSON chunks out.
//!
//! Same resolution, allowlist, `maxTokens` policy, deployment guardrail, deadline and
//! fallback-before-first-byte as [`Gateway::invoke_native`]; same cancel-on-drop and
//! end-of-call accounting as [`ConverseStreamCall`](super::ConverseStreamCall).

use std::time::{Duration, Instant};

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::ResponseStream;
use aws_sdk_bedrockruntime::types::error::ResponseStreamError;
use bytes::Bytes;
use serde_json::{Value, json};

use super::guard::{self, StreamGuard, StreamShape};
use super::{GUARDRAIL_EVENT, Gateway, GuardrailReport, GuardrailSource, Intervention};
use crate::catalog::{Capability, Mode};
use crate::context::CallContext;
use crate::cost::{Usage, cost_of};
use crate::error::{GatewayError, from_sdk_error};
use crate::native;
use crate::policy::MaxTokens;
use crate::resilience::{FallbackStep, candidates, should_fall_back};
use crate::resolve::{Resolved, resolve};

const OPERATION: &str = "InvokeModelWithResponseStream";

/// An open InvokeModelWithResponseStream. Call [`InvokeStreamCall::recv`] until it yields
/// `None`, then [`InvokeStreamCall::summary`]. Dropping it early cancels the model call; the
/// metrics record is still written with what was produced.
#[derive(Debug)]
pub struct InvokeStreamCall {
    gateway: Gateway,
    ctx: CallContext,
    resolved: Resolved,
    max_tokens: Option<MaxTokens>,
    fallback: Vec<FallbackStep>,
    receiver: EventReceiver<ResponseStream, ResponseStreamError>,
    started: Instant,
    first_token: Option<Duration>,
    /// From Bedrock's `amazon-bedrock-invocationMetrics` (last chunk): authoritative.
    metrics_usage: Option<Usage>,
    /// From the family's own usage fields, merged over chunks (used when metrics are absent).
    chunk_usage: Usage,
    guardrail_intervened: bool,
    /// Bedrock's `amazon-bedrock-trace.guardrail`, when traced.
    guardrail_trace: Option<Value>,
    finished: bool,
    /// The local filter over the chunks' text fields (`None` when the policy changes nothing).
    filter: Option<StreamGuard>,
    /// Events ready to hand out: `("chunk", json)` or `("guardrail", json)`.
    pending: std::collections::VecDeque<(String, Value)>,
    report: GuardrailReport,
    /// No more upstream chunks will be read (ended, or blocked by the local filter).
    closed: bool,
    /// An upstream failure to report once the held-back text before it has been handed out.
    failed: Option<GatewayError>,
}

/// Name of a native chunk event.
pub const CHUNK_EVENT: &str = "chunk";

impl Gateway {
    /// InvokeModelWithResponseStream with the model's native JSON body. Errors before the first
    /// chunk (including every fallback attempt) are returned here; later ones from `recv`.
    pub async fn invoke_stream(
        &self,
        model: &str,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<InvokeStreamCall, GatewayError> {
        let result = self.invoke_stream_open(model, body, ctx).await;
        if result.is_err() {
            // Nothing was produced: release what the caller's key reserved (`auth`).
            self.settle_call(ctx, None).await;
        }
        result
    }

    /// [`Gateway::invoke_stream`] without the release of a refused call's reservation.
    async fn invoke_stream_open(
        &self,
        model: &str,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<InvokeStreamCall, GatewayError> {
        let mut json: Value = serde_json::from_slice(&body)
            .map_err(|e| GatewayError::invalid_request(format!("body: not valid JSON: {e}")))?;
        if !json.is_object() {
            return Err(GatewayError::invalid_request("body: must be a JSON object"));
        }
        let started = Instant::now();
        let mut fallback = Vec::new();
        let mut last_err = None;
        let first = resolve(&self.catalog, &self.config, model).ok();
        let first_family = first.as_ref().map(|r| r.model.family.clone());
        let mut report = GuardrailReport::default();
        if let Some(i) = self.screen_native_input(first.as_ref(), &mut json, ctx, OPERATION)? {
            report.push(i, &ctx.request_id);
        }
        for (i, name) in candidates(model, &self.config).iter().enumerate() {
            let (resolved, max_tokens, send_body) = match self.prepare_native_stream(name, &json) {
                Ok(x) => x,
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    fallback.push(FallbackStep::new(name.clone(), &e));
                    continue;
                }
            };
            // Native bodies are family-specific: fall back only within the same family.
            if i > 0 && first_family.as_deref() != Some(resolved.model.family.as_str()) {
                fallback.push(FallbackStep {
                    model: name.clone(),
                    error: "invalid_request".into(),
                    upstream: Some("another model family: the native body does not apply".into()),
                });
                continue;
            }
            if let Err(e) = self
                .admit_call(
                    ctx,
                    &resolved,
                    crate::auth::Body::Native(&json),
                    max_tokens.map(|m| m.value),
                )
                .await
            {
                if i == 0 {
                    return Err(e);
                }
                fallback.push(FallbackStep::new(name.clone(), &e));
                continue;
            }
            let invoked = resolved.target.id();
            let mut call = self
                .client
                .sdk()
                .invoke_model_with_response_stream()
                .model_id(&invoked)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(
                    serde_json::to_vec(&send_body).unwrap_or_default(),
                ));
            if let Some(g) = &self.config.guardrail {
                call = call
                    .guardrail_identifier(&g.id)
                    .guardrail_version(&g.version)
                    .trace(super::invoke_model_trace(g.trace));
            }
            let result = match self.timeout_override(ctx)? {
                Some(o) => call.customize().config_override(o).send().await,
                None => call.send().await,
            };
            match result {
                Ok(out) => {
                    let shape =
                        StreamShape::native(&resolved.model.provider, &resolved.model.family);
                    let filter = self.filter.as_ref().map(|f| StreamGuard::new(f, shape));
                    return Ok(InvokeStreamCall {
                        gateway: self.clone(),
                        ctx: ctx.clone(),
                        resolved,
                        max_tokens,
                        fallback,
                        receiver: out.body,
                        started,
                        first_token: None,
                        metrics_usage: None,
                        chunk_usage: Usage::default(),
                        guardrail_intervened: false,
                        guardrail_trace: None,
                        finished: false,
                        filter,
                        pending: std::collections::VecDeque::new(),
                        report,
                        closed: false,
                        failed: None,
                    });
                }
                Err(sdk) => {
                    let e = from_sdk_error(sdk);
                    let id = resolved.model.id.as_str();
                    self.record_failure(ctx, OPERATION, id, started, &e, fallback.len());
                    if !should_fall_back(&e) {
                        return Err(e);
                    }
                    fallback.push(FallbackStep::new(invoked, &e));
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| GatewayError::internal("no model could be called")))
    }

    /// Resolution, allowlist, streaming capability and the family's `maxTokens` field.
    fn prepare_native_stream(
        &self,
        name: &str,
        json: &Value,
    ) -> Result<(Resolved, Option<MaxTokens>, Value), GatewayError> {
        let resolved = self.resolve_allowed(name, Capability::Streaming)?;
        let mut body = json.clone();
        let mut applied = None;
        if resolved.model.mode == Mode::Chat
            && let Some(ptr) =
                native::max_tokens_pointer(&resolved.model.family, &resolved.model.provider)
        {
            let requested = body
                .pointer(ptr)
                .map(|v| {
                    v.as_i64().ok_or_else(|| {
                        GatewayError::invalid_request(format!("body{ptr}: expected an integer"))
                    })
                })
                .transpose()?;
            let mt = self.policy.max_tokens(&resolved.model, requested)?;
            native::set_pointer(&mut body, ptr, json!(mt.value));
            applied = Some(mt);
        }
        Ok((resolved, applied, body))
    }
}

impl InvokeStreamCall {
    /// What is being called.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The next chunk as the model's own JSON, `None` at the end, or the mapped error if the
    /// stream fails midway (send it as an `error` event, then stop). Guardrail events are
    /// skipped: use [`InvokeStreamCall::next_event`] to receive them too.
    pub async fn recv(&mut self) -> Result<Option<Value>, GatewayError> {
        loop {
            match self.next_event().await? {
                Some((name, v)) if name == CHUNK_EVENT => return Ok(Some(v)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// The next event: `("chunk", <the model's JSON>)` with its text fields passed through the
    /// local content filter, or, last, `("guardrail", {...})` when a guardrail intervened.
    /// When the filter blocks, the chunk with the text before the entity is followed by the
    /// `guardrail` event and the upstream is not read further.
    pub async fn next_event(&mut self) -> Result<Option<(String, Value)>, GatewayError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if self.closed {
                self.finish(None);
                self.gateway.settle_stashed(&self.ctx).await;
                return Ok(None);
            }
            match self.receiver.recv().await {
                Ok(Some(ResponseStream::Chunk(part))) => {
                    let bytes = part.bytes().map(Blob::as_ref).unwrap_or_default();
                    let mut chunk = serde_json::from_slice(bytes).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(bytes).into_owned())
                    });
                    self.observe(&chunk);
                    match &mut self.filter {
                        Some(g) => {
                            if let Some(t) = chunk.pointer_mut("/amazon-bedrock-trace/guardrail")
                                && let Some(f) = &self.gateway.filter
                            {
                                guard::mask_all_strings(f, t);
                            }
                            let out = g.on_event(chunk);
                            self.pending
                                .extend(out.into_iter().map(|c| (CHUNK_EVENT.to_owned(), c)));
                            if g.blocked().is_some() {
                                self.end_of_guarded_stream();
                            }
                        }
                        None => self.pending.push_back((CHUNK_EVENT.to_owned(), chunk)),
                    }
                }
                // Event types newer than this SDK: skip.
                Ok(Some(_)) => continue,
                Ok(None) => {
                    if let Some(g) = &mut self.filter {
                        let rest = g.flush_all();
                        self.pending
                            .extend(rest.into_iter().map(|c| (CHUNK_EVENT.to_owned(), c)));
                    }
                    self.end_of_guarded_stream();
                }
                Err(sdk) => {
                    let e = from_sdk_error(sdk);
                    self.finish(Some(&e));
                    self.gateway.settle_stashed(&self.ctx).await;
                    // Text held back before the failure is filtered as final and sent first.
                    if let Some(g) = &mut self.filter {
                        let rest = g.flush_all();
                        if !rest.is_empty() {
                            self.pending
                                .extend(rest.into_iter().map(|c| (CHUNK_EVENT.to_owned(), c)));
                            self.closed = true;
                            self.failed = Some(e);
                            continue;
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Reports every intervention in one `guardrail` event and stops reading upstream.
    fn end_of_guarded_stream(&mut self) {
        self.closed = true;
        if self.guardrail_intervened {
            self.report.push(
                Intervention::bedrock(GuardrailSource::Bedrock, self.guardrail_trace.take()),
                &self.ctx.request_id,
            );
        }
        if let Some(i) = self.filter.as_ref().and_then(StreamGuard::intervention) {
            self.report.push(i, &self.ctx.request_id);
        }
        if let Some(g) = self.report.to_json() {
            self.pending.push_back((GUARDRAIL_EVENT.to_owned(), g));
        }
    }

    /// Guardrail interventions so far.
    pub fn guardrail(&self) -> &GuardrailReport {
        &self.report
    }

    /// Whether a chunk carries generated content (not a start or ping frame).
    pub fn is_content(chunk: &Value) -> bool {
        carries_content(chunk)
    }

    fn observe(&mut self, chunk: &Value) {
        if self.first_token.is_none() && carries_content(chunk) {
            self.first_token = Some(self.started.elapsed());
        }
        let m = &self.resolved.model;
        let u = native::usage_from_body(&m.provider, &m.family, chunk);
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
            self.guardrail_intervened = true;
        }
        if let Some(t) = chunk.pointer("/amazon-bedrock-trace/guardrail") {
            self.guardrail_trace = Some(t.clone());
        }
    }

    /// Usage so far: Bedrock's invocation metrics once seen, else what the chunks reported.
    pub fn usage(&self) -> Option<Usage> {
        self.metrics_usage
            .or_else(|| (self.chunk_usage != Usage::default()).then_some(self.chunk_usage))
    }

    /// The closing event's payload: `{"model", "resolved", "max_tokens", "usage", "usage_known",
    /// "cost", "request_id", "fallback"?}`.
    pub fn summary(&self) -> Value {
        let usage = self.usage().unwrap_or_default();
        let cost = cost_of(
            &self.gateway.catalog,
            &self.resolved.model,
            self.resolved.pricing,
            &usage,
        );
        let mut v = json!({
            "model": self.resolved.target.id(),
            "resolved": serde_json::to_value(self.resolved.describe()).unwrap_or(Value::Null),
            "max_tokens": serde_json::to_value(self.max_tokens).unwrap_or(Value::Null),
            "usage": usage.to_bedrock_json(),
            "usage_known": self.usage().is_some(),
            "cost": cost.to_json(),
            "request_id": self.ctx.request_id,
        });
        if !self.fallback.is_empty() {
            v["fallback"] = serde_json::to_value(&self.fallback).unwrap_or(Value::Null);
        }
        if let Some(g) = self.report.to_json() {
            v["guardrail"] = g;
        }
        v
    }

    fn finish(&mut self, error: Option<&GatewayError>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let usage = self.usage().unwrap_or_default();
        let cost = cost_of(
            &self.gateway.catalog,
            &self.resolved.model,
            self.resolved.pricing,
            &usage,
        );
        let mut m = self
            .gateway
            .metrics(&self.ctx, OPERATION, self.resolved.model.id.as_str());
        m.latency = Some(self.started.elapsed());
        m.time_to_first_token = self.first_token;
        m.input_tokens = usage.input_tokens;
        m.output_tokens = usage.output_tokens;
        m.cache_read_tokens = usage.cache_read_tokens;
        m.cache_write_tokens = usage.cache_write_tokens();
        m.cost = Some(cost.total());
        m.fallbacks = self.fallback.len() as u64;
        self.report.record(&mut m);
        if self.guardrail_intervened && !m.guardrail_sources.contains(&"bedrock") {
            m.guardrail_interventions = 1;
            m.guardrail_sources.push("bedrock");
        }
        if let Some(e) = error {
            m.errors = 1;
            m.throttles = u64::from(matches!(e.error_type(), "throttled" | "quota_exceeded"));
            m.error_type = Some(e.error_type().to_owned());
        }
        m.emit(&self.gateway.config);
        self.gateway
            .stash_usage(&self.ctx, &self.resolved, self.usage());
    }
}

impl Drop for InvokeStreamCall {
    fn drop(&mut self) {
        if !self.finished {
            tracing::info!(request_id = %self.ctx.request_id, "stream dropped before the end");
            self.finish(None);
        }
        // Settles the caller's key for what was produced (`auth`).
        self.gateway.settle_stashed_later(&self.ctx);
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
}
