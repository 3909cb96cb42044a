//! Converse as a composition of the stages: admit (routing, input filter, guardrail plan,
//! cache), an optional caller guardrail on the input, attempt, then the answer's guardrails,
//! the record and the settlement.

use std::time::Instant;

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{GuardrailContentSource, StopReason};
use serde_json::{Value, json};

use crate::auth::Actual;
use crate::cache::{AnswerKind, CacheProbe};
use crate::call::{CallMeta, Prepared, Reply};
use crate::catalog::Capability;
use crate::context::CallContext;
use crate::convert::request::GuardrailSpec;
use crate::convert::{ConverseParts, converse_output_to_json, usage_from_sdk};
use crate::cost::{Usage, cost_for};
use crate::error::{GatewayError, from_sdk_error};
use crate::guard::{self, GuardrailReport, Intervention, Source, Stage};
use crate::resolve::Resolved;
use crate::telemetry::log_content;

use super::Gateway;
use super::attempt::{Attempt, CallAttempt, Override, Refused, Sent, send_within};
use super::record::CallRecord;
use super::requested::{CallBody, Known};

const OPERATION: &str = "Converse";

/// A Converse request after the admit stage's request-wide steps.
pub(crate) struct Admitted {
    pub(crate) body: Value,
    /// The model to try first (after routing).
    pub(crate) requested: String,
    pub(crate) parts: ConverseParts,
    /// A caller guardrail to run with ApplyGuardrail beside the deployment's.
    pub(crate) caller: Option<GuardrailSpec>,
    pub(crate) routing: Option<Value>,
    pub(crate) report: GuardrailReport,
    /// The route's resolution of `requested` (when it made one and routing kept the name).
    pub(crate) known: Option<Resolved>,
    pub(crate) cache: CacheProbe,
    /// When the call started (before the cache lookup).
    pub(crate) started: Instant,
}

/// The Converse candidates of one request: admitted with [`Gateway::admit_converse`] (the
/// requested model's preparation for the cache lookup reused), sent with Converse.
pub(crate) type ConverseAttempt<'a> = CallAttempt<'a, Admitted>;

impl ConverseAttempt<'_> {
    /// Admits candidate `i` for `capability`.
    pub(crate) async fn admit_for(
        &self,
        i: usize,
        name: &str,
        capability: Capability,
    ) -> Result<Prepared, Refused> {
        let first = if i == 0 {
            (self.req.cache.prepared(), self.req.known.as_ref())
        } else {
            (None, None)
        };
        let (parts, body) = (&self.req.parts, &self.req.body);
        self.gw
            .admit_converse(name, parts, capability, body, self.ctx, first)
            .await
    }
}

impl Attempt for ConverseAttempt<'_> {
    type Candidate = Prepared;
    type Output = ConverseOutput;
    const OPERATION: &'static str = OPERATION;

    async fn admit(&self, i: usize, name: &str) -> Result<Prepared, Refused> {
        self.admit_for(i, name, Capability::Converse).await
    }

    async fn send(
        &self,
        p: &Prepared,
        timeout: Option<Override>,
    ) -> Result<ConverseOutput, GatewayError> {
        let invoked = p.resolved.target.id();
        let sdk = self.gw.client.sdk();
        let call = p.parts.clone().apply(sdk.converse().model_id(&invoked));
        send_within!(call, timeout).map_err(from_sdk_error)
    }
}

impl Gateway {
    /// Converse: the body in Bedrock's JSON (plus `model`), the answer in Bedrock's JSON plus
    /// `model`, `resolved`, `max_tokens`, `cost`, `request_id`, `fallback` (when used) and
    /// `guardrail` (when a guardrail intervened). The local content filter screens the request
    /// first and the answer last; a caller guardrail (where allowed) runs on both sides.
    pub async fn converse(
        &self,
        request: impl Into<CallBody>,
        ctx: &CallContext,
    ) -> Result<Value, GatewayError> {
        self.converse_reply(request, ctx)
            .await
            .map(Reply::into_json)
    }

    /// [`Gateway::converse`] as a typed reply: the body and the gateway's [`CallMeta`].
    pub async fn converse_reply(
        &self,
        request: impl Into<CallBody>,
        ctx: &CallContext,
    ) -> Result<Reply, GatewayError> {
        let result = self.converse_call(request.into(), ctx).await;
        // A caller's key is settled from what the answer reports (`auth`).
        let actual = result
            .as_ref()
            .ok()
            .map(|r| Actual::new(&r.meta.resolved.id, &r.usage, &r.meta.cost));
        self.settle_call(ctx, actual).await;
        result
    }

    /// The request-wide part of admission shared by Converse and ConverseStream: routing, the
    /// local filter on the input, the request's parts, the guardrail plan and the cache lookup.
    pub(crate) async fn admit_request(
        &self,
        request: CallBody,
        ctx: &CallContext,
        stream: bool,
    ) -> Result<Admitted, GatewayError> {
        let CallBody { body, known } = request;
        let (operation, own_fields, kind): (_, &[&str], _) = if stream {
            ("ConverseStream", &["model", "stream"], AnswerKind::Stream)
        } else {
            (OPERATION, &["model"], AnswerKind::Converse)
        };
        let mut body = body;
        let requested = self.requested_model(&body)?;
        self.learn_model(&requested).await?;
        let (requested, routing) = self.route_auto(&mut body, requested, ctx, stream)?;
        // The route's resolution, or the router's for `model: "auto"`.
        let known = known
            .map(Known::into_resolved)
            .or_else(|| routing.as_ref().map(|d| d.resolved.clone()))
            .filter(|r| r.requested == requested);
        let mut report = GuardrailReport::default();
        if let Some(i) = self.screen_converse_input(&mut body, ctx, operation, known.as_ref())? {
            report.push(i, &ctx.request_id);
        }
        let parts = ConverseParts::from_json(&body, own_fields)?;
        let (_, caller) = self.guardrail_plan(parts.guardrail.as_ref())?;
        if stream && caller.is_some() {
            return Err(GatewayError::invalid_request(
                "guardrailConfig: a caller guardrail in addition to the deployment's is applied \
                 with ApplyGuardrail around the model call, which /v1/converse supports and \
                 streams do not; call /v1/converse, or stream without guardrailConfig",
            ));
        }
        log_content(&self.config, "prompt", &body);
        let started = Instant::now();
        let cache = self
            .cache_probe(
                kind,
                (&requested, known.as_ref()),
                &parts,
                caller.as_ref(),
                ctx,
            )
            .await?;
        Ok(Admitted {
            body,
            requested,
            parts,
            caller,
            routing: routing.map(|d| d.to_json()),
            report,
            known,
            cache,
            started,
        })
    }

    /// [`Gateway::converse_reply`] before per-key settlement.
    async fn converse_call(
        &self,
        request: CallBody,
        ctx: &CallContext,
    ) -> Result<Reply, GatewayError> {
        let mut a = self.admit_request(request, ctx, false).await?;
        let started = a.started;
        if let Some(mut reply) = self.cache_hit(&a.cache, ctx, started) {
            reply.meta.routing = a.routing;
            return Ok(reply);
        }
        if let Some(spec) = a.caller.clone()
            && let Some(reply) = self.caller_input(&spec, &mut a, ctx, started).await?
        {
            return Ok(reply);
        }
        let attempt = CallAttempt::new(self, ctx, &a);
        let sent = self
            .try_candidates(ctx, &a.requested, started, &attempt)
            .await?;
        self.converse_answer(sent, a, ctx, started).await
    }

    /// The answer of the candidate that was called: guardrails on the output, the record, the
    /// cache, the envelope.
    async fn converse_answer(
        &self,
        sent: Sent<Prepared, ConverseOutput>,
        mut a: Admitted,
        ctx: &CallContext,
        started: Instant,
    ) -> Result<Reply, GatewayError> {
        let Sent {
            candidate: prepared,
            output: out,
            fallback,
        } = sent;
        let resolved = &prepared.resolved;
        let usage = out.usage().map(usage_from_sdk).unwrap_or_default();
        let cost = cost_for(&self.catalog(), resolved, &usage);
        let mut v = converse_output_to_json(&out);
        if *out.stop_reason() == StopReason::GuardrailIntervened {
            let trace = v.pointer("/trace/guardrail").cloned();
            a.report.push(
                Intervention::bedrock(Source::Bedrock, trace),
                &ctx.request_id,
            );
        }
        if let Some(spec) = &a.caller {
            self.caller_output(spec, &mut v, &mut a.report, ctx).await?;
        }
        if let Some(filter) = &self.filter
            && let Some(i) = guard::screen_output(filter, &mut v, guard::converse_output)
        {
            if i.action == "blocked" {
                v["stopReason"] = json!("guardrail_intervened");
            }
            a.report.push(i, &ctx.request_id);
        }
        log_content(&self.config, "completion", &v["output"]);
        let model = resolved.model.id.as_str();
        let mut record = CallRecord::new(OPERATION, model, started, &a.report);
        record.usage = Some(&usage);
        record.cost = Some(&cost);
        record.fallbacks = fallback.len();
        record.cache = Some(&a.cache);
        self.record(ctx, record);
        let clean = a.report.is_empty() && fallback.is_empty();
        a.cache.store_converse(&v, &usage, &cost, clean).await;
        tracing::info!(request_id = %ctx.request_id, model = %resolved.target.id(), input_tokens = usage.input_tokens, output_tokens = usage.output_tokens, cost = %cost.total(), "converse");
        let mut meta = CallMeta::new(resolved, Some(prepared.max_tokens), cost, &ctx.request_id);
        meta.fallback = fallback;
        meta.cache = a.cache.outcome();
        meta.routing = a.routing;
        meta.guardrail = a.report.to_json();
        Ok(Reply {
            body: v,
            meta,
            usage,
        })
    }

    /// A caller guardrail on the input (ApplyGuardrail before the model): `Some` answer when it
    /// intervened, blocked as Bedrock answers a blocked input.
    async fn caller_input(
        &self,
        spec: &GuardrailSpec,
        a: &mut Admitted,
        ctx: &CallContext,
        started: Instant,
    ) -> Result<Option<Reply>, GatewayError> {
        let mut texts = Vec::new();
        guard::converse_input(&mut a.body, &mut |_, s| texts.push(s.clone()));
        let checked = self
            .apply_caller_guardrail(spec, GuardrailContentSource::Input, &texts, ctx)
            .await?;
        let Some((outputs, assessments)) = checked else {
            return Ok(None);
        };
        let prepared = match a.cache.prepared() {
            Some(p) => p.clone(),
            None => self.prepare_with(
                &a.requested,
                a.known.as_ref(),
                &a.parts,
                Capability::Converse,
                ctx.default_tier(),
            )?,
        };
        let mut i = Intervention::bedrock(Source::Caller, Some(assessments));
        i.stage = Some(Stage::Input);
        a.report.push(i, &ctx.request_id);
        let body = json!({
            "output": {"message": {"role": "assistant", "content": [{"text": outputs.concat()}]}},
            "stopReason": "guardrail_intervened",
            "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
            "metrics": {"latencyMs": started.elapsed().as_millis() as u64},
        });
        let resolved = &prepared.resolved;
        let usage = Usage::default();
        let cost = cost_for(&self.catalog(), resolved, &usage);
        let model = resolved.model.id.as_str();
        self.record(ctx, CallRecord::new(OPERATION, model, started, &a.report));
        let mut meta = CallMeta::new(resolved, Some(prepared.max_tokens), cost, &ctx.request_id);
        meta.guardrail = a.report.to_json();
        Ok(Some(Reply { body, meta, usage }))
    }
}
