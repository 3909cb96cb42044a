//! Walks native InvokeModel bodies, per family. Generation parameters (`max_tokens`,
//! `temperature`, `textGenerationConfig`, ...) are not input and are ignored.

use serde_json::{Map, Value};

use super::tally::{Tally, ToolChoice, array, object, opt_str, shape_error};
use super::{Family, PartKind, converse};
use crate::error::GatewayError;

pub(super) fn walk(t: &mut Tally, body: &Value) -> Result<(), GatewayError> {
    let obj = object(body, "request body")?;
    let found = match t.family() {
        Family::Anthropic => anthropic(t, obj)?,
        // Nova's `messages-v1` body uses Converse's block shapes (bytes as base64).
        Family::AmazonNova => {
            let has_input = obj.contains_key("messages") || obj.contains_key("system");
            if has_input {
                converse::walk(t, body)?;
            }
            has_input
        }
        Family::AmazonTitan => string_field(t, obj, "inputText")?,
        Family::MetaLlama => llama(t, obj)?,
        Family::Mistral => mistral(t, obj)?,
        Family::Cohere => cohere(t, obj)?,
    };
    if found {
        Ok(())
    } else {
        Err(GatewayError::invalid_request(format!(
            "request body has no input this estimator knows for {} (expected {})",
            t.family(),
            t.family().input_fields()
        )))
    }
}

/// Counts `obj[key]` as text if present; `Ok(true)` if it was.
fn string_field(t: &mut Tally, obj: &Map<String, Value>, key: &str) -> Result<bool, GatewayError> {
    match opt_str(obj, key, "request body")? {
        Some(s) => {
            t.text(s);
            Ok(true)
        }
        None => Ok(false),
    }
}

// ------------------------------------------------------------------------------ Anthropic

fn anthropic(t: &mut Tally, obj: &Map<String, Value>) -> Result<bool, GatewayError> {
    let mut found = false;
    if let Some(system) = obj.get("system").filter(|v| !v.is_null()) {
        found = true;
        anthropic_content(t, system, "system")?;
    }
    if let Some(messages) = obj.get("messages").filter(|v| !v.is_null()) {
        found = true;
        for (i, msg) in array(messages, "messages")?.iter().enumerate() {
            let path = format!("messages[{i}]");
            let m = object(msg, &path)?;
            t.message();
            let content = m
                .get("content")
                .ok_or_else(|| shape_error(&path, "a `content`"))?;
            anthropic_content(t, content, &format!("{path}.content"))?;
        }
    }
    if let Some(tools) = obj.get("tools").filter(|v| !v.is_null()) {
        let tools = array(tools, "tools")?;
        for (i, tool) in tools.iter().enumerate() {
            let path = format!("tools[{i}]");
            let tool = object(tool, &path)?;
            for key in ["name", "description"] {
                if let Some(s) = opt_str(tool, key, &path)? {
                    t.text(s);
                }
            }
            if let Some(schema) = tool.get("input_schema") {
                t.json(schema);
            } else if tool.contains_key("type") {
                // Server/client tools (`web_search_20250305`, `bash_20250124`, ...) bring their own
                // hidden definitions.
                t.flag(
                    &path,
                    PartKind::Unknown,
                    "built-in tool: its definition size is not documented",
                );
            }
        }
        if !tools.is_empty() {
            let forced = obj
                .get("tool_choice")
                .and_then(|c| c.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|ty| ty == "any" || ty == "tool");
            t.tools_present(if forced {
                ToolChoice::Forced
            } else {
                ToolChoice::Auto
            });
        }
    }
    Ok(found)
}

/// Content: a string or an array of typed blocks.
fn anthropic_content(t: &mut Tally, content: &Value, path: &str) -> Result<(), GatewayError> {
    match content {
        Value::String(s) => t.text(s),
        Value::Array(blocks) => {
            for (j, block) in blocks.iter().enumerate() {
                anthropic_block(t, block, &format!("{path}[{j}]"))?;
            }
        }
        _ => return Err(shape_error(path, "a string or an array of content blocks")),
    }
    Ok(())
}

fn anthropic_block(t: &mut Tally, block: &Value, path: &str) -> Result<(), GatewayError> {
    let b = object(block, path)?;
    let ty = opt_str(b, "type", path)?.unwrap_or("");
    match ty {
        "text" => {
            if let Some(s) = opt_str(b, "text", path)? {
                t.text(s);
            }
        }
        "image" => {
            let source = b.get("source").and_then(Value::as_object);
            let data = source
                .filter(|s| s.get("type").and_then(Value::as_str) == Some("base64"))
                .and_then(|s| s.get("data"))
                .and_then(Value::as_str);
            match data {
                Some(data) => t.image_base64(path, data),
                None => t.flag(
                    path,
                    PartKind::Image,
                    "image by URL or file ID: not readable locally",
                ),
            }
        }
        "document" => {
            let source = b.get("source").and_then(Value::as_object);
            match source.and_then(|s| s.get("type")).and_then(Value::as_str) {
                Some("text") => {
                    if let Some(s) = source.and_then(|s| s.get("data")).and_then(Value::as_str) {
                        t.text(s);
                    }
                }
                Some("content") => {
                    if let Some(c) = source.and_then(|s| s.get("content")) {
                        anthropic_content(t, c, &format!("{path}.source.content"))?;
                    }
                }
                _ => t.flag(
                    path,
                    PartKind::Document,
                    "PDF/binary document: no documented token rule; count it with Bedrock",
                ),
            }
        }
        "tool_use" | "server_tool_use" => {
            for key in ["id", "name"] {
                if let Some(s) = opt_str(b, key, path)? {
                    t.text(s);
                }
            }
            if let Some(input) = b.get("input") {
                t.json(input);
            }
        }
        "tool_result" => {
            if let Some(id) = opt_str(b, "tool_use_id", path)? {
                t.text(id);
            }
            if let Some(c) = b.get("content") {
                anthropic_content(t, c, &format!("{path}.content"))?;
            }
        }
        "thinking" => {
            if let Some(s) = opt_str(b, "thinking", path)? {
                t.text(s);
            }
        }
        "redacted_thinking" => {
            // Encrypted text holds at most one token per byte of its ciphertext.
            let bytes = b.get("data").and_then(Value::as_str).map_or(0, str::len);
            t.flag_bounded(
                path,
                PartKind::RedactedReasoning,
                "redacted thinking is encrypted",
                Some(bytes as u64),
            );
        }
        _ => t.flag(
            path,
            PartKind::Unknown,
            format!("unknown content block type {ty:?}"),
        ),
    }
    Ok(())
}

// ------------------------------------------------------------------------------ Llama, Mistral

fn llama(t: &mut Tally, obj: &Map<String, Value>) -> Result<bool, GatewayError> {
    let found = string_field(t, obj, "prompt")?;
    // Llama 3.2 vision bodies carry `images: ["<base64>", ...]`; Bedrock documents no token rule.
    if let Some(images) = obj.get("images").filter(|v| !v.is_null()) {
        for (i, _) in array(images, "images")?.iter().enumerate() {
            t.flag(
                &format!("images[{i}]"),
                PartKind::Image,
                "no documented image token rule for meta-llama",
            );
        }
    }
    Ok(found)
}

fn mistral(t: &mut Tally, obj: &Map<String, Value>) -> Result<bool, GatewayError> {
    let mut found = string_field(t, obj, "prompt")?;
    if let Some(messages) = obj.get("messages").filter(|v| !v.is_null()) {
        found = true;
        chat_messages(t, messages)?;
    }
    if let Some(tools) = obj.get("tools").filter(|v| !v.is_null()) {
        // OpenAI-style `[{type: "function", function: {name, description, parameters}}]`.
        for tool in array(tools, "tools")? {
            t.json(tool.get("function").unwrap_or(tool));
        }
    }
    Ok(found)
}

/// OpenAI-style chat messages: `content` a string or `[{type: "text"|"image_url", ...}]`, plus
/// `tool_calls`.
fn chat_messages(t: &mut Tally, messages: &Value) -> Result<(), GatewayError> {
    for (i, msg) in array(messages, "messages")?.iter().enumerate() {
        let path = format!("messages[{i}]");
        let m = object(msg, &path)?;
        t.message();
        match m.get("content") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => t.text(s),
            Some(Value::Array(parts)) => {
                for (j, part) in parts.iter().enumerate() {
                    let pp = format!("{path}.content[{j}]");
                    let p = object(part, &pp)?;
                    match opt_str(p, "type", &pp)? {
                        Some("text") => {
                            if let Some(s) = opt_str(p, "text", &pp)? {
                                t.text(s);
                            }
                        }
                        Some("image_url") => t.flag(
                            &pp,
                            PartKind::Image,
                            "no documented image token rule for this family",
                        ),
                        other => t.flag(
                            &pp,
                            PartKind::Unknown,
                            format!("unknown content part {other:?}"),
                        ),
                    }
                }
            }
            Some(_) => {
                return Err(shape_error(
                    &format!("{path}.content"),
                    "a string or an array",
                ));
            }
        }
        if let Some(calls) = m.get("tool_calls").filter(|v| !v.is_null()) {
            t.json(calls);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------ Cohere

fn cohere(t: &mut Tally, obj: &Map<String, Value>) -> Result<bool, GatewayError> {
    let mut found = false;
    for key in ["preamble", "message", "prompt"] {
        found |= string_field(t, obj, key)?;
    }
    if found {
        t.message();
    }
    if let Some(history) = obj.get("chat_history").filter(|v| !v.is_null()) {
        found = true;
        for (i, turn) in array(history, "chat_history")?.iter().enumerate() {
            let path = format!("chat_history[{i}]");
            let turn = object(turn, &path)?;
            t.message();
            if let Some(s) = opt_str(turn, "message", &path)? {
                t.text(s);
            }
            if let Some(calls) = turn.get("tool_calls") {
                t.json(calls);
            }
        }
    }
    // Embeddings: `texts: [...]`.
    if let Some(texts) = obj.get("texts").filter(|v| !v.is_null()) {
        found = true;
        for (i, s) in array(texts, "texts")?.iter().enumerate() {
            match s {
                Value::String(s) => t.text(s),
                _ => return Err(shape_error(&format!("texts[{i}]"), "a string")),
            }
        }
    }
    // RAG documents, tool definitions and tool results reach the model as text.
    for key in ["documents", "tools", "tool_results"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            t.json(v);
        }
    }
    Ok(found)
}
