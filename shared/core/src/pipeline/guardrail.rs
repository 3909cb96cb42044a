//! Guardrails called as their own operation (ApplyGuardrail): the deployment's guardrail on
//! demand (`/v1/guardrail/check`), and a caller's guardrail around a Converse call.

use std::time::Instant;

use aws_sdk_bedrockruntime::types::{
    GuardrailContentBlock, GuardrailContentQualifier, GuardrailContentSource, GuardrailTextBlock,
};
use serde_json::{Map, Value, json};

use crate::auth::Actual;
use crate::context::CallContext;
use crate::convert::request::GuardrailSpec;
use crate::convert::response::guardrail_assessment_to_json;
use crate::error::{GatewayError, from_sdk_error};
use crate::guard::{
    GuardrailReport, Intervention, Source as GuardrailSource, Stage as GuardrailStage,
};

use super::Gateway;
use super::attempt::send_within;

impl Gateway {
    /// Runs a caller guardrail with ApplyGuardrail over `texts`; `Some((outputs, assessments))`
    /// when it intervened.
    pub(super) async fn apply_caller_guardrail(
        &self,
        spec: &GuardrailSpec,
        source: GuardrailContentSource,
        texts: &[String],
        ctx: &CallContext,
    ) -> Result<Option<(Vec<String>, Value)>, GatewayError> {
        if texts.iter().all(|t| t.is_empty()) {
            return Ok(None);
        }
        let blocks = texts
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| {
                GuardrailTextBlock::builder()
                    .text(t)
                    .build()
                    .map(GuardrailContentBlock::Text)
                    .map_err(|e| GatewayError::internal(format!("guardrail content: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let started = Instant::now();
        let out = self
            .send_apply_guardrail(
                &spec.identifier,
                &spec.version,
                source,
                blocks,
                started,
                ctx,
            )
            .await?;
        let intervened = out.action().as_str() == "GUARDRAIL_INTERVENED";
        let mut m = self.metrics(ctx, "ApplyGuardrail", "guardrail");
        m.latency = Some(started.elapsed());
        m.emit(&self.config);
        if !intervened {
            return Ok(None);
        }
        let outputs = out
            .outputs()
            .iter()
            .filter_map(|o| o.text().map(str::to_owned))
            .collect();
        let assessments = Value::Array(
            out.assessments()
                .iter()
                .map(guardrail_assessment_to_json)
                .collect(),
        );
        Ok(Some((outputs, assessments)))
    }

    /// A caller guardrail on a Converse answer's text blocks: on intervention they are replaced
    /// by the guardrail's outputs and the stop reason becomes `guardrail_intervened`.
    pub(super) async fn caller_output(
        &self,
        spec: &GuardrailSpec,
        v: &mut Value,
        report: &mut GuardrailReport,
        ctx: &CallContext,
    ) -> Result<(), GatewayError> {
        let texts: Vec<String> = v
            .pointer("/output/message/content")
            .and_then(Value::as_array)
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b.get("text").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let checked = self
            .apply_caller_guardrail(spec, GuardrailContentSource::Output, &texts, ctx)
            .await?;
        let Some((outputs, assessments)) = checked else {
            return Ok(());
        };
        if let Some(Value::Array(blocks)) = v.pointer_mut("/output/message/content") {
            blocks.retain(|b| b.get("text").is_none());
            blocks.insert(0, json!({"text": outputs.concat()}));
        }
        v["stopReason"] = json!("guardrail_intervened");
        let mut i = Intervention::bedrock(GuardrailSource::Caller, Some(assessments));
        i.stage = Some(GuardrailStage::Output);
        report.push(i, &ctx.request_id);
        Ok(())
    }

    /// ApplyGuardrail with the deployment's guardrail. Body: `{"source": "INPUT"|"OUTPUT",
    /// "content": [{"text": {"text", "qualifiers"?}}], "outputScope"?}`.
    pub async fn apply_guardrail(
        &self,
        body: Value,
        ctx: &CallContext,
    ) -> Result<Value, GatewayError> {
        let g = self.config.guardrail.as_ref().ok_or_else(|| {
            GatewayError::invalid_request("this deployment has no guardrail (GATEWAY_GUARDRAIL_ID)")
        })?;
        let source = match body.get("source").and_then(Value::as_str) {
            Some("INPUT") | None => GuardrailContentSource::Input,
            Some("OUTPUT") => GuardrailContentSource::Output,
            Some(other) => {
                return Err(GatewayError::invalid_request(format!(
                    "source: {other:?} is not INPUT or OUTPUT"
                )));
            }
        };
        let content = body
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| GatewayError::invalid_request("content: required array"))?;
        let mut blocks = Vec::new();
        for (i, c) in content.iter().enumerate() {
            let t = c
                .pointer("/text/text")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    GatewayError::invalid_request(format!(
                        "content[{i}]: expected {{\"text\": {{\"text\": ...}}}}"
                    ))
                })?;
            let mut b = GuardrailTextBlock::builder().text(t);
            if let Some(q) = c.pointer("/text/qualifiers").and_then(Value::as_array) {
                for x in q.iter().filter_map(Value::as_str) {
                    b = b.qualifiers(GuardrailContentQualifier::from(x));
                }
            }
            blocks.push(GuardrailContentBlock::Text(b.build().map_err(|e| {
                GatewayError::invalid_request(format!("content[{i}]: {e}"))
            })?));
        }
        let started = Instant::now();
        let out = self
            .send_apply_guardrail(&g.id, &g.version, source, blocks, started, ctx)
            .await?;
        let intervened = out.action().as_str() == "GUARDRAIL_INTERVENED";
        let mut m = self.metrics(ctx, "ApplyGuardrail", "guardrail");
        m.latency = Some(started.elapsed());
        m.guardrail_interventions = u64::from(intervened);
        m.emit(&self.config);
        let mut v = Map::new();
        v.insert("action".into(), json!(out.action().as_str()));
        if let Some(r) = out.action_reason() {
            v.insert("actionReason".into(), json!(r));
        }
        v.insert(
            "outputs".into(),
            json!(
                out.outputs()
                    .iter()
                    .map(|o| json!({"text": o.text()}))
                    .collect::<Vec<_>>()
            ),
        );
        if let Some(u) = out.usage() {
            v.insert("usage".into(), json!({
                "topicPolicyUnits": u.topic_policy_units(),
                "contentPolicyUnits": u.content_policy_units(),
                "wordPolicyUnits": u.word_policy_units(),
                "sensitiveInformationPolicyUnits": u.sensitive_information_policy_units(),
                "sensitiveInformationPolicyFreeUnits": u.sensitive_information_policy_free_units(),
                "contextualGroundingPolicyUnits": u.contextual_grounding_policy_units(),
            }));
        }
        v.insert(
            "cost".into(),
            json!({"total": guardrail_cost_of(&out).to_string(), "currency": "USD"}),
        );
        v.insert("request_id".into(), json!(ctx.request_id));
        Ok(Value::Object(v))
    }

    /// One ApplyGuardrail call with the request's deadline; a failure is recorded in the metrics
    /// (from `started`) and mapped to a gateway error. Callers add their own success metrics.
    async fn send_apply_guardrail(
        &self,
        identifier: &str,
        version: &str,
        source: aws_sdk_bedrockruntime::types::GuardrailContentSource,
        blocks: Vec<aws_sdk_bedrockruntime::types::GuardrailContentBlock>,
        started: Instant,
        ctx: &CallContext,
    ) -> Result<
        aws_sdk_bedrockruntime::operation::apply_guardrail::ApplyGuardrailOutput,
        GatewayError,
    > {
        // Guardrail policies are billed per text unit: the caller's budget reserves the most
        // this call can cost and is settled with what Bedrock reports.
        let units = crate::cost::guardrail_text_units(blocks.iter().filter_map(|b| match b {
            aws_sdk_bedrockruntime::types::GuardrailContentBlock::Text(t) => Some(t.text()),
            _ => None,
        }));
        let caller = ctx.caller.as_ref();
        let reservation =
            crate::auth::admit_side_call(caller, crate::cost::guardrail_bound(units)).await?;
        let call = self
            .client
            .sdk()
            .apply_guardrail()
            .guardrail_identifier(identifier)
            .guardrail_version(version)
            .source(source)
            .set_content(Some(blocks));
        let timeout = self.timeout_override(ctx)?;
        let out = send_within!(call, timeout).map_err(|sdk| {
            let e = from_sdk_error(sdk);
            self.record_failure(ctx, "ApplyGuardrail", "guardrail", started, &e, 0);
            e
        });
        let actual = out.as_ref().ok().map(|o| Actual {
            model: GUARDRAIL_USAGE_MODEL.to_owned(),
            input_tokens: 0,
            output_tokens: 0,
            cache_tokens: 0,
            cost: guardrail_cost_of(o),
        });
        crate::auth::settle_side_call(caller, reservation, actual).await;
        out
    }
}

/// The usage report's "model" for ApplyGuardrail charges.
pub const GUARDRAIL_USAGE_MODEL: &str = "guardrail";

/// What an ApplyGuardrail answer says it was billed for, priced.
pub(crate) fn guardrail_cost_of(
    out: &aws_sdk_bedrockruntime::operation::apply_guardrail::ApplyGuardrailOutput,
) -> rust_decimal::Decimal {
    let u = out.usage().map(|u| crate::cost::GuardrailUnits {
        content: u64::try_from(u.content_policy_units()).unwrap_or(0),
        topic: u64::try_from(u.topic_policy_units()).unwrap_or(0),
        sensitive: u64::try_from(u.sensitive_information_policy_units()).unwrap_or(0),
        grounding: u64::try_from(u.contextual_grounding_policy_units()).unwrap_or(0),
    });
    u.as_ref()
        .map(crate::cost::guardrail_cost)
        .unwrap_or_default()
}
