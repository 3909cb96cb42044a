//! [`translate`]: the typed OpenAI request -> Converse JSON, or a refusal naming the field.

use inference_core::catalog::{Capability, ModelEntry};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::EFFORT_BUDGETS;
use super::messages::{Conversation, string, unsupported};
use super::request::{ChatCompletionRequest, Stop, StreamOptions, ToolChoice, Typed};
use super::tools::{JsonFormat, choice_to_converse, response_format, tools};
use crate::compat::error::{CResult, CompatError, refuse};

/// Output room added above the thinking budget when the caller set no `max_tokens`.
const ANSWER_ROOM: u32 = 4096;

/// A translated request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// Converse JSON (with `model` when the caller named one).
    pub converse: Value,
    /// `stream`.
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
    /// The forced tool carrying `response_format` (its input is the answer's content).
    pub json_tool: Option<String>,
}

/// Keeps the refusal of the key that sorts first. The gateway has always walked the body's
/// object in key order and refused the first offending key; clients see that same refusal when
/// a body has several faults.
#[derive(Default)]
struct FirstRefusal(Option<(String, CompatError)>);

impl FirstRefusal {
    /// The value, or `None` after noting the refusal of `key`.
    fn check<T>(&mut self, key: &str, r: CResult<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                if self.0.as_ref().is_none_or(|(k, _)| key < k.as_str()) {
                    self.0 = Some((key.to_owned(), e));
                }
                None
            }
        }
    }

    fn finish(self) -> CResult<()> {
        self.0.map_or(Ok(()), |(_, e)| Err(e))
    }
}

/// The top-level fields, checked; what the messages and limits steps need next.
#[derive(Default)]
struct TopLevel {
    converse: Map<String, Value>,
    inference: Map<String, Value>,
    metadata: Map<String, Value>,
    stream: bool,
    include_usage: bool,
    json_tool: Option<JsonFormat>,
    max_tokens: Option<u64>,
    thinking_budget: Option<u32>,
    tools: Option<Vec<Value>>,
    tool_choice: Option<Typed<ToolChoice>>,
}

/// Maps the OpenAI request to Converse JSON, or refuses what cannot be honoured. `model` is the
/// catalog entry of the requested model when it resolves (capability checks); `None` defers
/// those checks to the gateway (e.g. a routed model).
pub fn translate(body: &Value, model: Option<&ModelEntry>) -> CResult<ChatRequest> {
    if !body.is_object() {
        return Err(refuse("body", "expected an object"));
    }
    // Every field is lenient (`Typed`), so an object always parses.
    let req = ChatCompletionRequest::deserialize(body)
        .map_err(|_| refuse("body", "expected an object"))?;
    let mut top = top_level(&req, model)?;

    let Some(Typed::Ok(list)) = &req.messages else {
        return Err(refuse("messages", "required: an array of messages"));
    };
    let mut conv = Conversation::default();
    for (i, m) in list.iter().enumerate() {
        conv.add(m, &format!("messages[{i}]"), model)?;
    }
    top.converse.insert(
        "messages".into(),
        Value::Array(
            conv.messages
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    if !conv.system.is_empty() {
        top.converse
            .insert("system".into(), Value::Array(conv.system));
    }
    let json_tool = tool_config(&mut top, model)?;
    limits(top, model, json_tool)
}

/// Checks and converts the top-level fields (all but `messages`).
fn top_level(req: &ChatCompletionRequest, model: Option<&ModelEntry>) -> CResult<TopLevel> {
    let mut t = TopLevel::default();
    let mut first = FirstRefusal::default();
    if let Some(v) = &req.model
        && let Some(m) = first.check("model", string(Some(v), "model"))
    {
        t.converse.insert("model".into(), json!(m));
    }
    let max_completion = req.max_completion_tokens.as_ref().and_then(|v| {
        first.check(
            "max_completion_tokens",
            positive(v, "max_completion_tokens"),
        )
    });
    let max = req.max_tokens.as_ref().and_then(|v| {
        let n = positive(v, "max_tokens").and_then(|n| match max_completion {
            Some(m) if m != n => Err(refuse(
                "max_tokens",
                "max_tokens and max_completion_tokens differ; send one",
            )),
            _ => Ok(n),
        });
        first.check("max_tokens", n)
    });
    t.max_tokens = max.or(max_completion);
    for (key, name, v) in [
        ("temperature", "temperature", &req.temperature),
        ("top_p", "topP", &req.top_p),
    ] {
        if let Some(x) = v.as_ref().and_then(|v| first.check(key, number(v, key))) {
            t.inference.insert(name.into(), json!(x));
        }
    }
    if let Some(seqs) = req.stop.as_ref().and_then(|v| first.check("stop", stop(v))) {
        t.inference
            .insert("stopSequences".into(), Value::Array(seqs));
    }
    if let Some(v) = &req.stream {
        t.stream = first.check("stream", boolean(v, "stream")).unwrap_or(false);
    }
    if let Some(v) = &req.stream_options {
        t.include_usage = first
            .check("stream_options", stream_options(v))
            .unwrap_or(false);
    }
    if let Some(v) = &req.tools {
        t.tools = first.check("tools", tools(v, model)).flatten();
    }
    t.tool_choice = req.tool_choice.clone();
    if let Some(v) = &req.response_format {
        t.json_tool = first.check("response_format", response_format(v)).flatten();
    }
    if let Some(v) = &req.reasoning_effort {
        t.thinking_budget = first
            .check("reasoning_effort", reasoning(v, model))
            .flatten();
    }
    check_fixed(req, &mut first);
    metadata(req, &mut t, &mut first);
    if let Some(v) = &req.service_tier
        && let Some(Some(tier)) = first.check("service_tier", service_tier(v))
    {
        t.converse
            .insert("serviceTier".into(), json!({"type": tier}));
    }
    for (k, _) in req.extra.iter().filter(|(_, v)| !v.is_null()) {
        first.check::<()>(k, Err(unsupported(k.clone())));
    }
    first.finish()?;
    Ok(t)
}

/// Fields accepted only at the one value Bedrock matches (`n`, `store`, penalties, ...).
fn check_fixed(req: &ChatCompletionRequest, first: &mut FirstRefusal) {
    let fixed = |ok: bool, key: &str, message: &str| {
        if ok {
            Ok(())
        } else {
            Err(refuse(key, message))
        }
    };
    if let Some(v) = &req.n {
        let r = fixed(
            v.ok() == Some(&1),
            "n",
            "only n=1 is supported (Bedrock returns one choice)",
        );
        first.check("n", r);
    }
    if let Some(v) = &req.parallel_tool_calls {
        let r = fixed(
            v.ok() == Some(&true),
            "parallel_tool_calls",
            "only true: Converse cannot forbid parallel tool calls",
        );
        first.check("parallel_tool_calls", r);
    }
    if let Some(v) = &req.store {
        let r = fixed(
            v.ok() == Some(&false),
            "store",
            "the gateway does not store completions",
        );
        first.check("store", r);
    }
    if let Some(v) = &req.logprobs {
        let r = fixed(
            v.ok() == Some(&false),
            "logprobs",
            "Bedrock does not return log probabilities",
        );
        first.check("logprobs", r);
    }
    for (key, v) in [
        ("frequency_penalty", &req.frequency_penalty),
        ("presence_penalty", &req.presence_penalty),
    ] {
        if let Some(v) = v {
            let r = fixed(
                v.ok() == Some(&0.0),
                key,
                "Converse has no penalty settings (only 0)",
            );
            first.check(key, r);
        }
    }
    if let Some(v) = &req.logit_bias {
        let r = fixed(
            v.ok().is_some_and(Map::is_empty),
            "logit_bias",
            "Bedrock has no logit bias",
        );
        first.check("logit_bias", r);
    }
    if let Some(v) = &req.modalities {
        let r = fixed(
            v.ok().is_some_and(|m| m == &["text"]),
            "modalities",
            "only [\"text\"]",
        );
        first.check("modalities", r);
    }
}

/// `metadata`, then `safety_identifier` and `user` (in that order: a later one wins a key).
fn metadata(req: &ChatCompletionRequest, t: &mut TopLevel, first: &mut FirstRefusal) {
    if let Some(v) = &req.metadata {
        let entries = match v {
            Typed::Wrong => Err(refuse("metadata", "expected an object")),
            Typed::Ok(m) => m
                .iter()
                .map(|(k, s)| {
                    string(Some(s), &format!("metadata.{k}")).map(|s| (k.clone(), json!(s)))
                })
                .collect::<CResult<Vec<_>>>(),
        };
        t.metadata
            .extend(first.check("metadata", entries).unwrap_or_default());
    }
    for (key, v) in [
        ("safety_identifier", &req.safety_identifier),
        ("user", &req.user),
    ] {
        if let Some(v) = v
            && let Some(s) = first.check(key, string(Some(v), key))
        {
            t.metadata.insert(key.into(), json!(s));
        }
    }
}

/// A token count: Bedrock's `maxTokens` is a 32-bit integer, so a larger one is refused here,
/// by the caller's own parameter name, not later by the Converse field it becomes.
fn positive(v: &Typed<u64>, key: &str) -> CResult<u64> {
    v.ok()
        .copied()
        .filter(|n| (1..=i32::MAX as u64).contains(n))
        .ok_or_else(|| refuse(key, "expected a positive integer of at most 2147483647"))
}

fn number(v: &Typed<f64>, key: &str) -> CResult<f64> {
    v.ok()
        .copied()
        .ok_or_else(|| refuse(key, "expected a number"))
}

pub(super) fn boolean(v: &Typed<bool>, key: &str) -> CResult<bool> {
    v.ok()
        .copied()
        .ok_or_else(|| refuse(key, "expected a boolean"))
}

fn stop(v: &Typed<Stop>) -> CResult<Vec<Value>> {
    match v {
        Typed::Ok(Stop::One(s)) => Ok(vec![json!(s)]),
        Typed::Ok(Stop::Many(a)) => Ok(a.iter().map(|s| json!(s)).collect()),
        Typed::Wrong => Err(refuse("stop", "expected a string or an array of strings")),
    }
}

/// `stream_options` -> `include_usage`. Its keys are checked in key order, like the body's.
fn stream_options(v: &Typed<StreamOptions>) -> CResult<bool> {
    let Typed::Ok(so) = v else {
        return Err(refuse("stream_options", "expected an object"));
    };
    let mut first = FirstRefusal::default();
    let not_supported = |k: &str| {
        refuse(
            format!("stream_options.{k}"),
            "is not supported (include_usage only)",
        )
    };
    if so.include_obfuscation.as_ref().and_then(Value::as_bool) == Some(true) {
        first.check::<()>(
            "include_obfuscation",
            Err(not_supported("include_obfuscation")),
        );
    }
    let include_usage = so
        .include_usage
        .as_ref()
        .and_then(|v| first.check("include_usage", boolean(v, "stream_options.include_usage")));
    for k in so.extra.keys() {
        first.check::<()>(k, Err(not_supported(k)));
    }
    first.finish()?;
    Ok(include_usage.unwrap_or(false))
}

/// `reasoning_effort` -> a thinking budget (`None` for "none"); only Claude-style thinking.
fn reasoning(v: &Typed<String>, model: Option<&ModelEntry>) -> CResult<Option<u32>> {
    let effort = string(Some(v), "reasoning_effort")?;
    if effort == "none" {
        return Ok(None);
    }
    let Some(budget) = EFFORT_BUDGETS
        .iter()
        .find(|(e, _)| *e == effort)
        .map(|(_, b)| *b)
    else {
        return Err(refuse(
            "reasoning_effort",
            "expected none, minimal, low, medium or high",
        ));
    };
    match model {
        Some(m) if m.supports(Capability::Reasoning) && m.family == "claude" => Ok(Some(budget)),
        Some(m) => Err(refuse(
            "reasoning_effort",
            format!("model {} has no reasoning setting", m.id),
        )),
        None => Err(refuse(
            "reasoning_effort",
            "needs a model from the catalog (one with the reasoning capability)",
        )),
    }
}

/// `service_tier` -> Converse's tier (`None` for auto and default).
fn service_tier(v: &Typed<String>) -> CResult<Option<String>> {
    match string(Some(v), "service_tier")? {
        "auto" | "default" => Ok(None),
        t @ ("flex" | "priority") => Ok(Some(t.to_owned())),
        _ => Err(refuse(
            "service_tier",
            "expected auto, default, flex or priority",
        )),
    }
}

/// Tools, tool choice and `response_format` -> `toolConfig` and `outputConfig`; returns the name
/// of the forced tool when `response_format` is emulated with one.
fn tool_config(top: &mut TopLevel, model: Option<&ModelEntry>) -> CResult<Option<String>> {
    if let Some(f) = top.json_tool.take_if(|f| native_json(f, model)) {
        top.converse
            .insert("outputConfig".into(), f.output_config());
    }
    if let Some(f) = top.json_tool.take() {
        if top.tools.is_some() {
            return Err(refuse(
                "response_format",
                "cannot be combined with tools: it is honoured with a forced tool call",
            ));
        }
        if model.is_some_and(|m| !m.supports(Capability::Tools)) {
            return Err(refuse(
                "response_format",
                "this model cannot honour it (JSON output is enforced with a tool, and the model has no tool use)",
            ));
        }
        if top.thinking_budget.is_some() {
            return Err(refuse(
                "response_format",
                "cannot be combined with reasoning_effort (a forced tool call excludes thinking)",
            ));
        }
        let spec = f.tool_spec();
        let name = f.name;
        if top.tool_choice.is_some() {
            return Err(refuse(
                "tool_choice",
                "cannot be combined with response_format (it forces its own tool)",
            ));
        }
        top.converse.insert(
            "toolConfig".into(),
            json!({"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": name}}}),
        );
        return Ok(Some(name));
    }
    if let Some(specs) = top.tools.take() {
        let mut tc = json!({"tools": specs});
        if let Some(choice) = &top.tool_choice {
            tc["toolChoice"] = choice_to_converse(choice)?;
        }
        top.converse.insert("toolConfig".into(), tc);
    } else if let Some(choice) = &top.tool_choice
        && !matches!(choice, Typed::Ok(ToolChoice::Mode(m)) if m == "none" || m == "auto")
    {
        return Err(refuse("tool_choice", "needs tools"));
    }
    Ok(None)
}

/// Whether `response_format` goes to Bedrock natively: a schema, and a catalog model with
/// `structured_output` (an unresolved or routed model gets the forced tool, which any model
/// with tool use honours).
fn native_json(f: &JsonFormat, model: Option<&ModelEntry>) -> bool {
    f.from_schema && model.is_some_and(|m| m.supports(Capability::StructuredOutput))
}

/// Limits and reasoning (`maxTokens`, thinking), then the request.
fn limits(
    mut top: TopLevel,
    model: Option<&ModelEntry>,
    json_tool: Option<String>,
) -> CResult<ChatRequest> {
    let mut additional = Map::new();
    if let Some(budget) = top.thinking_budget {
        let max = match top.max_tokens {
            Some(m) if m <= u64::from(budget) => {
                return Err(refuse(
                    "max_tokens",
                    format!(
                        "must exceed the thinking budget of reasoning_effort ({budget} tokens)"
                    ),
                ));
            }
            Some(m) => m,
            None => u64::from(
                (budget + ANSWER_ROOM).min(model.map_or(u32::MAX, |m| m.max_output_tokens)),
            ),
        };
        top.max_tokens = Some(max);
        additional.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(m) = top.max_tokens {
        top.inference.insert("maxTokens".into(), json!(m));
    }
    let mut converse = top.converse;
    if !top.inference.is_empty() {
        converse.insert("inferenceConfig".into(), Value::Object(top.inference));
    }
    if !additional.is_empty() {
        converse.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    if !top.metadata.is_empty() {
        converse.insert("requestMetadata".into(), Value::Object(top.metadata));
    }
    Ok(ChatRequest {
        converse: Value::Object(converse),
        stream: top.stream,
        include_usage: top.include_usage,
        json_tool,
    })
}
