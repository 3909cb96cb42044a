//! `POST /v1/chat/completions`: OpenAI Chat Completions over Converse / ConverseStream.
//!
//! [`translate`] maps every request field to Converse JSON or refuses it (docs/compat.md has the
//! table); [`to_openai`] maps the Converse answer back; [`OpenAiStream`] turns ConverseStream
//! events into `chat.completion.chunk` frames ending with `data: [DONE]`.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use inference_core::catalog::{Capability, ModelEntry};
use inference_core::{CallContext, Gateway, GatewayError};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::error::{CResult, CompatError, Provider, refuse};
use super::{json_response, now_secs, opt, read_json};
use crate::pump::{self, Event, Format};

/// Thinking budgets (tokens) for `reasoning_effort` on models with Claude-style thinking.
pub const EFFORT_BUDGETS: [(&str, u32); 4] = [
    ("minimal", 1024),
    ("low", 1024),
    ("medium", 4096),
    ("high", 16384),
];

/// Output room added above the thinking budget when the caller set no `max_tokens`.
const ANSWER_ROOM: u32 = 4096;

/// Name of the forced tool that carries `response_format: json_object`.
pub const JSON_OBJECT_TOOL: &str = "json_object";

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

fn as_obj<'a>(v: &'a Value, param: &str) -> CResult<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| refuse(param, "expected an object"))
}

fn as_str<'a>(v: &'a Value, param: &str) -> CResult<&'a str> {
    v.as_str().ok_or_else(|| refuse(param, "expected a string"))
}

fn check_keys(o: &Map<String, Value>, allowed: &[&str], param: &str) -> CResult<()> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(refuse(
            if param.is_empty() {
                k.clone()
            } else {
                format!("{param}.{k}")
            },
            "is not supported by this gateway (Amazon Bedrock); remove it",
        )),
        None => Ok(()),
    }
}

/// Text of `content` (a string or an array of `text` parts; `refusal` parts too for assistant).
fn text_parts(content: &Value, param: &str, allow_refusal: bool) -> CResult<Vec<Value>> {
    match content {
        Value::String(s) => Ok(if s.is_empty() {
            vec![]
        } else {
            vec![json!({"text": s})]
        }),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                let pp = format!("{param}[{j}]");
                let po = as_obj(p, &pp)?;
                match po.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        check_keys(po, &["type", "text"], &pp)?;
                        let t = as_str(po.get("text").unwrap_or(&Value::Null), &pp)?;
                        out.push(json!({"text": t}));
                    }
                    Some("refusal") if allow_refusal => {
                        let t = as_str(po.get("refusal").unwrap_or(&Value::Null), &pp)?;
                        out.push(json!({"text": t}));
                    }
                    other => {
                        return Err(refuse(
                            pp,
                            format!(
                                "content part type {:?} is not accepted here (text only)",
                                other.unwrap_or("")
                            ),
                        ));
                    }
                }
            }
            Ok(out)
        }
        Value::Null => Ok(vec![]),
        _ => Err(refuse(param, "expected a string or an array of parts")),
    }
}

/// `data:image/png;base64,...` -> a Converse image block.
pub fn image_block(url: &str, param: &str) -> CResult<Value> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(refuse(
            param,
            "only data URLs (data:image/...;base64,...) are accepted: the gateway does not fetch URLs",
        ));
    };
    let Some((media, data)) = rest.split_once(";base64,") else {
        return Err(refuse(param, "expected a base64 data URL"));
    };
    let format = match media {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(refuse(
                param,
                format!("image type {other:?} is not supported (png, jpeg, gif, webp)"),
            ));
        }
    };
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

fn user_parts(content: &Value, param: &str, model: Option<&ModelEntry>) -> CResult<Vec<Value>> {
    let Value::Array(parts) = content else {
        return text_parts(content, param, false);
    };
    let mut out = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        let pp = format!("{param}[{j}]");
        let po = as_obj(p, &pp)?;
        match po.get("type").and_then(Value::as_str) {
            Some("image_url") => {
                check_keys(po, &["type", "image_url"], &pp)?;
                if model.is_some_and(|m| !m.supports(Capability::Vision)) {
                    return Err(refuse(pp, "this model does not accept images"));
                }
                let ip = format!("{pp}.image_url");
                let io = as_obj(po.get("image_url").unwrap_or(&Value::Null), &ip)?;
                check_keys(io, &["url", "detail"], &ip)?;
                if let Some(d) = opt(io, "detail").and_then(Value::as_str)
                    && d != "auto"
                {
                    return Err(refuse(
                        format!("{ip}.detail"),
                        "only \"auto\": Bedrock has no image detail setting",
                    ));
                }
                let url = as_str(io.get("url").unwrap_or(&Value::Null), &format!("{ip}.url"))?;
                out.push(image_block(url, &format!("{ip}.url"))?);
            }
            Some("text") => out.extend(text_parts(&Value::Array(vec![p.clone()]), &pp, false)?),
            other => {
                return Err(refuse(
                    pp,
                    format!(
                        "content part type {:?} is not supported (text, image_url)",
                        other.unwrap_or("")
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn tool_call_block(tc: &Value, param: &str) -> CResult<Value> {
    let o = as_obj(tc, param)?;
    check_keys(o, &["id", "type", "function"], param)?;
    if let Some(t) = opt(o, "type").and_then(Value::as_str)
        && t != "function"
    {
        return Err(refuse(
            format!("{param}.type"),
            "only \"function\" tool calls",
        ));
    }
    let id = as_str(o.get("id").unwrap_or(&Value::Null), &format!("{param}.id"))?;
    let fp = format!("{param}.function");
    let f = as_obj(o.get("function").unwrap_or(&Value::Null), &fp)?;
    let name = as_str(f.get("name").unwrap_or(&Value::Null), &format!("{fp}.name"))?;
    let args = f.get("arguments").and_then(Value::as_str).unwrap_or("");
    let input: Value = if args.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(args)
            .map_err(|_| refuse(format!("{fp}.arguments"), "not valid JSON"))?
    };
    if !input.is_object() {
        return Err(refuse(
            format!("{fp}.arguments"),
            "must be a JSON object (Bedrock tool inputs are objects)",
        ));
    }
    Ok(json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}))
}

/// Appends blocks to the last message when it has the same role (Converse wants alternation).
fn push(messages: &mut Vec<(String, Vec<Value>)>, role: &str, blocks: Vec<Value>) {
    match messages.last_mut() {
        Some((r, b)) if r == role => b.extend(blocks),
        _ => messages.push((role.to_owned(), blocks)),
    }
}

/// Maps the OpenAI request to Converse JSON, or refuses what cannot be honoured. `model` is the
/// catalog entry of the requested model when it resolves (capability checks); `None` defers
/// those checks to the gateway (e.g. a routed model).
pub fn translate(body: &Value, model: Option<&ModelEntry>) -> CResult<ChatRequest> {
    let o = as_obj(body, "body")?;
    let mut converse = Map::new();
    let mut inference = Map::new();
    let mut additional = Map::new();
    let mut metadata = Map::new();
    let mut stream = false;
    let mut include_usage = false;
    let mut json_tool = None;
    let mut max_tokens: Option<u64> = None;
    let mut thinking_budget: Option<u32> = None;
    let mut tools: Option<Vec<Value>> = None;
    let mut tool_choice: Option<Value> = None;

    for (k, v) in o {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "model" => {
                converse.insert("model".into(), json!(as_str(v, "model")?));
            }
            "messages" => {}
            "max_tokens" | "max_completion_tokens" => {
                let n = v
                    .as_u64()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| refuse(k.clone(), "expected a positive integer"))?;
                if max_tokens.is_some_and(|m| m != n) {
                    return Err(refuse(
                        k.clone(),
                        "max_tokens and max_completion_tokens differ; send one",
                    ));
                }
                max_tokens = Some(n);
            }
            "temperature" | "top_p" => {
                let x = v
                    .as_f64()
                    .ok_or_else(|| refuse(k.clone(), "expected a number"))?;
                let key = if k == "temperature" {
                    "temperature"
                } else {
                    "topP"
                };
                inference.insert(key.into(), json!(x));
            }
            "stop" => {
                let seqs = match v {
                    Value::String(s) => vec![json!(s)],
                    Value::Array(a) if a.iter().all(Value::is_string) => a.clone(),
                    _ => return Err(refuse("stop", "expected a string or an array of strings")),
                };
                inference.insert("stopSequences".into(), Value::Array(seqs));
            }
            "n" => {
                if v.as_u64() != Some(1) {
                    return Err(refuse(
                        "n",
                        "only n=1 is supported (Bedrock returns one choice)",
                    ));
                }
            }
            "stream" => {
                stream = v
                    .as_bool()
                    .ok_or_else(|| refuse("stream", "expected a boolean"))?;
            }
            "stream_options" => {
                let so = as_obj(v, "stream_options")?;
                for (sk, sv) in so {
                    match sk.as_str() {
                        "include_usage" => {
                            include_usage = sv.as_bool().ok_or_else(|| {
                                refuse("stream_options.include_usage", "expected a boolean")
                            })?;
                        }
                        "include_obfuscation" if sv.as_bool() != Some(true) => {}
                        _ => {
                            return Err(refuse(
                                format!("stream_options.{sk}"),
                                "is not supported (include_usage only)",
                            ));
                        }
                    }
                }
            }
            "tools" => {
                let list = v
                    .as_array()
                    .ok_or_else(|| refuse("tools", "expected an array"))?;
                if model.is_some_and(|m| !m.supports(Capability::Tools)) && !list.is_empty() {
                    return Err(refuse("tools", "this model does not support tool use"));
                }
                let mut specs = Vec::new();
                for (i, t) in list.iter().enumerate() {
                    specs.push(tool_spec(t, &format!("tools[{i}]"))?);
                }
                if !specs.is_empty() {
                    tools = Some(specs);
                }
            }
            "tool_choice" => tool_choice = Some(v.clone()),
            "parallel_tool_calls" => {
                if v.as_bool() != Some(true) {
                    return Err(refuse(
                        "parallel_tool_calls",
                        "only true: Converse cannot forbid parallel tool calls",
                    ));
                }
            }
            "response_format" => {
                let ro = as_obj(v, "response_format")?;
                match ro.get("type").and_then(Value::as_str) {
                    Some("text") => check_keys(ro, &["type"], "response_format")?,
                    Some("json_object") => {
                        check_keys(ro, &["type"], "response_format")?;
                        json_tool = Some((
                            JSON_OBJECT_TOOL.to_owned(),
                            json!({"type": "object"}),
                            "Reply with a JSON object.".to_owned(),
                            None,
                        ));
                    }
                    Some("json_schema") => {
                        check_keys(ro, &["type", "json_schema"], "response_format")?;
                        let p = "response_format.json_schema";
                        let js = as_obj(ro.get("json_schema").unwrap_or(&Value::Null), p)?;
                        check_keys(js, &["name", "schema", "strict", "description"], p)?;
                        let name =
                            as_str(js.get("name").unwrap_or(&Value::Null), &format!("{p}.name"))?;
                        let schema = opt(js, "schema")
                            .cloned()
                            .unwrap_or(json!({"type": "object"}));
                        if !schema.is_object() {
                            return Err(refuse(format!("{p}.schema"), "expected an object"));
                        }
                        let desc = opt(js, "description")
                            .and_then(Value::as_str)
                            .unwrap_or("Reply with JSON that matches this schema.")
                            .to_owned();
                        let strict = opt(js, "strict").and_then(Value::as_bool);
                        json_tool = Some((name.to_owned(), schema, desc, strict));
                    }
                    _ => {
                        return Err(refuse(
                            "response_format.type",
                            "expected text, json_object or json_schema",
                        ));
                    }
                }
            }
            "reasoning_effort" => {
                let effort = as_str(v, "reasoning_effort")?;
                if effort == "none" {
                    continue;
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
                    Some(m) if m.supports(Capability::Reasoning) && m.family == "claude" => {
                        thinking_budget = Some(budget);
                    }
                    Some(m) => {
                        return Err(refuse(
                            "reasoning_effort",
                            format!("model {} has no reasoning setting", m.id),
                        ));
                    }
                    None => {
                        return Err(refuse(
                            "reasoning_effort",
                            "needs a model from the catalog (one with the reasoning capability)",
                        ));
                    }
                }
            }
            "user" | "safety_identifier" => {
                metadata.insert(k.clone(), json!(as_str(v, k)?));
            }
            "metadata" => {
                for (mk, mv) in as_obj(v, "metadata")? {
                    let s = mv
                        .as_str()
                        .ok_or_else(|| refuse(format!("metadata.{mk}"), "expected a string"))?;
                    metadata.insert(mk.clone(), json!(s));
                }
            }
            "store" => {
                if v.as_bool() != Some(false) {
                    return Err(refuse("store", "the gateway does not store completions"));
                }
            }
            "logprobs" => {
                if v.as_bool() != Some(false) {
                    return Err(refuse(
                        "logprobs",
                        "Bedrock does not return log probabilities",
                    ));
                }
            }
            "frequency_penalty" | "presence_penalty" => {
                if v.as_f64() != Some(0.0) {
                    return Err(refuse(
                        k.clone(),
                        "Converse has no penalty settings (only 0)",
                    ));
                }
            }
            "logit_bias" => {
                if !v.as_object().is_some_and(Map::is_empty) {
                    return Err(refuse("logit_bias", "Bedrock has no logit bias"));
                }
            }
            "modalities" => {
                if v != &json!(["text"]) {
                    return Err(refuse("modalities", "only [\"text\"]"));
                }
            }
            "service_tier" => match as_str(v, "service_tier")? {
                "auto" | "default" => {}
                t @ ("flex" | "priority") => {
                    converse.insert("serviceTier".into(), json!({"type": t}));
                }
                _ => {
                    return Err(refuse(
                        "service_tier",
                        "expected auto, default, flex or priority",
                    ));
                }
            },
            other => {
                return Err(refuse(
                    other,
                    "is not supported by this gateway (Amazon Bedrock); remove it",
                ));
            }
        }
    }

    // Messages.
    let list = o
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| refuse("messages", "required: an array of messages"))?;
    let mut system = Vec::new();
    let mut messages: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let p = format!("messages[{i}]");
        let mo = as_obj(m, &p)?;
        let role = as_str(mo.get("role").unwrap_or(&Value::Null), &format!("{p}.role"))?;
        let content = mo.get("content").unwrap_or(&Value::Null);
        let cp = format!("{p}.content");
        if opt(mo, "name").is_some() {
            return Err(refuse(
                format!("{p}.name"),
                "participant names are not supported",
            ));
        }
        match role {
            "system" | "developer" => {
                check_keys(mo, &["role", "content", "name"], &p)?;
                system.extend(text_parts(content, &cp, false)?);
            }
            "user" => {
                check_keys(mo, &["role", "content", "name"], &p)?;
                push(&mut messages, "user", user_parts(content, &cp, model)?);
            }
            "assistant" => {
                check_keys(
                    mo,
                    &["role", "content", "name", "tool_calls", "refusal"],
                    &p,
                )?;
                let mut blocks = text_parts(content, &cp, true)?;
                if let Some(r) = opt(mo, "refusal").and_then(Value::as_str) {
                    blocks.push(json!({"text": r}));
                }
                if let Some(calls) = opt(mo, "tool_calls") {
                    let calls = calls
                        .as_array()
                        .ok_or_else(|| refuse(format!("{p}.tool_calls"), "expected an array"))?;
                    for (j, tc) in calls.iter().enumerate() {
                        blocks.push(tool_call_block(tc, &format!("{p}.tool_calls[{j}]"))?);
                    }
                }
                push(&mut messages, "assistant", blocks);
            }
            "tool" => {
                check_keys(mo, &["role", "content", "tool_call_id"], &p)?;
                let id = as_str(
                    mo.get("tool_call_id").unwrap_or(&Value::Null),
                    &format!("{p}.tool_call_id"),
                )?;
                let mut parts = text_parts(content, &cp, false)?;
                if parts.is_empty() {
                    parts.push(json!({"text": ""}));
                }
                push(
                    &mut messages,
                    "user",
                    vec![json!({"toolResult": {"toolUseId": id, "content": parts}})],
                );
            }
            other => {
                return Err(refuse(
                    format!("{p}.role"),
                    format!(
                        "{other:?} is not supported (system, developer, user, assistant, tool)"
                    ),
                ));
            }
        }
    }
    converse.insert(
        "messages".into(),
        Value::Array(
            messages
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    if !system.is_empty() {
        converse.insert("system".into(), Value::Array(system));
    }

    // Tools, tool choice and response_format (a forced tool).
    let mut json_tool_name = None;
    if let Some((name, schema, desc, strict)) = json_tool {
        if tools.is_some() {
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
        if thinking_budget.is_some() {
            return Err(refuse(
                "response_format",
                "cannot be combined with reasoning_effort (a forced tool call excludes thinking)",
            ));
        }
        let mut spec = json!({"name": name, "description": desc, "inputSchema": {"json": schema}});
        if let Some(s) = strict {
            spec["strict"] = json!(s);
        }
        if tool_choice.is_some() {
            return Err(refuse(
                "tool_choice",
                "cannot be combined with response_format (it forces its own tool)",
            ));
        }
        converse.insert(
            "toolConfig".into(),
            json!({"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": name}}}),
        );
        json_tool_name = Some(name);
    } else if let Some(specs) = tools {
        let mut tc = json!({"tools": specs});
        if let Some(choice) = &tool_choice {
            tc["toolChoice"] = choice_to_converse(choice)?;
        }
        converse.insert("toolConfig".into(), tc);
    } else if let Some(choice) = &tool_choice
        && !matches!(choice.as_str(), Some("none" | "auto"))
    {
        return Err(refuse("tool_choice", "needs tools"));
    }

    // Limits and reasoning.
    if let Some(budget) = thinking_budget {
        let max = match max_tokens {
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
        max_tokens = Some(max);
        additional.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(m) = max_tokens {
        inference.insert("maxTokens".into(), json!(m));
    }
    if !inference.is_empty() {
        converse.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if !additional.is_empty() {
        converse.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    if !metadata.is_empty() {
        converse.insert("requestMetadata".into(), Value::Object(metadata));
    }
    Ok(ChatRequest {
        converse: Value::Object(converse),
        stream,
        include_usage,
        json_tool: json_tool_name,
    })
}

fn tool_spec(t: &Value, param: &str) -> CResult<Value> {
    let o = as_obj(t, param)?;
    check_keys(o, &["type", "function"], param)?;
    if o.get("type").and_then(Value::as_str) != Some("function") {
        return Err(refuse(format!("{param}.type"), "only \"function\" tools"));
    }
    let fp = format!("{param}.function");
    let f = as_obj(o.get("function").unwrap_or(&Value::Null), &fp)?;
    check_keys(f, &["name", "description", "parameters", "strict"], &fp)?;
    let name = as_str(f.get("name").unwrap_or(&Value::Null), &format!("{fp}.name"))?;
    let schema = opt(f, "parameters")
        .cloned()
        .unwrap_or(json!({"type": "object", "properties": {}}));
    if !schema.is_object() {
        return Err(refuse(
            format!("{fp}.parameters"),
            "expected a JSON Schema object",
        ));
    }
    let mut spec = json!({"name": name, "inputSchema": {"json": schema}});
    if let Some(d) = opt(f, "description") {
        spec["description"] = json!(as_str(d, &format!("{fp}.description"))?);
    }
    if let Some(s) = opt(f, "strict") {
        spec["strict"] = json!(
            s.as_bool()
                .ok_or_else(|| refuse(format!("{fp}.strict"), "expected a boolean"))?
        );
    }
    Ok(json!({"toolSpec": spec}))
}

/// `tool_choice` -> Converse `toolChoice`.
fn choice_to_converse(choice: &Value) -> CResult<Value> {
    match choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(json!({"auto": {}})),
            "required" => Ok(json!({"any": {}})),
            "none" => Err(refuse(
                "tool_choice",
                "\"none\" cannot be honoured by Converse while tools are sent; omit the tools instead",
            )),
            _ => Err(refuse(
                "tool_choice",
                "expected auto, required or a function",
            )),
        },
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    refuse(
                        "tool_choice",
                        "expected {\"type\": \"function\", \"function\": {\"name\"}}",
                    )
                })?;
            Ok(json!({"tool": {"name": name}}))
        }
        _ => Err(refuse("tool_choice", "expected a string or an object")),
    }
}

/// Converse stop reason -> OpenAI `finish_reason`.
pub fn finish_reason(stop: &str, json_mode: bool) -> &'static str {
    match stop {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" if json_mode => "stop",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        _ => "stop",
    }
}

/// Converse usage -> OpenAI usage (cached input counts inside `prompt_tokens`, as at OpenAI).
pub fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = n("cacheReadInputTokens");
    let prompt = n("inputTokens") + cache_read + n("cacheWriteInputTokens");
    let completion = n("outputTokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    })
}

/// A Converse answer (the gateway's JSON) -> a `chat.completion`.
pub fn to_openai(out: &Value, json_tool: Option<&str>, request_id: &str) -> Value {
    let blocks = out
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in &blocks {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(tu) = b.get("toolUse") {
            let input = tu.get("input").cloned().unwrap_or(json!({}));
            if json_tool.is_some() {
                text.push_str(&input.to_string());
            } else {
                calls.push(json!({
                    "id": tu.get("toolUseId"),
                    "type": "function",
                    "function": {"name": tu.get("name"), "arguments": input.to_string()},
                }));
            }
        } else if let Some(r) = b
            .pointer("/reasoningContent/reasoningText/text")
            .and_then(Value::as_str)
        {
            reasoning.push_str(r);
        }
    }
    let stop = out.get("stopReason").and_then(Value::as_str).unwrap_or("");
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    let mut v = json!({
        "id": format!("chatcmpl-{request_id}"),
        "object": "chat.completion",
        "created": now_secs(),
        "model": out.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_reason(stop, json_tool.is_some()),
            "logprobs": null,
        }],
        "usage": usage(out.get("usage").unwrap_or(&Value::Null)),
        "system_fingerprint": null,
        "cost": out.get("cost").cloned().unwrap_or(Value::Null),
    });
    if let Some(g) = out.get("guardrail") {
        v["guardrail"] = g.clone();
    }
    v
}

/// ConverseStream events -> `chat.completion.chunk` frames (`data: {...}`), then the finish
/// chunk, the usage chunk (with `stream_options.include_usage`) and `data: [DONE]`.
#[derive(Debug)]
pub struct OpenAiStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    json_mode: bool,
    /// Converse content-block index -> OpenAI tool-call index.
    tools: HashMap<u64, usize>,
    stop: Option<String>,
    guardrail: Option<Value>,
}

fn data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

impl OpenAiStream {
    /// A stream for `model` (the ID called) answering request `request_id`.
    pub fn new(request_id: &str, model: String, include_usage: bool, json_mode: bool) -> Self {
        OpenAiStream {
            id: format!("chatcmpl-{request_id}"),
            created: now_secs(),
            model,
            include_usage,
            json_mode,
            tools: HashMap::new(),
            stop: None,
            guardrail: None,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
        })
    }
}

impl Format for OpenAiStream {
    fn event(&mut self, (name, e): &Event) -> Bytes {
        let index = e
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let delta = match name.as_str() {
            "messageStart" => json!({"role": "assistant", "content": ""}),
            "contentBlockStart" => match e.pointer("/start/toolUse") {
                Some(tu) if !self.json_mode => {
                    let n = self.tools.len();
                    self.tools.insert(index, n);
                    json!({"tool_calls": [{
                        "index": n,
                        "id": tu.get("toolUseId"),
                        "type": "function",
                        "function": {"name": tu.get("name"), "arguments": ""},
                    }]})
                }
                _ => return Bytes::new(),
            },
            "contentBlockDelta" => {
                let d = e.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = d.get("text") {
                    json!({"content": t})
                } else if let Some(input) = d.pointer("/toolUse/input") {
                    match self.tools.get(&index) {
                        Some(n) => {
                            json!({"tool_calls": [{"index": n, "function": {"arguments": input}}]})
                        }
                        None => json!({"content": input}),
                    }
                } else if let Some(t) = d.pointer("/reasoningContent/text") {
                    json!({"reasoning_content": t})
                } else {
                    return Bytes::new();
                }
            }
            "messageStop" => {
                self.stop = e
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                return Bytes::new();
            }
            pump::GUARDRAIL => {
                self.guardrail = Some(e.clone());
                return Bytes::new();
            }
            _ => return Bytes::new(),
        };
        data(&self.chunk(delta, None))
    }

    fn done(&mut self, summary: Value) -> Bytes {
        let stop = self.stop.as_deref().unwrap_or("end_turn");
        let mut last = self.chunk(json!({}), Some(finish_reason(stop, self.json_mode)));
        let mut out = Vec::new();
        if self.include_usage {
            out.push(last);
            last = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage(summary.get("usage").unwrap_or(&Value::Null)),
            });
        }
        last["cost"] = summary.get("cost").cloned().unwrap_or(Value::Null);
        if let Some(g) = self.guardrail.take() {
            last["guardrail"] = g;
        }
        out.push(last);
        let mut bytes: Vec<u8> = out.iter().flat_map(|c| data(c).to_vec()).collect();
        bytes.extend_from_slice(b"data: [DONE]\n\n");
        Bytes::from(bytes)
    }

    fn error(&mut self, error: &GatewayError, request_id: &str) -> Bytes {
        data(&CompatError::from(error.clone()).to_body(Provider::OpenAi, request_id))
    }
}

/// The handler.
pub async fn handle(State(gw): State<Gateway>, req: Request) -> Response {
    let started = Instant::now();
    let (ctx, _, body) = read_json(&gw, req).await;
    match run(&gw, &ctx, body, started).await {
        Ok(r) => r,
        Err(e) => e.into_response(Provider::OpenAi, &ctx.request_id),
    }
}

async fn run(
    gw: &Gateway,
    ctx: &CallContext,
    body: CResult<Value>,
    started: Instant,
) -> CResult<Response> {
    let body = body?;
    let entry = gw
        .requested_model(&body)
        .ok()
        .and_then(|name| gw.resolve_allowed(&name, Capability::Converse).ok())
        .map(|r| r.model);
    let chat = translate(&body, entry.as_ref())?;
    if chat.stream {
        let call = gw.converse_stream(chat.converse, ctx).await?;
        let format = OpenAiStream::new(
            &ctx.request_id,
            call.resolved().target.id(),
            chat.include_usage,
            chat.json_tool.is_some(),
        );
        let cx = crate::routes::pump_context(gw, ctx, started);
        let cache = call.cache_status().map(|s| s.as_str());
        let resp = pump::open_with(call, format, cx).await?;
        Ok(with_cache_header(resp, cache))
    } else {
        let out = gw.converse(chat.converse, ctx).await?;
        let v = to_openai(&out, chat.json_tool.as_deref(), &ctx.request_id);
        let cost = out.pointer("/cost/total").and_then(Value::as_str);
        let cache = out.pointer("/cache/status").and_then(Value::as_str);
        Ok(with_cache_header(json_response(&v, cost), cache))
    }
}

/// The response cache's verdict (`hit`, `miss`, ...) as `x-gateway-cache`: OpenAI's body has no
/// place for it, and clients ignore unknown headers.
fn with_cache_header(mut resp: Response, status: Option<&str>) -> Response {
    if let Some(h) = status.and_then(|s| http::HeaderValue::from_str(s).ok()) {
        resp.headers_mut().insert(inference_core::cache::HEADER, h);
    }
    resp
}

#[cfg(test)]
mod tests;
