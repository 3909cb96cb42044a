//! Bedrock CountTokens as a primitive: one model, one already-validated input, a token count.
//!
//! [`Gateway::count_tokens`] is the all-in-one JSON door; this is the piece a caller uses when it
//! decides for itself what to do around the call (several candidate models for one request, a
//! local estimate when Bedrock can't count or is throttled, its own response shape). The input is
//! parsed once and can be counted against several models.

use std::time::Instant;

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ConverseTokensRequest, CountTokensInput, InvokeModelTokensRequest,
};
use serde_json::Value;

use super::Gateway;
use super::attempt::send_within;
use super::requested::{CallBody, Known};
use crate::catalog::Capability;
use crate::catalog::ModelEntry;
use crate::context::CallContext;
use crate::convert::ConverseParts;
use crate::error::{GatewayError, from_sdk_error};
use crate::native;
use serde_json::json;

const OPERATION: &str = "CountTokens";

/// What CountTokens is asked to count: a Converse request or a native InvokeModel body.
#[derive(Debug, Clone)]
pub enum CountInput {
    /// A Converse request (messages, system, tools, additional fields).
    Converse(Box<ConverseParts>),
    /// A native InvokeModel body, as JSON bytes.
    Native(Vec<u8>),
}

impl CountInput {
    /// Validates a Converse-shaped body once (400 naming the path on a bad shape). `extra` names
    /// the caller's own top-level fields (`model`, ...), which are accepted and not sent.
    pub fn converse(body: &Value, extra: &[&str]) -> Result<CountInput, GatewayError> {
        ConverseParts::from_json(body, extra).map(|p| CountInput::Converse(Box::new(p)))
    }

    /// A native InvokeModel body of the model's family.
    pub fn native(body: &Value) -> Result<CountInput, GatewayError> {
        if !body.is_object() {
            return Err(GatewayError::invalid_request(
                "native: expected the model's InvokeModel body as a JSON object",
            ));
        }
        serde_json::to_vec(body)
            .map(CountInput::Native)
            .map_err(|e| GatewayError::invalid_request(format!("native: {e}")))
    }

    fn to_sdk(&self) -> Result<CountTokensInput, GatewayError> {
        Ok(match self {
            CountInput::Converse(p) => CountTokensInput::Converse(
                ConverseTokensRequest::builder()
                    .set_messages(Some(p.messages.clone()))
                    .set_system((!p.system.is_empty()).then(|| p.system.clone()))
                    .set_tool_config(p.tool_config.clone())
                    .set_additional_model_request_fields(p.additional_model_request_fields.clone())
                    .build(),
            ),
            CountInput::Native(bytes) => CountTokensInput::InvokeModel(
                InvokeModelTokensRequest::builder()
                    .body(Blob::new(bytes.clone()))
                    .build()
                    .map_err(|e| GatewayError::invalid_request(format!("native: {e}")))?,
            ),
        })
    }
}

impl Gateway {
    /// Input tokens of `input` for `model`, counted by Bedrock's CountTokens.
    ///
    /// Sends the bare foundation-model ID: CountTokens refuses inference-profile IDs, even for
    /// models that can only be *invoked* through a profile. Does not check the allowlist or the
    /// `count_tokens` capability (the caller resolved the model and chose to count it), and does
    /// not retry beyond the SDK's own attempts. Errors are mapped as for every Bedrock call; one
    /// EMF record is written per call.
    pub async fn count_input_tokens(
        &self,
        model: &ModelEntry,
        input: &CountInput,
        ctx: &CallContext,
    ) -> Result<u64, GatewayError> {
        let started = Instant::now();
        let model_id = model.id.as_str();
        let call = self
            .client
            .sdk()
            .count_tokens()
            .model_id(model_id)
            .input(input.to_sdk()?);
        let timeout = self.timeout_override(ctx)?;
        let result = send_within!(call, timeout);
        match result {
            Ok(out) => {
                let tokens = u64::try_from(out.input_tokens()).unwrap_or(0);
                let mut m = self.metrics(ctx, OPERATION, model_id);
                m.latency = Some(started.elapsed());
                m.input_tokens = tokens;
                m.emit(&self.config);
                Ok(tokens)
            }
            Err(sdk) => {
                let e = from_sdk_error(sdk);
                self.record_failure(ctx, OPERATION, model_id, started, &e, 0);
                Err(e)
            }
        }
    }
}

impl Gateway {
    /// CountTokens. Body: `{"model", "messages", "system"}` (Converse form) or
    /// `{"model", "body": {...native...}}`. Answers `{"inputTokens", "model", "context_window",
    /// "estimate"}`; the estimate prices the counted input plus the `maxTokens` the call would
    /// send (the worst case). CountTokens takes the bare model ID, never a profile.
    pub async fn count_tokens(
        &self,
        request: impl Into<CallBody>,
        ctx: &CallContext,
    ) -> Result<Value, GatewayError> {
        let CallBody { body, known } = request.into();
        let requested = self.requested_model(&body)?;
        self.learn_model(&requested).await?;
        let resolved = self.resolve_or_reuse(&requested, known.as_ref().map(Known::resolved))?;
        self.check_resolved(&resolved, Capability::CountTokens)?;
        self.check_sources(&body)?;
        let started = Instant::now();
        let (input, expected_max) = if let Some(native_body) = body.get("body") {
            let bytes = serde_json::to_vec(native_body).unwrap_or_default();
            let req = InvokeModelTokensRequest::builder()
                .body(Blob::new(bytes))
                .build()
                .map_err(|e| GatewayError::invalid_request(format!("body: {e}")))?;
            let requested_max = native::max_tokens_pointer(&resolved.model)
                .and_then(|p| native_body.pointer(p))
                .and_then(Value::as_i64);
            (CountTokensInput::InvokeModel(req), requested_max)
        } else {
            let parts = ConverseParts::from_json(
                &body,
                &[
                    "model",
                    "inferenceConfig",
                    "toolConfig",
                    "additionalModelRequestFields",
                ],
            )?;
            let max = parts.max_tokens();
            let req = ConverseTokensRequest::builder()
                .set_messages(Some(parts.messages))
                .set_system((!parts.system.is_empty()).then_some(parts.system))
                .build();
            (CountTokensInput::Converse(req), max)
        };
        let max_tokens = self.policy.max_tokens(&resolved.model, expected_max)?;
        let call = self
            .client
            .sdk()
            .count_tokens()
            .model_id(resolved.model.id.as_str())
            .input(input);
        let timeout = self.timeout_override(ctx)?;
        let result = send_within!(call, timeout);
        let out = result.map_err(|sdk| {
            let e = from_sdk_error(sdk);
            self.record_failure(
                ctx,
                "CountTokens",
                resolved.model.id.as_str(),
                started,
                &e,
                0,
            );
            e
        })?;
        let input_tokens = u64::try_from(out.input_tokens()).unwrap_or(0);
        let estimate = crate::cost::estimate(
            &self.catalog(),
            &resolved.model,
            resolved.pricing,
            input_tokens,
            u64::from(max_tokens.value),
        );
        let mut m = self.metrics(ctx, "CountTokens", resolved.model.id.as_str());
        m.latency = Some(started.elapsed());
        m.input_tokens = input_tokens;
        m.emit(&self.config);
        Ok(json!({
            "inputTokens": input_tokens,
            "model": resolved.target.id(),
            "resolved": resolved.describe(),
            "context_window": {
                "max_input_tokens": resolved.model.max_input_tokens,
                "fits": input_tokens + u64::from(max_tokens.value) <= resolved.model.max_input_tokens,
            },
            "max_tokens": max_tokens,
            "estimate": estimate.to_json(),
            "request_id": ctx.request_id,
        }))
    }
}
