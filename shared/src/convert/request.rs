//! A Converse request body (JSON, Bedrock's field names) -> SDK values ready for the fluent
//! builders of Converse and ConverseStream, and back (for tests and for logging what was sent).

use std::collections::HashMap;

use aws_sdk_bedrockruntime::operation::converse::builders::ConverseFluentBuilder;
use aws_sdk_bedrockruntime::operation::converse_stream::builders::ConverseStreamFluentBuilder;
use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, AutoToolChoice, GuardrailConfiguration, GuardrailStreamConfiguration,
    GuardrailStreamProcessingMode, GuardrailTrace, InferenceConfiguration, Message, OutputConfig,
    PerformanceConfigLatency, PerformanceConfiguration, PromptVariableValues, ServiceTier,
    ServiceTierType, SpecificToolChoice, SystemContentBlock, SystemTool, Tool, ToolChoice,
    ToolConfiguration, ToolInputSchema, ToolSpecification,
};
use aws_smithy_types::Document;
use serde_json::{Map, Value, json};

use super::blocks::{
    cache_point, cache_point_to_json, message, message_to_json, system_block, system_block_to_json,
};
use super::output::{output_config, output_config_to_json};
use super::{
    Path, R, arr, build_err, document_to_json, f32_json, json_to_document, obj, only, required,
    sdk_enum, string, union,
};
use crate::config::GuardrailSettings;
use crate::error::GatewayError;
use service_model::ServiceModel;

/// Top-level fields of a Converse body this module understands.
pub const CONVERSE_FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "promptVariables",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
];

/// Guardrail settings of a request (shared by Converse and ConverseStream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailSpec {
    /// Guardrail ID or ARN.
    pub identifier: String,
    /// Version or DRAFT.
    pub version: String,
    /// `enabled`, `disabled`, `enabled_full`.
    pub trace: Option<String>,
    /// Streaming only: `sync` or `async`.
    pub stream_processing_mode: Option<String>,
}

impl GuardrailSpec {
    /// The deployment's guardrail.
    pub fn from_settings(s: &GuardrailSettings) -> GuardrailSpec {
        GuardrailSpec {
            identifier: s.id.clone(),
            version: s.version.clone(),
            trace: Some(s.trace.as_str().to_owned()),
            stream_processing_mode: None,
        }
    }

    fn to_sdk(&self) -> GuardrailConfiguration {
        let mut b = GuardrailConfiguration::builder()
            .guardrail_identifier(&self.identifier)
            .guardrail_version(&self.version);
        if let Some(t) = &self.trace {
            b = b.trace(GuardrailTrace::from(t.as_str()));
        }
        b.build()
    }

    fn to_sdk_stream(&self) -> GuardrailStreamConfiguration {
        let mut b = GuardrailStreamConfiguration::builder()
            .guardrail_identifier(&self.identifier)
            .guardrail_version(&self.version);
        if let Some(t) = &self.trace {
            b = b.trace(GuardrailTrace::from(t.as_str()));
        }
        if let Some(m) = &self.stream_processing_mode {
            b = b.stream_processing_mode(GuardrailStreamProcessingMode::from(m.as_str()));
        }
        b.build()
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("guardrailIdentifier".into(), json!(self.identifier));
        o.insert("guardrailVersion".into(), json!(self.version));
        if let Some(t) = &self.trace {
            o.insert("trace".into(), json!(t));
        }
        if let Some(m) = &self.stream_processing_mode {
            o.insert("streamProcessingMode".into(), json!(m));
        }
        Value::Object(o)
    }
}

/// Everything of a Converse request except the model ID, as SDK values.
#[derive(Debug, Clone, Default)]
pub struct ConverseParts {
    /// `messages`.
    pub messages: Vec<Message>,
    /// `system`.
    pub system: Vec<SystemContentBlock>,
    /// `inferenceConfig`.
    pub inference_config: Option<InferenceConfiguration>,
    /// `toolConfig`.
    pub tool_config: Option<ToolConfiguration>,
    /// `guardrailConfig`.
    pub guardrail: Option<GuardrailSpec>,
    /// `additionalModelRequestFields`.
    pub additional_model_request_fields: Option<Document>,
    /// `additionalModelResponseFieldPaths`.
    pub additional_model_response_field_paths: Option<Vec<String>>,
    /// `requestMetadata`.
    pub request_metadata: Option<HashMap<String, String>>,
    /// `promptVariables`.
    pub prompt_variables: Option<HashMap<String, PromptVariableValues>>,
    /// `performanceConfig`.
    pub performance_config: Option<PerformanceConfiguration>,
    /// `serviceTier`.
    pub service_tier: Option<ServiceTier>,
    /// `outputConfig` (native structured output).
    pub output_config: Option<OutputConfig>,
}

impl ConverseParts {
    /// Parses a body; top-level fields other than [`CONVERSE_FIELDS`] and `extra` are refused.
    pub fn from_json(body: &Value, extra: &[&str]) -> R<ConverseParts> {
        let root = Path::root("");
        let o = obj(body, &root)?;
        // Bedrock's own constraints first, so a request it would refuse is refused before a call.
        ServiceModel::bedrock_runtime()
            .check_body("ConverseRequest", body)
            .map_err(|v| {
                let each: Vec<String> = v.0.iter().map(|v| v.describe()).collect();
                GatewayError::invalid_request(format!(
                    "{} (a constraint of Bedrock's service model)",
                    each.join("; ")
                ))
            })?;
        if let Some(k) = o
            .keys()
            .find(|k| !CONVERSE_FIELDS.contains(&k.as_str()) && !extra.contains(&k.as_str()))
        {
            return Err(root.err(format!("unknown field {k:?}")));
        }
        let mut parts = ConverseParts::default();
        if let Some(v) = o.get("messages") {
            let p = Path::root("messages");
            parts.messages = arr(v, &p)?
                .iter()
                .enumerate()
                .map(|(i, m)| message(m, &p.idx(i)))
                .collect::<R<_>>()?;
        }
        if let Some(v) = o.get("system") {
            let p = Path::root("system");
            parts.system = arr(v, &p)?
                .iter()
                .enumerate()
                .map(|(i, b)| system_block(b, &p.idx(i)))
                .collect::<R<_>>()?;
        }
        if let Some(v) = o.get("inferenceConfig") {
            parts.inference_config = Some(inference_config(v, &Path::root("inferenceConfig"))?);
        }
        if let Some(v) = o.get("toolConfig") {
            parts.tool_config = Some(tool_config(v, &Path::root("toolConfig"))?);
        }
        if let Some(v) = o.get("guardrailConfig") {
            parts.guardrail = Some(guardrail_config(v)?);
        }
        if let Some(v) = o.get("additionalModelRequestFields") {
            obj(v, &Path::root("additionalModelRequestFields"))?;
            parts.additional_model_request_fields = Some(json_to_document(v));
        }
        if let Some(v) = o.get("additionalModelResponseFieldPaths") {
            parts.additional_model_response_field_paths = Some(response_field_paths(v)?);
        }
        if let Some(v) = o.get("requestMetadata") {
            parts.request_metadata = Some(request_metadata(v)?);
        }
        if let Some(v) = o.get("promptVariables") {
            parts.prompt_variables = Some(prompt_variables(v)?);
        }
        if let Some(v) = o.get("performanceConfig") {
            parts.performance_config = Some(performance_config(v)?);
        }
        if let Some(v) = o.get("serviceTier") {
            parts.service_tier = Some(service_tier(v)?);
        }
        if let Some(v) = o.get("outputConfig") {
            parts.output_config = Some(output_config(v)?);
        }
        Ok(parts)
    }

    /// The request body this describes (Bedrock field names; inverse of [`Self::from_json`]).
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if !self.messages.is_empty() {
            o.insert(
                "messages".into(),
                Value::Array(self.messages.iter().map(message_to_json).collect()),
            );
        }
        if !self.system.is_empty() {
            o.insert(
                "system".into(),
                Value::Array(self.system.iter().map(system_block_to_json).collect()),
            );
        }
        if let Some(c) = &self.inference_config {
            o.insert("inferenceConfig".into(), inference_config_to_json(c));
        }
        if let Some(t) = &self.tool_config {
            o.insert("toolConfig".into(), tool_config_to_json(t));
        }
        if let Some(g) = &self.guardrail {
            o.insert("guardrailConfig".into(), g.to_json());
        }
        if let Some(d) = &self.additional_model_request_fields {
            o.insert("additionalModelRequestFields".into(), document_to_json(d));
        }
        if let Some(p) = &self.additional_model_response_field_paths {
            o.insert("additionalModelResponseFieldPaths".into(), json!(p));
        }
        if let Some(m) = &self.request_metadata {
            o.insert("requestMetadata".into(), json!(m));
        }
        if let Some(vars) = &self.prompt_variables {
            let m: Map<String, Value> = vars
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_text()
                            .map(|t| json!({"text": t}))
                            .unwrap_or(Value::Null),
                    )
                })
                .collect();
            o.insert("promptVariables".into(), Value::Object(m));
        }
        if let Some(p) = &self.performance_config {
            o.insert(
                "performanceConfig".into(),
                json!({"latency": p.latency().as_str()}),
            );
        }
        if let Some(t) = &self.service_tier {
            o.insert("serviceTier".into(), json!({"type": t.r#type().as_str()}));
        }
        if let Some(c) = &self.output_config {
            o.insert("outputConfig".into(), output_config_to_json(c));
        }
        Value::Object(o)
    }

    /// The priced tier the request asks for (`serviceTier`, `performanceConfig.latency`).
    pub fn tier(&self) -> Result<crate::tier::Tier, GatewayError> {
        crate::tier::Tier::from_request(
            self.service_tier.as_ref().map(|t| t.r#type().as_str()),
            self.performance_config
                .as_ref()
                .map(|p| p.latency())
                .map(|l| l.as_str()),
        )
    }

    /// The requested `maxTokens`, if any.
    pub fn max_tokens(&self) -> Option<i64> {
        self.inference_config
            .as_ref()
            .and_then(|c| c.max_tokens())
            .map(i64::from)
    }

    /// Whether the request names how it is served (`serviceTier` or `performanceConfig`), so a
    /// key's default tier does not apply.
    pub fn names_a_tier(&self) -> bool {
        self.service_tier.is_some() || self.performance_config.is_some()
    }

    /// Asks Bedrock for `tier`: `serviceTier.type`, or `performanceConfig.latency = optimized`.
    pub fn set_tier(&mut self, tier: crate::tier::Tier) {
        use crate::tier::Tier;
        let (service, optimized) = match tier {
            Tier::Standard => (None, false),
            Tier::Flex => (Some(ServiceTierType::Flex), false),
            Tier::Priority => (Some(ServiceTierType::Priority), false),
            Tier::Reserved => (Some(ServiceTierType::Reserved), false),
            Tier::LatencyOptimized => (None, true),
        };
        self.service_tier = service.and_then(|t| ServiceTier::builder().r#type(t).build().ok());
        self.performance_config = optimized.then(|| {
            PerformanceConfiguration::builder()
                .latency(PerformanceConfigLatency::Optimized)
                .build()
        });
    }

    /// Sets `maxTokens`, keeping the other inference settings.
    pub fn set_max_tokens(&mut self, max_tokens: u32) {
        let value = i32::try_from(max_tokens).unwrap_or(i32::MAX);
        let c = self
            .inference_config
            .take()
            .unwrap_or_else(|| InferenceConfiguration::builder().build());
        self.inference_config = Some(
            InferenceConfiguration::builder()
                .max_tokens(value)
                .set_temperature(c.temperature())
                .set_top_p(c.top_p())
                .set_stop_sequences(c.stop_sequences.clone())
                .build(),
        );
    }

    /// Fills a Converse call.
    pub fn apply(self, b: ConverseFluentBuilder) -> ConverseFluentBuilder {
        b.set_messages(Some(self.messages))
            .set_system((!self.system.is_empty()).then_some(self.system))
            .set_inference_config(self.inference_config)
            .set_tool_config(self.tool_config)
            .set_guardrail_config(self.guardrail.as_ref().map(GuardrailSpec::to_sdk))
            .set_additional_model_request_fields(self.additional_model_request_fields)
            .set_additional_model_response_field_paths(self.additional_model_response_field_paths)
            .set_request_metadata(self.request_metadata)
            .set_prompt_variables(self.prompt_variables)
            .set_performance_config(self.performance_config)
            .set_service_tier(self.service_tier)
            .set_output_config(self.output_config)
    }

    /// Fills a ConverseStream call.
    pub fn apply_stream(self, b: ConverseStreamFluentBuilder) -> ConverseStreamFluentBuilder {
        b.set_messages(Some(self.messages))
            .set_system((!self.system.is_empty()).then_some(self.system))
            .set_inference_config(self.inference_config)
            .set_tool_config(self.tool_config)
            .set_guardrail_config(self.guardrail.as_ref().map(GuardrailSpec::to_sdk_stream))
            .set_additional_model_request_fields(self.additional_model_request_fields)
            .set_additional_model_response_field_paths(self.additional_model_response_field_paths)
            .set_request_metadata(self.request_metadata)
            .set_prompt_variables(self.prompt_variables)
            .set_performance_config(self.performance_config)
            .set_service_tier(self.service_tier)
            .set_output_config(self.output_config)
    }
}

/// `guardrailConfig`: identifier and version required; `trace` and `streamProcessingMode` must
/// be one of the SDK's values.
fn guardrail_config(v: &Value) -> R<GuardrailSpec> {
    let p = Path::root("guardrailConfig");
    let g = obj(v, &p)?;
    only(
        g,
        &[
            "guardrailIdentifier",
            "guardrailVersion",
            "trace",
            "streamProcessingMode",
        ],
        &p,
    )?;
    let opt = |k: &str, values: &[&str]| -> R<Option<String>> {
        g.get(k)
            .map(|x| {
                let s = string(x, &p.key(k))?;
                if values.contains(&s.as_str()) {
                    Ok(s)
                } else {
                    Err(p
                        .key(k)
                        .err(format!("{s:?} is not one of: {}", values.join(", "))))
                }
            })
            .transpose()
    };
    Ok(GuardrailSpec {
        identifier: string(
            required(g, "guardrailIdentifier", &p)?,
            &p.key("guardrailIdentifier"),
        )?,
        version: string(
            required(g, "guardrailVersion", &p)?,
            &p.key("guardrailVersion"),
        )?,
        trace: opt("trace", GuardrailTrace::values())?,
        stream_processing_mode: opt(
            "streamProcessingMode",
            GuardrailStreamProcessingMode::values(),
        )?,
    })
}

/// `additionalModelResponseFieldPaths`: an array of strings.
fn response_field_paths(v: &Value) -> R<Vec<String>> {
    let p = Path::root("additionalModelResponseFieldPaths");
    arr(v, &p)?
        .iter()
        .enumerate()
        .map(|(i, s)| string(s, &p.idx(i)))
        .collect()
}

/// `requestMetadata`: an object of strings.
fn request_metadata(v: &Value) -> R<HashMap<String, String>> {
    let p = Path::root("requestMetadata");
    obj(v, &p)?
        .iter()
        .map(|(k, s)| Ok((k.clone(), string(s, &p.key(k))?)))
        .collect()
}

/// `promptVariables`: each a `{"text": ...}` union.
fn prompt_variables(v: &Value) -> R<HashMap<String, PromptVariableValues>> {
    let p = Path::root("promptVariables");
    obj(v, &p)?
        .iter()
        .map(|(k, s)| {
            let (_, t) = union(s, &["text"], "prompt variable", &p.key(k))?;
            Ok((
                k.clone(),
                PromptVariableValues::Text(string(t, &p.key(k).key("text"))?),
            ))
        })
        .collect()
}

/// `performanceConfig`: `latency` only.
fn performance_config(v: &Value) -> R<PerformanceConfiguration> {
    let p = Path::root("performanceConfig");
    let c = obj(v, &p)?;
    only(c, &["latency"], &p)?;
    let mut b = PerformanceConfiguration::builder();
    if let Some(l) = c.get("latency") {
        b = b.latency(sdk_enum::<PerformanceConfigLatency>(
            l,
            PerformanceConfigLatency::values(),
            &p.key("latency"),
        )?);
    }
    Ok(b.build())
}

/// `serviceTier`: `type` only, required.
fn service_tier(v: &Value) -> R<ServiceTier> {
    let p = Path::root("serviceTier");
    let c = obj(v, &p)?;
    only(c, &["type"], &p)?;
    let t: ServiceTierType = sdk_enum(
        required(c, "type", &p)?,
        ServiceTierType::values(),
        &p.key("type"),
    )?;
    ServiceTier::builder()
        .r#type(t)
        .build()
        .map_err(|e| build_err(&p, e))
}

fn number(v: &Value, p: &Path) -> R<f64> {
    v.as_f64()
        .ok_or_else(|| p.err(format!("expected a number, got {}", super::kind(v))))
}

/// A number Bedrock takes as an `f32` (`temperature`, `topP`): one too large for it would be
/// sent as an infinity (and written back as `null`), so it is refused here.
fn float(v: &Value, p: &Path) -> R<f32> {
    let n = number(v, p)?;
    let f = n as f32;
    if f.is_finite() {
        Ok(f)
    } else {
        Err(p.err(format!("{n} is out of range")))
    }
}

fn inference_config(v: &Value, p: &Path) -> R<InferenceConfiguration> {
    let o = obj(v, p)?;
    only(o, &["maxTokens", "temperature", "topP", "stopSequences"], p)?;
    let mut b = InferenceConfiguration::builder();
    if let Some(m) = o.get("maxTokens") {
        let mp = p.key("maxTokens");
        let n = m.as_i64().ok_or_else(|| mp.err("expected an integer"))?;
        let n = i32::try_from(n).map_err(|_| mp.err(format!("{n} is out of range")))?;
        b = b.max_tokens(n);
    }
    if let Some(t) = o.get("temperature") {
        b = b.temperature(float(t, &p.key("temperature"))?);
    }
    if let Some(t) = o.get("topP") {
        b = b.top_p(float(t, &p.key("topP"))?);
    }
    if let Some(s) = o.get("stopSequences") {
        let sp = p.key("stopSequences");
        let seqs = arr(s, &sp)?
            .iter()
            .enumerate()
            .map(|(i, x)| string(x, &sp.idx(i)))
            .collect::<R<Vec<_>>>()?;
        b = b.set_stop_sequences(Some(seqs));
    }
    Ok(b.build())
}

fn inference_config_to_json(c: &InferenceConfiguration) -> Value {
    let mut o = Map::new();
    if let Some(m) = c.max_tokens() {
        o.insert("maxTokens".into(), json!(m));
    }
    if let Some(t) = c.temperature() {
        o.insert("temperature".into(), f32_json(t));
    }
    if let Some(t) = c.top_p() {
        o.insert("topP".into(), f32_json(t));
    }
    if let Some(s) = &c.stop_sequences {
        o.insert("stopSequences".into(), json!(s));
    }
    Value::Object(o)
}

fn tool_config(v: &Value, p: &Path) -> R<ToolConfiguration> {
    let o = obj(v, p)?;
    only(o, &["tools", "toolChoice"], p)?;
    let tp = p.key("tools");
    let tools = arr(required(o, "tools", p)?, &tp)?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let ip = tp.idx(i);
            let (k, inner) = union(t, &["toolSpec", "systemTool", "cachePoint"], "tool", &ip)?;
            let kp = ip.key(k);
            Ok(match k {
                "toolSpec" => {
                    let s = obj(inner, &kp)?;
                    only(s, &["name", "description", "inputSchema", "strict"], &kp)?;
                    let sp = kp.key("inputSchema");
                    let (_, schema) = union(
                        required(s, "inputSchema", &kp)?,
                        &["json"],
                        "input schema",
                        &sp,
                    )?;
                    obj(schema, &sp.key("json"))?;
                    let mut b = ToolSpecification::builder()
                        .name(string(required(s, "name", &kp)?, &kp.key("name"))?)
                        .input_schema(ToolInputSchema::Json(json_to_document(schema)));
                    if let Some(d) = s.get("description") {
                        b = b.description(string(d, &kp.key("description"))?);
                    }
                    if let Some(st) = s.get("strict") {
                        b = b.strict(
                            st.as_bool()
                                .ok_or_else(|| kp.key("strict").err("expected a boolean"))?,
                        );
                    }
                    Tool::ToolSpec(b.build().map_err(|e| build_err(&kp, e))?)
                }
                "systemTool" => {
                    let s = obj(inner, &kp)?;
                    only(s, &["name"], &kp)?;
                    Tool::SystemTool(
                        SystemTool::builder()
                            .name(string(required(s, "name", &kp)?, &kp.key("name"))?)
                            .build()
                            .map_err(|e| build_err(&kp, e))?,
                    )
                }
                _ => Tool::CachePoint(cache_point(inner, &kp)?),
            })
        })
        .collect::<R<Vec<_>>>()?;
    let mut b = ToolConfiguration::builder().set_tools(Some(tools));
    if let Some(c) = o.get("toolChoice") {
        let cp = p.key("toolChoice");
        let (k, inner) = union(c, &["auto", "any", "tool"], "tool choice", &cp)?;
        let kp = cp.key(k);
        let choice = match k {
            "auto" => {
                only(obj(inner, &kp)?, &[], &kp)?;
                ToolChoice::Auto(AutoToolChoice::builder().build())
            }
            "any" => {
                only(obj(inner, &kp)?, &[], &kp)?;
                ToolChoice::Any(AnyToolChoice::builder().build())
            }
            _ => {
                let s = obj(inner, &kp)?;
                only(s, &["name"], &kp)?;
                ToolChoice::Tool(
                    SpecificToolChoice::builder()
                        .name(string(required(s, "name", &kp)?, &kp.key("name"))?)
                        .build()
                        .map_err(|e| build_err(&kp, e))?,
                )
            }
        };
        b = b.tool_choice(choice);
    }
    b.build().map_err(|e| build_err(p, e))
}

fn tool_config_to_json(t: &ToolConfiguration) -> Value {
    let tools: Vec<Value> = t
        .tools()
        .iter()
        .map(|tool| match tool {
            Tool::ToolSpec(s) => {
                let mut o = Map::new();
                o.insert("name".into(), json!(s.name()));
                if let Some(d) = s.description() {
                    o.insert("description".into(), json!(d));
                }
                if let Some(ToolInputSchema::Json(d)) = s.input_schema() {
                    o.insert("inputSchema".into(), json!({"json": document_to_json(d)}));
                }
                if let Some(st) = s.strict() {
                    o.insert("strict".into(), json!(st));
                }
                json!({"toolSpec": o})
            }
            Tool::SystemTool(s) => json!({"systemTool": {"name": s.name()}}),
            Tool::CachePoint(c) => json!({"cachePoint": cache_point_to_json(c)}),
            _ => json!({"unsupported": "tool"}),
        })
        .collect();
    let mut o = Map::new();
    o.insert("tools".into(), Value::Array(tools));
    if let Some(c) = t.tool_choice() {
        let v = match c {
            ToolChoice::Auto(_) => json!({"auto": {}}),
            ToolChoice::Any(_) => json!({"any": {}}),
            ToolChoice::Tool(s) => json!({"tool": {"name": s.name()}}),
            _ => json!({"unsupported": "toolChoice"}),
        };
        o.insert("toolChoice".into(), v);
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &str = "iVBORw0KGgo=";

    fn round_trip(body: Value) {
        let parts = ConverseParts::from_json(&body, &[]).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(parts.to_json(), body);
    }

    #[test]
    fn every_block_kind_round_trips() {
        round_trip(json!({
            "messages": [
                {"role": "user", "content": [
                    {"text": "hello"},
                    {"image": {"format": "png", "source": {"bytes": PNG}}},
                    {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/key.jpg", "bucketOwner": "123456789012"}}}},
                    {"document": {"format": "pdf", "name": "report", "source": {"bytes": PNG}}},
                    {"document": {"format": "txt", "name": "notes", "source": {"text": "plain"}, "context": "ctx", "citations": {"enabled": true}}},
                    {"document": {"format": "md", "name": "parts", "source": {"content": [{"text": "a"}, {"text": "b"}]}}},
                    {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://bucket/v.mp4"}}}},
                    {"video": {"format": "webm", "source": {"bytes": PNG}}},
                    {"cachePoint": {"type": "default"}},
                    {"cachePoint": {"type": "default", "ttl": "1h"}},
                    {"guardContent": {"text": {"text": "check me", "qualifiers": ["guard_content"]}}},
                    {"guardContent": {"image": {"format": "png", "source": {"bytes": PNG}}}},
                ]},
                {"role": "assistant", "content": [
                    {"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "sig"}}},
                    {"reasoningContent": {"redactedContent": PNG}},
                    {"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"q": "x", "n": 3, "f": 1.5, "deep": [true, null]}}},
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "t1", "status": "success", "content": [
                        {"text": "ok"}, {"json": {"a": [1, 2]}},
                        {"image": {"format": "gif", "source": {"bytes": PNG}}},
                        {"document": {"format": "csv", "name": "d", "source": {"text": "a,b"}}},
                        {"video": {"format": "mov", "source": {"s3Location": {"uri": "s3://bucket/v.mov"}}}},
                    ]}},
                    {"toolResult": {"toolUseId": "t2", "content": [{"text": "no status"}]}},
                ]},
            ],
            "system": [
                {"text": "be brief"},
                {"cachePoint": {"type": "default"}},
                {"guardContent": {"text": {"text": "sys"}}},
            ],
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.7, "topP": 0.9, "stopSequences": ["END"]},
            "toolConfig": {
                "tools": [
                    {"toolSpec": {"name": "lookup", "description": "find", "inputSchema": {"json": {"type": "object", "properties": {"q": {"type": "string"}}}}}},
                    {"toolSpec": {"name": "strict_one", "inputSchema": {"json": {"type": "object"}}, "strict": true}},
                    {"systemTool": {"name": "nova_grounding"}},
                    {"cachePoint": {"type": "default"}},
                ],
                "toolChoice": {"tool": {"name": "lookup"}},
            },
            "guardrailConfig": {"guardrailIdentifier": "gr1", "guardrailVersion": "1", "trace": "enabled"},
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            "additionalModelResponseFieldPaths": ["/stop_sequence"],
            "requestMetadata": {"team": "search"},
            "promptVariables": {"name": {"text": "Ada"}},
            "performanceConfig": {"latency": "optimized"},
            "serviceTier": {"type": "flex"},
            "outputConfig": {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "{\"type\":\"object\"}", "name": "reply"}}}},
        }));
        round_trip(
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}], "toolConfig": {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"auto": {}}}}),
        );
        round_trip(
            json!({"toolConfig": {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"any": {}}}}),
        );
    }

    fn err(body: Value) -> String {
        let e = ConverseParts::from_json(&body, &[]).unwrap_err();
        assert_eq!(e.status(), 400);
        e.message().to_owned()
    }

    /// Found by the `converse_request` fuzz property (docs/fuzzing.md): an out-of-range float
    /// became an infinite `f32` and was written back as `null`.
    #[test]
    fn floats_beyond_f32_are_refused() {
        for (k, v) in [("temperature", 1e39), ("topP", -1e300)] {
            let m = err(json!({"inferenceConfig": {k: v}}));
            assert!(m.starts_with(&format!("inferenceConfig.{k}: ")), "{m}");
            assert!(
                m.contains("out of range") || m.contains("must have value"),
                "{m}"
            );
        }
    }

    #[test]
    fn errors_name_the_field_path() {
        let m = err(json!({"messages": [
            {"role": "user", "content": [{"text": "a"}]},
            {"role": "assistant", "content": [{"text": "b"}]},
            {"role": "user", "content": [{"txt": "c"}]},
        ]}));
        assert!(
            m.starts_with("messages[2].content[0]: unknown block \"txt\""),
            "{m}"
        );
        assert!(
            err(json!({"messages": [{"role": "robot", "content": []}]}))
                .starts_with("messages[0].role:")
        );
        assert!(err(json!({"messages": [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": "!!"}}}]}]})).starts_with("messages[0].content[0].image.source.bytes: not valid base64"));
        assert!(err(json!({"messages": [{"role": "user", "content": [{"image": {"format": "bmp", "source": {"bytes": PNG}}}]}]})).starts_with("messages[0].content[0].image.format:"));
        assert!(
            err(json!({"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]}))
                .contains("exactly one member")
        );
        assert!(
            err(json!({"messages": [{"role": "user"}]}))
                .starts_with("messages[0].content: is required")
        );
        assert!(
            err(json!({"inferenceConfig": {"maxTokens": "many"}}))
                .starts_with("inferenceConfig.maxTokens")
        );
        assert!(
            err(json!({"inferenceConfig": {"max_tokens": 5}}))
                .contains("unknown field \"max_tokens\"")
        );
        assert!(
            err(json!({"toolConfig": {"tools": [{"toolSpec": {"name": "x"}}]}}))
                .starts_with("toolConfig.tools[0].toolSpec.inputSchema: is required")
        );
        assert!(err(json!({"mesages": []})).contains("unknown field \"mesages\""));
        assert!(err(json!({"system": "be brief"})).starts_with("system: expected an array"));
        assert!(ConverseParts::from_json(&json!({"model": "sonnet"}), &["model"]).is_ok());
    }

    /// A key's default tier reaches Bedrock as the request's own field would.
    #[test]
    fn a_tier_set_by_the_gateway_is_sent_as_bedrock_names_it() {
        use crate::tier::Tier;
        let mut p = ConverseParts::from_json(&json!({}), &[]).unwrap();
        assert!(!p.names_a_tier());
        p.set_tier(Tier::Flex);
        assert_eq!(p.to_json()["serviceTier"], json!({"type": "flex"}));
        assert_eq!(p.tier().unwrap(), Tier::Flex);
        p.set_tier(Tier::LatencyOptimized);
        assert_eq!(
            p.to_json()["performanceConfig"],
            json!({"latency": "optimized"})
        );
        assert!(p.to_json().get("serviceTier").is_none());
        assert_eq!(p.tier().unwrap(), Tier::LatencyOptimized);
    }

    #[test]
    fn max_tokens_can_be_set_without_losing_settings() {
        let mut p = ConverseParts::from_json(
            &json!({"inferenceConfig": {"temperature": 0.5, "stopSequences": ["x"]}}),
            &[],
        )
        .unwrap();
        assert_eq!(p.max_tokens(), None);
        p.set_max_tokens(100);
        assert_eq!(
            p.to_json()["inferenceConfig"],
            json!({"maxTokens": 100, "temperature": 0.5, "stopSequences": ["x"]})
        );
    }
}
