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

/// The `anthropic_beta` values Bedrock knows for Claude (the union over its Claude models; the
/// gateway's catalog keeps the per-model lists). Any other value is refused as Bedrock does.
const KNOWN_BETAS: &[&str] = &[
    "computer-use-2024-10-22",
    "computer-use-2025-01-24",
    "computer-use-2025-11-24",
    "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14",
    "output-128k-2025-02-19",
    "dev-full-thinking-2025-05-14",
    "context-1m-2025-08-07",
    "context-management-2025-06-27",
    "effort-2025-11-24",
    "tool-search-tool-2025-10-19",
    "tool-examples-2025-10-29",
];

/// Checks `anthropic_beta` and the fields that need a beta (`context_management`,
/// `output_config`), answering like Bedrock: `invalid beta flag` for an unknown value, the
/// model's validation error for a gated field sent without its beta.
fn check_betas(obj: &serde_json::Map<String, Value>) -> Result<(), BedrockError> {
    let betas: Vec<&str> = match obj.get("anthropic_beta") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(_) => return malformed("#/anthropic_beta: expected type: JSONArray"),
    };
    if betas.iter().any(|b| !KNOWN_BETAS.contains(b)) {
        return validation("invalid beta flag");
    }
    let effort = obj.get("output_config").and_then(|oc| oc.get("effort"));
    let gated = [
        (
            "context_management",
            obj.contains_key("context_management"),
            "context-management-2025-06-27",
        ),
        (
            "output_config.effort",
            effort.is_some(),
            "effort-2025-11-24",
        ),
    ];
    for (field, present, beta) in gated {
        if present && !betas.contains(&beta) {
            return validation(format!(
                "The model returned the following errors: {field}: Extra inputs are not permitted"
            ));
        }
    }
    if let Some(edits) = obj.get("context_management").map(|c| c.get("edits")) {
        let ok = edits.and_then(Value::as_array).is_some_and(|e| {
            e.iter().all(|x| {
                matches!(
                    x.get("type").and_then(Value::as_str),
                    Some("clear_tool_uses_20250919" | "clear_thinking_20251015")
                )
            })
        });
        if !ok {
            return validation(
                "The model returned the following errors: context_management.edits: Input should be a list of clear_tool_uses_20250919 or clear_thinking_20251015 edits",
            );
        }
    }
    if effort.is_some_and(|e| !matches!(e.as_str(), Some("low" | "medium" | "high"))) {
        return validation(
            "The model returned the following errors: output_config.effort: Input should be 'low', 'medium' or 'high'",
        );
    }
    Ok(())
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
            "context_management",
            "output_config",
        ],
    )?;
    check_betas(obj)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: Value) -> Result<(), String> {
        check_betas(body.as_object().unwrap()).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn betas_and_the_fields_they_gate_are_checked_like_bedrock() {
        assert!(check(json!({})).is_ok());
        assert!(check(json!({"anthropic_beta": ["interleaved-thinking-2025-05-14"]})).is_ok());
        let unknown = check(json!({"anthropic_beta": ["claude-code-20250219"]})).unwrap_err();
        assert!(unknown.contains("invalid beta flag"), "{unknown}");
        let cm = json!({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]});
        let without = check(json!({"context_management": cm})).unwrap_err();
        assert!(without.contains("context_management"), "{without}");
        assert!(
            check(json!({"context_management": cm, "anthropic_beta": ["context-management-2025-06-27"]}))
                .is_ok()
        );
        assert!(
            check(json!({"context_management": {"edits": [{"type": "x"}]}, "anthropic_beta": ["context-management-2025-06-27"]}))
                .is_err()
        );
        assert!(
            check(json!({"output_config": {"effort": "high"}, "anthropic_beta": ["effort-2025-11-24"]}))
                .is_ok()
        );
        assert!(check(json!({"output_config": {"effort": "high"}})).is_err());
    }
}
