//! InvokeModelWithResponseStream: a native body in, the model's own JSON chunks out.
//!
//! Same resolution, allowlist, `maxTokens` policy, deployment guardrail, deadline and
//! fallback-before-first-byte as [`Gateway::invoke_native`]; same cancel-on-drop and
//! end-of-call accounting as [`ConverseStreamCall`](super::ConverseStreamCall).

use std::time::{Duration, Instant};

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ResponseStreamError;
use aws_sdk_bedrockruntime::types::{ResponseStream, Trace};
use bytes::Bytes;
use serde_json::{Value, json};

use super::Gateway;
use crate::catalog::{Capability, Mode};
use crate::config::GuardrailTrace;
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
    finished: bool,
}

impl Gateway {
    /// InvokeModelWithResponseStream with the model's native JSON body. Errors before the first
    /// chunk (including every fallback attempt) are returned here; later ones from `recv`.
    pub async fn invoke_stream(
        &self,
        model: &str,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<InvokeStreamCall, GatewayError> {
        let json: Value = serde_json::from_slice(&body)
            .map_err(|e| GatewayError::invalid_request(format!("body: not valid JSON: {e}")))?;
        if !json.is_object() {
            return Err(GatewayError::invalid_request("body: must be a JSON object"));
        }
        let started = Instant::now();
        let mut fallback = Vec::new();
        let mut last_err = None;
        let first_family = resolve(&self.catalog, &self.config, model)
            .ok()
            .map(|r| r.model.family);
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
                    .trace(Trace::from(match g.trace {
                        GuardrailTrace::Disabled => "DISABLED",
                        GuardrailTrace::Enabled => "ENABLED",
                        GuardrailTrace::EnabledFull => "ENABLED_FULL",
                    }));
            }
            let result = match self.timeout_override(ctx)? {
                Some(o) => call.customize().config_override(o).send().await,
                None => call.send().await,
            };
            match result {
                Ok(out) => {
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
                        finished: false,
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
    /// stream fails midway (send it as an `error` event, then stop).
    pub async fn recv(&mut self) -> Result<Option<Value>, GatewayError> {
        loop {
            match self.receiver.recv().await {
                Ok(Some(ResponseStream::Chunk(part))) => {
                    let bytes = part.bytes().map(Blob::as_ref).unwrap_or_default();
                    let chunk = serde_json::from_slice(bytes).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(bytes).into_owned())
                    });
                    self.observe(&chunk);
                    return Ok(Some(chunk));
                }
                // Event types newer than this SDK: skip.
                Ok(Some(_)) => continue,
                Ok(None) => {
                    self.finish(None);
                    return Ok(None);
                }
                Err(sdk) => {
                    let e = from_sdk_error(sdk);
                    self.finish(Some(&e));
                    return Err(e);
                }
            }
        }
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
        m.guardrail_interventions = u64::from(self.guardrail_intervened);
        if let Some(e) = error {
            m.errors = 1;
            m.throttles = u64::from(matches!(e.error_type(), "throttled" | "quota_exceeded"));
            m.error_type = Some(e.error_type().to_owned());
        }
        m.emit(&self.gateway.config);
    }
}

impl Drop for InvokeStreamCall {
    fn drop(&mut self) {
        if !self.finished {
            tracing::info!(request_id = %self.ctx.request_id, "stream dropped before the end");
            self.finish(None);
        }
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
