//! Native InvokeModel bodies per model family: parsing into the neutral request, and the
//! family's own non-streaming response shape.

use serde_json::{Map, Value, json};

use crate::chat::{Block, ChatRequest, Message, Role, Tool, ToolChoice, Ttl, tool_result_text};
use crate::converse;
use crate::errors::{BedrockError, malformed, validation};
use crate::generate::{Generation, OutBlock, StopReason};
use crate::models::{Family, Model};
use crate::validation as check;

/// Token usage of one invocation, including prompt-cache traffic.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Input tokens not served from or written to the cache.
    pub input: u32,
    pub output: u32,
    pub cache_read: u32,
    pub cache_write: u32,
    pub cache_ttl: Option<Ttl>,
}

impl Usage {
    /// Every input token, cached or not (what the token-count headers report).
    pub fn all_input(&self) -> u32 {
        self.input + self.cache_read + self.cache_write
    }
}

fn require_object(body: &Value) -> Result<&Map<String, Value>, BedrockError> {
    body.as_object().map_or_else(
        || malformed("#: expected type: JSONObject, found: something else"),
        Ok,
    )
}

fn allowed_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), BedrockError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return malformed(format!("#: extraneous key [{k}] is not permitted"));
        }
    }
    Ok(())
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a Value, BedrockError> {
    match obj.get(key) {
        Some(v) => Ok(v),
        None => malformed(format!("#: required key [{key}] not found")),
    }
}

fn opt_f64(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, BedrockError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(f) if (0.0..=1.0).contains(&f) => Ok(Some(f)),
            Some(f) => malformed(format!("#/{path}: {f} is not in the range [0, 1]")),
            None => malformed(format!(
                "#/{path}: expected type: Number, found: {}",
                type_name(v)
            )),
        },
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

fn max_int(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    limit: u32,
) -> Result<Option<u32>, BedrockError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n < 1 => malformed(format!("#/{path}: {n} is not greater or equal to 1")),
            Some(n) if n > i64::from(limit) => {
                malformed(format!("#/{path}: {n} is not less or equal to {limit}"))
            }
            Some(n) => Ok(Some(n as u32)),
            None => malformed(format!(
                "#/{path}: expected type: Integer, found: {}",
                type_name(v)
            )),
        },
    }
}

fn string_list(obj: &Map<String, Value>, key: &str) -> Vec<String> {
    obj.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, BedrockError> {
    let v = required(obj, key)?;
    v.as_str().map_or_else(
        || {
            malformed(format!(
                "#/{key}: expected type: String, found: {}",
                type_name(v)
            ))
        },
        Ok,
    )
}

/// Parses a native request body for a text model.
pub fn parse(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    match model.family {
        Family::Anthropic => anthropic(model, body),
        Family::Nova => nova(model, body),
        Family::Titan => titan(model, body),
        Family::Llama => llama(model, body),
        Family::Mistral => mistral(model, body, false),
        Family::MistralChat => mistral(model, body, true),
        Family::Cohere => cohere(model, body),
        Family::TitanEmbed | Family::CohereEmbed | Family::NovaReel => {
            validation(crate::models::UNSUPPORTED_ACTION)
        }
    }
}

fn anthropic_cache(block: &Value) -> Result<Option<Ttl>, BedrockError> {
    match block.get("cache_control") {
        None | Some(Value::Null) => Ok(None),
        Some(cc) => Ttl::parse(cc.get("ttl").and_then(Value::as_str))
            .map(Some)
            .ok_or_else(|| BedrockError::Validation("The model returned the following errors: cache_control.ttl: Input should be '5m' or '1h'".into())),
    }
}

fn anthropic_blocks(content: &Value, path: &str) -> Result<Vec<Block>, BedrockError> {
    let items = match content {
        Value::String(s) => return Ok(vec![Block::Text(s.clone())]),
        Value::Array(a) => a,
        other => {
            return malformed(format!(
                "#/{path}: expected type: JSONArray, found: {}",
                type_name(other)
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (j, b) in items.iter().enumerate() {
        let ty = b.get("type").and_then(Value::as_str).unwrap_or("");
        let p = format!("{path}/{j}");
        let block = match ty {
            "text" => Block::Text(
                b.get("text")
                    .and_then(Value::as_str)
                    .map_or_else(
                        || malformed(format!("#/{p}: required key [text] not found")),
                        Ok,
                    )?
                    .to_string(),
            ),
            "image" => Block::Image,
            "document" => Block::Document {
                text: b
                    .get("source")
                    .and_then(|s| s.get("data"))
                    .and_then(Value::as_str)
                    .filter(|_| {
                        b.get("source")
                            .and_then(|s| s.get("type"))
                            .and_then(Value::as_str)
                            == Some("text")
                    })
                    .map(str::to_string),
                bytes: b
                    .get("source")
                    .and_then(|s| s.get("data"))
                    .and_then(Value::as_str)
                    .map(|d| d.len() / 4 * 3)
                    .unwrap_or(0),
            },
            "tool_use" => Block::ToolUse {
                id: b
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                name: b
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                input: b.get("input").cloned().unwrap_or(json!({})),
            },
            "tool_result" => Block::ToolResult {
                id: b
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                text: tool_result_text(b.get("content").unwrap_or(&Value::Null)),
            },
            "thinking" => Block::Reasoning(
                b.get("thinking")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            "redacted_thinking" => Block::Reasoning(String::new()),
            other => {
                return validation(format!(
                    "The model returned the following errors: {p}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'document', 'image', 'redacted_thinking', 'text', 'thinking', 'tool_result', 'tool_use'"
                ));
            }
        };
        out.push(block);
        if let Some(ttl) = anthropic_cache(b)? {
            out.push(Block::CachePoint(ttl));
        }
    }
    Ok(out)
}

fn anthropic(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    let obj = require_object(body)?;
    allowed_keys(
        obj,
        &[
            "anthropic_version",
            "anthropic_beta",
            "max_tokens",
            "messages",
            "system",
            "temperature",
            "top_p",
            "top_k",
            "stop_sequences",
            "tools",
            "tool_choice",
            "thinking",
            "metadata",
        ],
    )?;
    let version = str_field(obj, "anthropic_version")?;
    if version != "bedrock-2023-05-31" {
        return malformed(format!(
            "#/anthropic_version: {version} is not a valid enum value"
        ));
    }
    let max = required(obj, "max_tokens")?;
    let max = max.as_i64().map_or_else(
        || malformed("#/max_tokens: expected type: Integer, found: something else"),
        Ok,
    )?;
    if max < 1 {
        return malformed(format!("#/max_tokens: {max} is not greater or equal to 1"));
    }
    if max > i64::from(model.max_output) {
        return validation(format!(
            "The model returned the following errors: max_tokens: {max} > {}, which is the maximum allowed number of output tokens for {}",
            model.max_output,
            model.short_name()
        ));
    }
    let mut chat = ChatRequest::new();
    chat.max_tokens = Some(max as u32);
    opt_f64(obj, "temperature", "temperature")?;
    opt_f64(obj, "top_p", "top_p")?;
    chat.stop_sequences = string_list(obj, "stop_sequences");
    let messages = required(obj, "messages")?.as_array().map_or_else(
        || malformed("#/messages: expected type: JSONArray, found: something else"),
        Ok,
    )?;
    for (i, m) in messages.iter().enumerate() {
        let role = match m.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            other => {
                return malformed(format!(
                    "#/messages/{i}/role: {} is not a valid enum value",
                    other.unwrap_or("null")
                ));
            }
        };
        let content = m.get("content").unwrap_or(&Value::Null);
        chat.messages.push(Message {
            role,
            content: anthropic_blocks(content, &format!("messages/{i}/content"))?,
        });
    }
    if let Some(sys) = obj.get("system") {
        chat.system = anthropic_blocks(sys, "system")?;
    }
    if let Some(tools) = obj.get("tools").and_then(Value::as_array) {
        for t in tools {
            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
            let schema = t.get("input_schema");
            check::tool_schema(name, schema)?;
            chat.tools.push(Tool {
                name: name.to_string(),
                description: t
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                schema: schema.cloned().unwrap_or(Value::Null),
            });
            if let Some(ttl) = anthropic_cache(t)? {
                chat.tools_cache_point = Some(ttl);
            }
        }
    }
    if let Some(tc) = obj.get("tool_choice") {
        chat.tool_choice = match tc.get("type").and_then(Value::as_str) {
            Some("any") => ToolChoice::Any,
            Some("tool") => ToolChoice::Tool(
                tc.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            Some("none") => ToolChoice::NoTool,
            _ => ToolChoice::Auto,
        };
    }
    chat.reasoning = converse::reasoning_budget(Some(body))?;
    check::conversation(&chat)?;
    check::capabilities(model, &chat, false)?;
    Ok(chat)
}

fn nova(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    let obj = require_object(body)?;
    allowed_keys(
        obj,
        &[
            "schemaVersion",
            "messages",
            "system",
            "inferenceConfig",
            "toolConfig",
            "additionalModelRequestFields",
        ],
    )?;
    required(obj, "messages")?;
    let mut chat = ChatRequest::new();
    chat.messages = converse::messages(obj.get("messages"))?;
    chat.system = converse::system(obj.get("system"))?;
    if let Some(tc) = obj.get("toolConfig") {
        converse::tool_config(&mut chat, tc)?;
    }
    converse::inference_config(model, &mut chat, obj.get("inferenceConfig"), true)?;
    chat.reasoning = converse::reasoning_budget(obj.get("additionalModelRequestFields"))?;
    check::conversation(&chat)?;
    check::capabilities(model, &chat, false)?;
    Ok(chat)
}

fn titan(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    let obj = require_object(body)?;
    allowed_keys(obj, &["inputText", "textGenerationConfig"])?;
    let text = str_field(obj, "inputText")?;
    let mut chat = ChatRequest::from_prompt(text.to_string());
    if let Some(cfg) = obj.get("textGenerationConfig") {
        let cfg = cfg.as_object().map_or_else(
            || {
                malformed(
                    "#/textGenerationConfig: expected type: JSONObject, found: something else",
                )
            },
            Ok,
        )?;
        allowed_keys(
            cfg,
            &["maxTokenCount", "temperature", "topP", "stopSequences"],
        )?;
        chat.max_tokens = max_int(
            cfg,
            "maxTokenCount",
            "textGenerationConfig/maxTokenCount",
            model.max_output,
        )?;
        opt_f64(cfg, "temperature", "textGenerationConfig/temperature")?;
        opt_f64(cfg, "topP", "textGenerationConfig/topP")?;
        chat.stop_sequences = string_list(cfg, "stopSequences");
    }
    chat.max_tokens.get_or_insert(512);
    Ok(chat)
}

fn llama(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    let obj = require_object(body)?;
    allowed_keys(
        obj,
        &["prompt", "max_gen_len", "temperature", "top_p", "images"],
    )?;
    let mut chat = ChatRequest::from_prompt(str_field(obj, "prompt")?.to_string());
    if obj.get("images").is_some() {
        if !model.caps.images {
            return malformed("#: extraneous key [images] is not permitted");
        }
        chat.messages[0].content.push(Block::Image);
    }
    chat.max_tokens =
        Some(max_int(obj, "max_gen_len", "max_gen_len", model.max_output)?.unwrap_or(512));
    opt_f64(obj, "temperature", "temperature")?;
    opt_f64(obj, "top_p", "top_p")?;
    Ok(chat)
}

fn mistral(model: &Model, body: &Value, chat_capable: bool) -> Result<ChatRequest, BedrockError> {
    let obj = require_object(body)?;
    let mut chat = if chat_capable && obj.contains_key("messages") {
        allowed_keys(
            obj,
            &[
                "messages",
                "max_tokens",
                "temperature",
                "top_p",
                "tools",
                "tool_choice",
            ],
        )?;
        let mut chat = ChatRequest::new();
        let msgs = required(obj, "messages")?.as_array().map_or_else(
            || malformed("#/messages: expected type: JSONArray, found: something else"),
            Ok,
        )?;
        for (i, m) in msgs.iter().enumerate() {
            let text = m
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match m.get("role").and_then(Value::as_str) {
                Some("system") => chat.system.push(Block::Text(text)),
                Some("user") => chat.messages.push(Message {
                    role: Role::User,
                    content: vec![Block::Text(text)],
                }),
                Some("assistant") => chat.messages.push(Message {
                    role: Role::Assistant,
                    content: vec![Block::Text(text)],
                }),
                Some("tool") => chat.messages.push(Message {
                    role: Role::User,
                    content: vec![Block::Text(format!("Tool result: {text}"))],
                }),
                other => {
                    return malformed(format!(
                        "#/messages/{i}/role: {} is not a valid enum value",
                        other.unwrap_or("null")
                    ));
                }
            }
        }
        if let Some(tools) = obj.get("tools").and_then(Value::as_array) {
            for t in tools {
                let f = t.get("function").unwrap_or(&Value::Null);
                let name = f.get("name").and_then(Value::as_str).unwrap_or("");
                let schema = f.get("parameters");
                check::tool_schema(name, schema)?;
                chat.tools.push(Tool {
                    name: name.to_string(),
                    description: f
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    schema: schema.cloned().unwrap_or(Value::Null),
                });
            }
        }
        if obj.get("tool_choice").and_then(Value::as_str) == Some("any") {
            chat.tool_choice = ToolChoice::Any;
        }
        check::conversation(&chat)?;
        chat
    } else {
        allowed_keys(
            obj,
            &[
                "prompt",
                "max_tokens",
                "temperature",
                "top_p",
                "top_k",
                "stop",
            ],
        )?;
        let mut chat = ChatRequest::from_prompt(str_field(obj, "prompt")?.to_string());
        chat.stop_sequences = string_list(obj, "stop");
        chat
    };
    chat.max_tokens =
        Some(max_int(obj, "max_tokens", "max_tokens", model.max_output)?.unwrap_or(512));
    opt_f64(obj, "temperature", "temperature")?;
    opt_f64(obj, "top_p", "top_p")?;
    Ok(chat)
}

fn cohere(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    let obj = require_object(body)?;
    allowed_keys(
        obj,
        &[
            "message",
            "chat_history",
            "documents",
            "search_queries_only",
            "preamble",
            "max_tokens",
            "temperature",
            "p",
            "k",
            "prompt_truncation",
            "frequency_penalty",
            "presence_penalty",
            "seed",
            "return_prompt",
            "tools",
            "tool_results",
            "stop_sequences",
            "raw_prompting",
        ],
    )?;
    let message = str_field(obj, "message")?;
    let mut chat = ChatRequest::new();
    if let Some(p) = obj.get("preamble").and_then(Value::as_str) {
        chat.system.push(Block::Text(p.to_string()));
    }
    for h in obj
        .get("chat_history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = match h.get("role").and_then(Value::as_str) {
            Some("CHATBOT") => Role::Assistant,
            _ => Role::User,
        };
        let text = h
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match chat.messages.last_mut() {
            Some(last) if last.role == role => last.content.push(Block::Text(text)),
            _ => chat.messages.push(Message {
                role,
                content: vec![Block::Text(text)],
            }),
        }
    }
    let mut text = message.to_string();
    if let Some(results) = obj.get("tool_results").and_then(Value::as_array) {
        chat.tool_choice = ToolChoice::NoTool;
        for r in results {
            text.push_str(&format!(
                " Tool result: {}",
                r.get("outputs").unwrap_or(&Value::Null)
            ));
        }
    }
    match chat.messages.last_mut() {
        Some(last) if last.role == Role::User => last.content.push(Block::Text(text)),
        _ => chat.messages.push(Message {
            role: Role::User,
            content: vec![Block::Text(text)],
        }),
    }
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
        let mut props = Map::new();
        let mut req = Vec::new();
        for (p, d) in t
            .get("parameter_definitions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ty = match d.get("type").and_then(Value::as_str) {
                Some("int") => "integer",
                Some("float") => "number",
                Some("bool") => "boolean",
                _ => "string",
            };
            props.insert(p.clone(), json!({"type": ty}));
            if d.get("required").and_then(Value::as_bool) == Some(true) {
                req.push(json!(p));
            }
        }
        chat.tools.push(Tool {
            name: name.to_string(),
            description: t
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            schema: json!({"type": "object", "properties": props, "required": req}),
        });
    }
    chat.max_tokens =
        Some(max_int(obj, "max_tokens", "max_tokens", model.max_output)?.unwrap_or(512));
    opt_f64(obj, "temperature", "temperature")?;
    opt_f64(obj, "p", "p")?;
    chat.stop_sequences = string_list(obj, "stop_sequences");
    Ok(chat)
}

/// Extra fields a guardrail intervention adds to a native body.
#[derive(Debug, Clone, Default)]
pub struct NativeExtras {
    pub guardrail_intervened: bool,
    pub trace: Option<Value>,
    /// `amazon-bedrock-invocationMetrics` (stream chunks only).
    pub metrics: Option<Value>,
}

/// Anthropic content blocks for a generation.
pub fn anthropic_content(g: &Generation) -> Vec<Value> {
    g.blocks
        .iter()
        .map(|b| match b {
            OutBlock::Reasoning { text, signature } => {
                json!({"type": "thinking", "thinking": text, "signature": signature})
            }
            OutBlock::Text(t) => json!({"type": "text", "text": t}),
            OutBlock::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        })
        .collect()
}

/// Nova/Converse content blocks for a generation.
pub fn converse_content(g: &Generation) -> Vec<Value> {
    g.blocks
        .iter()
        .map(|b| match b {
            OutBlock::Reasoning { text, signature } => {
                json!({"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}})
            }
            OutBlock::Text(t) => json!({"text": t}),
            OutBlock::ToolUse { id, name, input } => json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}),
        })
        .collect()
}

pub fn short_stop(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        _ => "stop",
    }
}

pub fn titan_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens => "LENGTH",
        StopReason::StopSequence => "STOP_CRITERIA_MET",
        StopReason::GuardrailIntervened => "CONTENT_FILTERED",
        _ => "FINISH",
    }
}

pub fn cohere_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens => "MAX_TOKENS",
        StopReason::GuardrailIntervened => "ERROR_TOXIC",
        _ => "COMPLETE",
    }
}

pub fn anthropic_stop(stop: StopReason) -> &'static str {
    match stop {
        StopReason::GuardrailIntervened => "end_turn",
        s => s.as_str(),
    }
}

/// The family's non-streaming response body.
pub fn response(
    model: &Model,
    chat: &ChatRequest,
    g: &Generation,
    usage: &Usage,
    id: &str,
    extras: &NativeExtras,
) -> Value {
    let text = g.text();
    let mut body = match model.family {
        Family::Anthropic => json!({
            "id": format!("msg_bdrk_{id}"),
            "type": "message",
            "role": "assistant",
            "model": model.short_name(),
            "content": anthropic_content(g),
            "stop_reason": anthropic_stop(g.stop_reason),
            "stop_sequence": g.stop_sequence,
            "usage": {
                "input_tokens": usage.input,
                "cache_creation_input_tokens": usage.cache_write,
                "cache_read_input_tokens": usage.cache_read,
                "output_tokens": usage.output,
            },
        }),
        Family::Nova => json!({
            "output": {"message": {"role": "assistant", "content": converse_content(g)}},
            "stopReason": g.stop_reason.as_str(),
            "usage": {
                "inputTokens": usage.input,
                "outputTokens": usage.output,
                "totalTokens": usage.all_input() + usage.output,
                "cacheReadInputTokenCount": usage.cache_read,
                "cacheWriteInputTokenCount": usage.cache_write,
            },
        }),
        Family::Titan => json!({
            "inputTextTokenCount": usage.all_input(),
            "results": [{"tokenCount": usage.output, "outputText": text, "completionReason": titan_reason(g.stop_reason)}],
        }),
        Family::Llama => json!({
            "generation": text,
            "prompt_token_count": usage.all_input(),
            "generation_token_count": usage.output,
            "stop_reason": short_stop(g.stop_reason),
        }),
        Family::Mistral => {
            json!({"outputs": [{"text": text, "stop_reason": short_stop(g.stop_reason)}]})
        }
        Family::MistralChat => {
            let calls: Vec<Value> = tool_calls(g)
                .map(|(id, name, input)| json!({"id": id, "function": {"name": name, "arguments": input.to_string()}}))
                .collect();
            let mut message = json!({"role": "assistant", "content": text});
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            json!({"choices": [{"index": 0, "message": message, "stop_reason": short_stop(g.stop_reason)}]})
        }
        Family::Cohere => {
            let mut body = json!({
                "response_id": id,
                "text": text,
                "generation_id": format!("gen-{id}"),
                "chat_history": [
                    {"role": "USER", "message": chat.last_user_text().trim_end()},
                    {"role": "CHATBOT", "message": text},
                ],
                "finish_reason": cohere_reason(g.stop_reason),
            });
            let calls: Vec<Value> = tool_calls(g)
                .map(|(_, name, input)| json!({"name": name, "parameters": input}))
                .collect();
            if !calls.is_empty() {
                body["tool_calls"] = Value::Array(calls);
            }
            body
        }
        Family::TitanEmbed | Family::CohereEmbed | Family::NovaReel => Value::Null,
    };
    apply_extras(&mut body, extras);
    body
}

pub fn apply_extras(body: &mut Value, extras: &NativeExtras) {
    if let Value::Object(o) = body {
        if extras.guardrail_intervened {
            o.insert("amazon-bedrock-guardrailAction".into(), json!("INTERVENED"));
        }
        if let Some(t) = &extras.trace {
            o.insert("amazon-bedrock-trace".into(), json!({"guardrail": t}));
        }
        if let Some(m) = &extras.metrics {
            o.insert("amazon-bedrock-invocationMetrics".into(), m.clone());
        }
    }
}

fn tool_calls(g: &Generation) -> impl Iterator<Item = (&String, &String, &Value)> {
    g.blocks.iter().filter_map(|b| match b {
        OutBlock::ToolUse { id, name, input } => Some((id, name, input)),
        _ => None,
    })
}

/// Embedding models: deterministic unit vectors seeded by the input text.
pub fn embed(model: &Model, body: &Value, seed: u64) -> Result<(Value, u32), BedrockError> {
    let obj = require_object(body)?;
    let vector = |text: &str, dims: usize| -> Vec<f64> {
        let mut h = crate::tokens::Fnv(seed);
        h.write(text.as_bytes());
        let mut rng = crate::generate::Rng::new(h.0);
        let v: Vec<f64> = (0..dims).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
            .max(f64::EPSILON);
        v.into_iter()
            .map(|x| ((x / norm) * 1e6).round() / 1e6)
            .collect()
    };
    match model.family {
        Family::TitanEmbed => {
            allowed_keys(
                obj,
                &["inputText", "dimensions", "normalize", "embeddingTypes"],
            )?;
            let text = str_field(obj, "inputText")?;
            let dims = match obj.get("dimensions").map(Value::as_u64) {
                None => 1024,
                Some(Some(d @ (256 | 512 | 1024))) => d as usize,
                Some(_) => return malformed("#/dimensions: must be one of 256, 512, 1024"),
            };
            let tokens = crate::tokens::count_text(text);
            Ok((
                json!({"embedding": vector(text, dims), "inputTextTokenCount": tokens}),
                tokens,
            ))
        }
        _ => {
            allowed_keys(
                obj,
                &[
                    "texts",
                    "images",
                    "input_type",
                    "truncate",
                    "embedding_types",
                ],
            )?;
            let texts = required(obj, "texts")?.as_array().map_or_else(
                || malformed("#/texts: expected type: JSONArray, found: something else"),
                Ok,
            )?;
            str_field(obj, "input_type")?;
            let texts: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
            let tokens = texts.iter().map(|t| crate::tokens::count_text(t)).sum();
            let embeddings: Vec<Vec<f64>> = texts.iter().map(|t| vector(t, 1024)).collect();
            Ok((
                json!({"embeddings": embeddings, "id": format!("{seed:016x}"), "response_type": "embeddings_floats", "texts": texts}),
                tokens,
            ))
        }
    }
}
