//! The Anthropic Messages body (`anthropic_version`, content blocks, tools, thinking, cache
//! points) parsed into the neutral request.

use serde_json::{Value, json};

use super::{allowed_keys, opt_f64, require_object, required, str_field, string_list, type_name};
use crate::chat::{Block, ChatRequest, Message, Role, Tool, ToolChoice, Ttl, tool_result_text};
use crate::converse;
use crate::errors::{BedrockError, malformed, validation};
use crate::models::Model;
use crate::validation as check;

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

/// Parses an Anthropic Messages body.
pub(super) fn parse(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
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
            "output_config",
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
    chat.output_json = crate::structured::native_output_config(model, obj.get("output_config"))?
        .map(|s| crate::structured::answer(&s));
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
