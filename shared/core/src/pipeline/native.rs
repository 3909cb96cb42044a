//! InvokeModel with the model's native JSON body, as a composition of the stages: the local
//! filter on the input (per the requested model's family), attempt (fallback within the
//! family), the answer's guardrails, the record and the settlement.

use std::time::Instant;

use aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelOutput;
use aws_sdk_bedrockruntime::primitives::Blob;
use bytes::Bytes;
use serde_json::Value;

use crate::auth::Actual;
use crate::context::CallContext;
use crate::cost::{Cost, Usage, cost_for};
use crate::error::{GatewayError, from_sdk_error};
use crate::family::Family;
use crate::guard::{self, GuardrailReport, Intervention, Source};
use crate::native;
use crate::policy::MaxTokens;
use crate::resilience::FallbackStep;
use crate::resolve::Resolved;

use super::Gateway;
use super::admit::NativePrepared;
use super::attempt::{Attempt, CallAttempt, Override, Refused, Sent};
use super::record::CallRecord;
use super::requested::Requested;
use super::token_headers::TokenHeaders;

const OPERATION: &str = "InvokeModel";

/// An InvokeModel or InvokeModelWithResponseStream fluent call for a prepared native body,
/// with the deployment's guardrail (the two SDK builders share these setters, not a trait).
macro_rules! native_call {
    ($gw:expr, $builder:expr, $p:expr) => {{
        let mut call = $builder
            .model_id($p.resolved.target.id())
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(serde_json::to_vec(&$p.body).unwrap_or_default()));
        if let Some(g) = &$gw.config.guardrail {
            call = call
                .guardrail_identifier(&g.id)
                .guardrail_version(&g.version)
                .trace(crate::client::invoke_model_trace(g.trace));
        }
        call
    }};
}
pub(crate) use native_call;

/// A native InvokeModel answer.
#[derive(Debug, Clone)]
pub struct NativeReply {
    /// The model's JSON body, untouched.
    pub body: Bytes,
    /// Its content type.
    pub content_type: String,
    /// Token usage read from the body.
    pub usage: Usage,
    /// What it cost.
    pub cost: Cost,
    /// What was called.
    pub model: crate::resolve::ResolvedView,
    /// The `maxTokens` applied (None for embeddings).
    pub max_tokens: Option<MaxTokens>,
    /// Abandoned attempts.
    pub fallback: Vec<FallbackStep>,
    /// Guardrail interventions (Bedrock's, the local filter's); empty when none.
    pub guardrail: GuardrailReport,
}

/// A native body parsed once, screened by the local filter for the requested model's family.
pub(crate) struct NativeRequest {
    pub(crate) json: Value,
    pub(crate) first: Option<Resolved>,
    pub(crate) report: GuardrailReport,
}

/// The InvokeModel candidates of one native request: fallback only within the requested
/// model's family, the family's `maxTokens` field, Bedrock's token headers kept.
pub(crate) type NativeAttempt<'a> = CallAttempt<'a, NativeRequest>;

impl NativeAttempt<'_> {
    /// Admits candidate `i`, for streaming or not.
    pub(crate) async fn admit_for(
        &self,
        i: usize,
        name: &str,
        streaming: bool,
    ) -> Result<NativePrepared, Refused> {
        let first = (self.req.first.as_ref(), self.ctx);
        self.gw
            .admit_native((i, name), &self.req.json, streaming, first)
            .await
    }
}

impl Attempt for NativeAttempt<'_> {
    type Candidate = NativePrepared;
    type Output = (InvokeModelOutput, TokenHeaders);
    const OPERATION: &'static str = OPERATION;

    async fn admit(&self, i: usize, name: &str) -> Result<NativePrepared, Refused> {
        self.admit_for(i, name, false).await
    }

    async fn send(
        &self,
        p: &NativePrepared,
        timeout: Option<Override>,
    ) -> Result<(InvokeModelOutput, TokenHeaders), GatewayError> {
        let call = native_call!(self.gw, self.gw.client.sdk().invoke_model(), p);
        // Bedrock's token-count headers, for families whose body has no usage.
        let counts = TokenHeaders::default();
        let mut call = call.customize().interceptor(counts.clone());
        if let Some(o) = timeout {
            call = call.config_override(o);
        }
        let out = call.send().await.map_err(from_sdk_error)?;
        Ok((out, counts))
    }
}

impl Gateway {
    /// InvokeModel with the model's native JSON body. `maxTokens` policy is applied in the
    /// family's own field; usage is read from the answer per family.
    pub async fn invoke_native<'a>(
        &self,
        model: impl Into<Requested<'a>>,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<NativeReply, GatewayError> {
        let result = self.invoke_native_call(model.into(), body, ctx).await;
        // A caller's key is settled with the reply's usage and cost (`auth`).
        let actual = result
            .as_ref()
            .ok()
            .map(|r| Actual::new(&r.model.id, &r.usage, &r.cost));
        self.settle_call(ctx, actual).await;
        result
    }

    /// Parses a native body and screens it with the local filter (per the requested model's
    /// family: fallback stays within it). The requested model is resolved here, once (unless
    /// the route did), and its admission reuses that resolution.
    pub(crate) fn native_request(
        &self,
        model: Requested<'_>,
        body: &[u8],
        ctx: &CallContext,
        operation: &str,
    ) -> Result<NativeRequest, GatewayError> {
        let mut json: Value = serde_json::from_slice(body)
            .map_err(|e| GatewayError::invalid_request(format!("body: not valid JSON: {e}")))?;
        if !json.is_object() {
            return Err(GatewayError::invalid_request("body: must be a JSON object"));
        }
        let first = self.resolve_or_reuse(model.name(), model.known()).ok();
        let mut report = GuardrailReport::default();
        if let Some(i) = self.screen_native_input(first.as_ref(), &mut json, ctx, operation)? {
            report.push(i, &ctx.request_id);
        }
        Ok(NativeRequest {
            json,
            first,
            report,
        })
    }

    /// [`Gateway::invoke_native`] before per-key settlement.
    async fn invoke_native_call(
        &self,
        model: Requested<'_>,
        body: Bytes,
        ctx: &CallContext,
    ) -> Result<NativeReply, GatewayError> {
        let started = Instant::now();
        self.learn_model(model.name()).await?;
        let req = self.native_request(model, &body, ctx, OPERATION)?;
        let attempt = CallAttempt::new(self, ctx, &req);
        let sent = self
            .try_candidates(ctx, model.name(), started, &attempt)
            .await?;
        Ok(self.native_answer(sent, req.report, ctx, started))
    }

    /// The answer of the candidate that was called: guardrails on the output, usage (from the
    /// body, or Bedrock's token headers), the record.
    fn native_answer(
        &self,
        sent: Sent<NativePrepared, (InvokeModelOutput, TokenHeaders)>,
        mut report: GuardrailReport,
        ctx: &CallContext,
        started: Instant,
    ) -> NativeReply {
        let Sent {
            candidate:
                NativePrepared {
                    resolved,
                    max_tokens,
                    ..
                },
            output: (out, counts),
            fallback,
        } = sent;
        let mut bytes = Bytes::from(out.body.into_inner());
        let mut parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if parsed
            .get("amazon-bedrock-guardrailAction")
            .and_then(Value::as_str)
            == Some("INTERVENED")
        {
            let trace = parsed.pointer("/amazon-bedrock-trace/guardrail").cloned();
            report.push(
                Intervention::bedrock(Source::Bedrock, trace),
                &ctx.request_id,
            );
        }
        if let Some(filter) = &self.filter
            && parsed.is_object()
        {
            let family = Family::for_model(&resolved.model);
            let before = parsed.clone();
            if let Some(i) = guard::screen_output(filter, &mut parsed, |v, f| {
                guard::native_output(family, v, f)
            }) {
                report.push(i, &ctx.request_id);
            }
            if parsed != before {
                bytes = Bytes::from(serde_json::to_vec(&parsed).unwrap_or_default());
            }
        }
        let m = &resolved.model;
        let usage = counts.or_headers(native::usage_from_body(m, &parsed));
        let cost = cost_for(&self.catalog(), &resolved, &usage);
        let mut record = CallRecord::new(OPERATION, m.id.as_str(), started, &report);
        record.usage = Some(&usage);
        record.cost = Some(&cost);
        record.fallbacks = fallback.len();
        self.record(ctx, record);
        NativeReply {
            body: bytes,
            content_type: out.content_type,
            usage,
            cost,
            model: resolved.describe(),
            max_tokens,
            fallback,
            guardrail: report,
        }
    }
}
