//! Converse output (SDK) -> the JSON boto3 users know, and usage -> [`Usage`] for cost.

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    CacheTtl, ConverseOutput as OutputUnion, GuardrailAssessment, GuardrailCoverage,
    GuardrailTraceAssessment, GuardrailUsage, PerformanceConfiguration, PromptRouterTrace,
    ServiceTier, TokenUsage,
};
use serde_json::{Map, Value, json};

use super::blocks::message_to_json;
use super::document_to_json;
use crate::cost::Usage;

fn non_negative(n: i32) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// SDK token usage -> priced usage. Cache writes are split by TTL from `cacheDetails` when Bedrock
/// reports it; writes not attributed to a TTL are the default 5-minute ones.
pub fn usage_from_sdk(u: &TokenUsage) -> Usage {
    let writes = non_negative(u.cache_write_input_tokens().unwrap_or(0));
    let one_hour: u64 = u
        .cache_details()
        .iter()
        .filter(|d| *d.ttl() == CacheTtl::OneHour)
        .map(|d| non_negative(d.input_tokens()))
        .sum::<u64>()
        .min(writes);
    Usage {
        input_tokens: non_negative(u.input_tokens()),
        output_tokens: non_negative(u.output_tokens()),
        cache_read_tokens: non_negative(u.cache_read_input_tokens().unwrap_or(0)),
        cache_write_5m_tokens: writes - one_hour,
        cache_write_1h_tokens: one_hour,
    }
}

/// SDK usage -> Bedrock's `usage` JSON.
pub fn usage_to_json(u: &TokenUsage) -> Value {
    let mut o = Map::new();
    o.insert("inputTokens".into(), json!(u.input_tokens()));
    o.insert("outputTokens".into(), json!(u.output_tokens()));
    o.insert("totalTokens".into(), json!(u.total_tokens()));
    if let Some(n) = u.cache_read_input_tokens() {
        o.insert("cacheReadInputTokens".into(), json!(n));
    }
    if let Some(n) = u.cache_write_input_tokens() {
        o.insert("cacheWriteInputTokens".into(), json!(n));
    }
    if !u.cache_details().is_empty() {
        o.insert(
            "cacheDetails".into(),
            Value::Array(
                u.cache_details()
                    .iter()
                    .map(|d| json!({"ttl": d.ttl().as_str(), "inputTokens": d.input_tokens()}))
                    .collect(),
            ),
        );
    }
    Value::Object(o)
}

/// Guardrail trace -> Bedrock's JSON: `modelOutput`, `actionReason`, `inputAssessment`
/// (guardrail ID -> assessment) and `outputAssessments` (guardrail ID -> list of assessments),
/// each assessment in full (see [`guardrail_assessment_to_json`]). Map keys are sorted.
pub fn guardrail_trace_to_json(g: &GuardrailTraceAssessment) -> Value {
    let mut o = Map::new();
    if !g.model_output().is_empty() {
        o.insert("modelOutput".into(), json!(g.model_output()));
    }
    if let Some(r) = g.action_reason() {
        o.insert("actionReason".into(), json!(r));
    }
    if let Some(input) = &g.input_assessment {
        let mut keys: Vec<&String> = input.keys().collect();
        keys.sort();
        let m: Map<String, Value> = keys
            .into_iter()
            .map(|k| (k.clone(), guardrail_assessment_to_json(&input[k])))
            .collect();
        o.insert("inputAssessment".into(), Value::Object(m));
    }
    if let Some(out) = &g.output_assessments {
        let mut keys: Vec<&String> = out.keys().collect();
        keys.sort();
        let m: Map<String, Value> = keys
            .into_iter()
            .map(|k| {
                let list = out[k].iter().map(guardrail_assessment_to_json).collect();
                (k.clone(), Value::Array(list))
            })
            .collect();
        o.insert("outputAssessments".into(), Value::Object(m));
    }
    Value::Object(o)
}

/// Inserts `key: value` when `value` is present.
fn put_opt<T: Into<Value>>(o: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        o.insert(key.into(), v.into());
    }
}

/// One `GuardrailAssessment` as Bedrock's JSON (the shapes of `bedrock-wire.md`): every
/// policy present (`topicPolicy`, `contentPolicy`, `wordPolicy`, `sensitiveInformationPolicy`,
/// `contextualGroundingPolicy`, `automatedReasoningPolicy`), `invocationMetrics` and
/// `appliedGuardrailDetails`. Automated-reasoning findings are given by kind only
/// (`[{"valid": {}}]`): their logic translations are not carried.
pub fn guardrail_assessment_to_json(a: &GuardrailAssessment) -> Value {
    let mut o = Map::new();
    put_opt(
        &mut o,
        "topicPolicy",
        a.topic_policy().map(topic_policy_json),
    );
    put_opt(
        &mut o,
        "contentPolicy",
        a.content_policy().map(content_policy_json),
    );
    put_opt(&mut o, "wordPolicy", a.word_policy().map(word_policy_json));
    put_opt(
        &mut o,
        "sensitiveInformationPolicy",
        a.sensitive_information_policy()
            .map(sensitive_information_json),
    );
    put_opt(
        &mut o,
        "contextualGroundingPolicy",
        a.contextual_grounding_policy()
            .map(contextual_grounding_json),
    );
    put_opt(
        &mut o,
        "automatedReasoningPolicy",
        a.automated_reasoning_policy().map(automated_reasoning_json),
    );
    put_opt(
        &mut o,
        "invocationMetrics",
        a.invocation_metrics().map(invocation_metrics_json),
    );
    put_opt(
        &mut o,
        "appliedGuardrailDetails",
        a.applied_guardrail_details().map(applied_details_json),
    );
    Value::Object(o)
}

/// `topicPolicy`: the topics matched.
fn topic_policy_json(p: &aws_sdk_bedrockruntime::types::GuardrailTopicPolicyAssessment) -> Value {
    let topics: Vec<Value> = p
        .topics()
        .iter()
        .map(|t| {
            let mut x = Map::new();
            x.insert("name".into(), json!(t.name()));
            x.insert("type".into(), json!(t.r#type().as_str()));
            x.insert("action".into(), json!(t.action().as_str()));
            put_opt(&mut x, "detected", t.detected());
            Value::Object(x)
        })
        .collect();
    json!({"topics": topics})
}

/// `contentPolicy`: the content filters.
fn content_policy_json(
    p: &aws_sdk_bedrockruntime::types::GuardrailContentPolicyAssessment,
) -> Value {
    let filters: Vec<Value> = p
        .filters()
        .iter()
        .map(|f| {
            let mut x = Map::new();
            x.insert("type".into(), json!(f.r#type().as_str()));
            x.insert("confidence".into(), json!(f.confidence().as_str()));
            put_opt(
                &mut x,
                "filterStrength",
                f.filter_strength().map(|s| s.as_str().to_owned()),
            );
            x.insert("action".into(), json!(f.action().as_str()));
            put_opt(&mut x, "detected", f.detected());
            Value::Object(x)
        })
        .collect();
    json!({"filters": filters})
}

/// `wordPolicy`: custom words and managed word lists.
fn word_policy_json(p: &aws_sdk_bedrockruntime::types::GuardrailWordPolicyAssessment) -> Value {
    let custom: Vec<Value> = p
        .custom_words()
        .iter()
        .map(|w| {
            let mut x = Map::new();
            x.insert("match".into(), json!(w.r#match()));
            x.insert("action".into(), json!(w.action().as_str()));
            put_opt(&mut x, "detected", w.detected());
            Value::Object(x)
        })
        .collect();
    let managed: Vec<Value> = p
        .managed_word_lists()
        .iter()
        .map(|w| {
            let mut x = Map::new();
            x.insert("match".into(), json!(w.r#match()));
            x.insert("type".into(), json!(w.r#type().as_str()));
            x.insert("action".into(), json!(w.action().as_str()));
            put_opt(&mut x, "detected", w.detected());
            Value::Object(x)
        })
        .collect();
    json!({"customWords": custom, "managedWordLists": managed})
}

/// `sensitiveInformationPolicy`: PII entities and regexes.
fn sensitive_information_json(
    p: &aws_sdk_bedrockruntime::types::GuardrailSensitiveInformationPolicyAssessment,
) -> Value {
    let pii: Vec<Value> = p
        .pii_entities()
        .iter()
        .map(|e| {
            let mut x = Map::new();
            x.insert("match".into(), json!(e.r#match()));
            x.insert("type".into(), json!(e.r#type().as_str()));
            x.insert("action".into(), json!(e.action().as_str()));
            put_opt(&mut x, "detected", e.detected());
            Value::Object(x)
        })
        .collect();
    let regexes: Vec<Value> = p
        .regexes()
        .iter()
        .map(|r| {
            let mut x = Map::new();
            put_opt(&mut x, "name", r.name());
            put_opt(&mut x, "match", r.r#match());
            put_opt(&mut x, "regex", r.regex());
            x.insert("action".into(), json!(r.action().as_str()));
            put_opt(&mut x, "detected", r.detected());
            Value::Object(x)
        })
        .collect();
    json!({"piiEntities": pii, "regexes": regexes})
}

/// `contextualGroundingPolicy`: the grounding filters.
fn contextual_grounding_json(
    p: &aws_sdk_bedrockruntime::types::GuardrailContextualGroundingPolicyAssessment,
) -> Value {
    let filters: Vec<Value> = p
        .filters()
        .iter()
        .map(|f| {
            let mut x = Map::new();
            x.insert("type".into(), json!(f.r#type().as_str()));
            x.insert("threshold".into(), json!(f.threshold()));
            x.insert("score".into(), json!(f.score()));
            x.insert("action".into(), json!(f.action().as_str()));
            put_opt(&mut x, "detected", f.detected());
            Value::Object(x)
        })
        .collect();
    json!({"filters": filters})
}

/// `automatedReasoningPolicy`: the findings, by kind only.
fn automated_reasoning_json(
    p: &aws_sdk_bedrockruntime::types::GuardrailAutomatedReasoningPolicyAssessment,
) -> Value {
    use aws_sdk_bedrockruntime::types::GuardrailAutomatedReasoningFinding as F;
    let findings: Vec<Value> = p
        .findings()
        .iter()
        .map(|f| {
            let kind = match f {
                F::Valid(_) => "valid",
                F::Invalid(_) => "invalid",
                F::Satisfiable(_) => "satisfiable",
                F::Impossible(_) => "impossible",
                F::TranslationAmbiguous(_) => "translationAmbiguous",
                F::TooComplex(_) => "tooComplex",
                F::NoTranslations(_) => "noTranslations",
                _ => "unknown",
            };
            json!({ kind: {} })
        })
        .collect();
    json!({"findings": findings})
}

/// `invocationMetrics`: latency, usage and coverage.
fn invocation_metrics_json(m: &aws_sdk_bedrockruntime::types::GuardrailInvocationMetrics) -> Value {
    let mut x = Map::new();
    put_opt(
        &mut x,
        "guardrailProcessingLatency",
        m.guardrail_processing_latency(),
    );
    if let Some(u) = m.usage() {
        x.insert("usage".into(), guardrail_usage_to_json(u));
    }
    if let Some(c) = m.guardrail_coverage() {
        x.insert("guardrailCoverage".into(), guardrail_coverage_to_json(c));
    }
    Value::Object(x)
}

/// `appliedGuardrailDetails`: which guardrail ran.
fn applied_details_json(d: &aws_sdk_bedrockruntime::types::AppliedGuardrailDetails) -> Value {
    let mut x = Map::new();
    put_opt(&mut x, "guardrailId", d.guardrail_id());
    put_opt(&mut x, "guardrailVersion", d.guardrail_version());
    put_opt(&mut x, "guardrailArn", d.guardrail_arn());
    if !d.guardrail_origin().is_empty() {
        x.insert(
            "guardrailOrigin".into(),
            json!(
                d.guardrail_origin()
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
            ),
        );
    }
    put_opt(
        &mut x,
        "guardrailOwnership",
        d.guardrail_ownership().map(|g| g.as_str().to_owned()),
    );
    Value::Object(x)
}

/// `GuardrailUsage` as Bedrock's JSON.
pub fn guardrail_usage_to_json(u: &GuardrailUsage) -> Value {
    let mut x = Map::new();
    x.insert("topicPolicyUnits".into(), json!(u.topic_policy_units()));
    x.insert("contentPolicyUnits".into(), json!(u.content_policy_units()));
    x.insert("wordPolicyUnits".into(), json!(u.word_policy_units()));
    x.insert(
        "sensitiveInformationPolicyUnits".into(),
        json!(u.sensitive_information_policy_units()),
    );
    x.insert(
        "sensitiveInformationPolicyFreeUnits".into(),
        json!(u.sensitive_information_policy_free_units()),
    );
    x.insert(
        "contextualGroundingPolicyUnits".into(),
        json!(u.contextual_grounding_policy_units()),
    );
    put_opt(
        &mut x,
        "contentPolicyImageUnits",
        u.content_policy_image_units(),
    );
    put_opt(
        &mut x,
        "automatedReasoningPolicyUnits",
        u.automated_reasoning_policy_units(),
    );
    put_opt(
        &mut x,
        "automatedReasoningPolicies",
        u.automated_reasoning_policies(),
    );
    Value::Object(x)
}

fn guardrail_coverage_to_json(c: &GuardrailCoverage) -> Value {
    let mut x = Map::new();
    if let Some(t) = c.text_characters() {
        let mut y = Map::new();
        put_opt(&mut y, "guarded", t.guarded());
        put_opt(&mut y, "total", t.total());
        x.insert("textCharacters".into(), Value::Object(y));
    }
    if let Some(i) = c.images() {
        let mut y = Map::new();
        put_opt(&mut y, "guarded", i.guarded());
        put_opt(&mut y, "total", i.total());
        x.insert("images".into(), Value::Object(y));
    }
    Value::Object(x)
}

pub(crate) fn trace_to_json(
    guardrail: Option<&GuardrailTraceAssessment>,
    router: Option<&PromptRouterTrace>,
) -> Value {
    let mut o = Map::new();
    if let Some(g) = guardrail {
        o.insert("guardrail".into(), guardrail_trace_to_json(g));
    }
    if let Some(r) = router {
        o.insert(
            "promptRouter".into(),
            json!({"invokedModelId": r.invoked_model_id()}),
        );
    }
    Value::Object(o)
}

pub(crate) fn performance_to_json(p: &PerformanceConfiguration) -> Value {
    json!({"latency": p.latency().as_str()})
}

pub(crate) fn service_tier_to_json(t: &ServiceTier) -> Value {
    json!({"type": t.r#type().as_str()})
}

/// A Converse response as Bedrock's JSON: `output`, `stopReason`, `usage`, `metrics`, and
/// `additionalModelResponseFields`, `trace`, `performanceConfig`, `serviceTier` when present.
pub fn converse_output_to_json(out: &ConverseOutput) -> Value {
    let mut o = Map::new();
    let output = match out.output() {
        Some(OutputUnion::Message(m)) => json!({"message": message_to_json(m)}),
        _ => json!({}),
    };
    o.insert("output".into(), output);
    o.insert("stopReason".into(), json!(out.stop_reason().as_str()));
    if let Some(u) = out.usage() {
        o.insert("usage".into(), usage_to_json(u));
    }
    if let Some(m) = out.metrics() {
        o.insert("metrics".into(), json!({"latencyMs": m.latency_ms()}));
    }
    if let Some(d) = out.additional_model_response_fields() {
        o.insert("additionalModelResponseFields".into(), document_to_json(d));
    }
    if let Some(t) = out.trace() {
        o.insert(
            "trace".into(),
            trace_to_json(t.guardrail(), t.prompt_router()),
        );
    }
    if let Some(p) = out.performance_config() {
        o.insert("performanceConfig".into(), performance_to_json(p));
    }
    if let Some(t) = out.service_tier() {
        o.insert("serviceTier".into(), service_tier_to_json(t));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ConverseParts;
    use aws_sdk_bedrockruntime::types::{CacheDetail, ConverseMetrics, StopReason};

    fn usage(cache_write: i32, one_hour: i32) -> TokenUsage {
        let mut b = TokenUsage::builder()
            .input_tokens(10)
            .output_tokens(20)
            .total_tokens(30 + cache_write)
            .cache_read_input_tokens(0)
            .cache_write_input_tokens(cache_write);
        if one_hour > 0 {
            b = b.cache_details(
                CacheDetail::builder()
                    .ttl(CacheTtl::OneHour)
                    .input_tokens(one_hour)
                    .build()
                    .unwrap(),
            );
        }
        b.build().unwrap()
    }

    #[test]
    fn usage_splits_cache_writes_by_ttl() {
        assert_eq!(
            usage_from_sdk(&usage(100, 0)),
            Usage {
                input_tokens: 10,
                output_tokens: 20,
                cache_read_tokens: 0,
                cache_write_5m_tokens: 100,
                cache_write_1h_tokens: 0
            }
        );
        assert_eq!(usage_from_sdk(&usage(100, 60)).cache_write_1h_tokens, 60);
        assert_eq!(usage_from_sdk(&usage(100, 60)).cache_write_5m_tokens, 40);
        // Inconsistent details never produce more 1h tokens than writes.
        assert_eq!(usage_from_sdk(&usage(10, 60)).cache_write_1h_tokens, 10);
    }

    #[test]
    fn response_round_trips_through_the_sdk() {
        // The assistant message of a response, with every block kind a model returns.
        let message = json!({"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
            {"text": "answer"},
            {"toolUse": {"toolUseId": "t", "name": "f", "input": {"x": 1}}},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
        ]});
        let parts = ConverseParts::from_json(&json!({"messages": [message.clone()]}), &[]).unwrap();
        let out = ConverseOutput::builder()
            .output(OutputUnion::Message(parts.messages[0].clone()))
            .stop_reason(StopReason::ToolUse)
            .usage(usage(5, 0))
            .metrics(ConverseMetrics::builder().latency_ms(42).build().unwrap())
            .additional_model_response_fields(crate::convert::json_to_document(
                &json!({"stop_sequence": null}),
            ))
            .build()
            .unwrap();
        let v = converse_output_to_json(&out);
        assert_eq!(
            v,
            json!({
                "output": {"message": message},
                "stopReason": "tool_use",
                "usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 35, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 5},
                "metrics": {"latencyMs": 42},
                "additionalModelResponseFields": {"stop_sequence": null},
            })
        );
    }
}
