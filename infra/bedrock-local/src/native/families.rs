//! Native bodies of the other text families: Nova, Titan, Llama, Mistral and Cohere.

use serde_json::{Map, Value, json};

use super::{allowed_keys, max_int, opt_f64, require_object, required, str_field, string_list};
use crate::chat::{Block, ChatRequest, Message, Role, Tool, ToolChoice};
use crate::converse;
use crate::errors::{BedrockError, malformed};
use crate::models::Model;
use crate::validation as check;

pub(super) fn nova(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
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

pub(super) fn titan(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
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

pub(super) fn llama(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
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

pub(super) fn mistral(
    model: &Model,
    body: &Value,
    chat_capable: bool,
) -> Result<ChatRequest, BedrockError> {
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
        chat_messages(obj)?
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

/// OpenAI's chat-completions body, as Bedrock takes it for gpt-oss, DeepSeek and Qwen:
/// `max_completion_tokens` (or the older `max_tokens`) limits the answer.
pub(super) fn openai_chat(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    let obj = require_object(body)?;
    allowed_keys(
        obj,
        &[
            "messages",
            "max_tokens",
            "max_completion_tokens",
            "temperature",
            "top_p",
            "stop",
            "tools",
            "tool_choice",
            "reasoning_effort",
            "stream",
        ],
    )?;
    required(obj, "messages")?;
    let mut chat = chat_messages(obj)?;
    let limit = match max_int(
        obj,
        "max_completion_tokens",
        "max_completion_tokens",
        model.max_output,
    )? {
        Some(n) => Some(n),
        None => max_int(obj, "max_tokens", "max_tokens", model.max_output)?,
    };
    chat.max_tokens = Some(limit.unwrap_or(model.max_output.min(4096)));
    chat.stop_sequences = string_list(obj, "stop");
    opt_f64(obj, "temperature", "temperature")?;
    opt_f64(obj, "top_p", "top_p")?;
    Ok(chat)
}

/// The `messages` (and `tools`) of a chat-completions-style body.
fn chat_messages(obj: &Map<String, Value>) -> Result<ChatRequest, BedrockError> {
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
    if matches!(
        obj.get("tool_choice").and_then(Value::as_str),
        Some("any" | "required")
    ) {
        chat.tool_choice = ToolChoice::Any;
    }
    check::conversation(&chat)?;
    Ok(chat)
}

pub(super) fn cohere(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
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
