//! Claude: Anthropic's Messages body on InvokeModel, its answer and usage.

use serde_json::Value;

use super::n;
use crate::cost::Usage;
use crate::text_walk::{Visit, tool_definitions, visit_all, visit_key};

/// The output-token limit in the native body.
pub(super) const MAX_TOKENS: &str = "/max_tokens";

/// What the estimator needs to find in a native body.
pub(super) const INPUT_FIELDS: &str = "`messages` and/or `system`";

/// Usage of an answer, or of a stream's `message_start` (under `message`).
pub(super) fn usage(body: &Value) -> Usage {
    let u = body
        .get("usage")
        .or_else(|| body.pointer("/message/usage"))
        .cloned()
        .unwrap_or(Value::Null);
    let one_hour = n(&u, "/cache_creation/ephemeral_1h_input_tokens");
    let writes = n(&u, "/cache_creation_input_tokens");
    Usage {
        input_tokens: n(&u, "/input_tokens"),
        output_tokens: n(&u, "/output_tokens"),
        cache_read_tokens: n(&u, "/cache_read_input_tokens"),
        cache_write_5m_tokens: writes.saturating_sub(one_hour),
        cache_write_1h_tokens: one_hour.min(writes),
    }
}

/// The caller's texts: `system`, `messages[].content`, tool definitions.
pub(super) fn input_texts(body: &mut Value, f: &mut Visit) {
    if let Some(s) = body.get_mut("system") {
        anthropic_content(s, "system", f);
    }
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        for (i, m) in messages.iter_mut().enumerate() {
            if let Some(c) = m.get_mut("content") {
                anthropic_content(c, &format!("messages[{i}].content"), f);
            }
        }
    }
    if let Some(tools) = body.get_mut("tools") {
        tool_definitions(tools, "tools", "", "/input_schema", f);
    }
}

/// The model's texts: `content[]` text, thinking and tool-call input.
pub(super) fn output_texts(body: &mut Value, f: &mut Visit) {
    if let Some(Value::Array(blocks)) = body.get_mut("content") {
        for (i, b) in blocks.iter_mut().enumerate() {
            let p = format!("content[{i}]");
            visit_key(b, "text", &p, f);
            visit_key(b, "thinking", &p, f);
            if let Some(input) = b.get_mut("input") {
                visit_all(input, &format!("{p}.input"), f);
            }
        }
    }
}

/// Anthropic content: a string, or blocks (`text`, `tool_result` content, `document` text
/// sources, `tool_use` input strings). `thinking` blocks are left alone (signed).
fn anthropic_content(c: &mut Value, path: &str, f: &mut Visit) {
    match c {
        Value::String(s) => f(path, s),
        Value::Array(blocks) => {
            for (i, b) in blocks.iter_mut().enumerate() {
                let p = format!("{path}[{i}]");
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => visit_key(b, "text", &p, f),
                    Some("tool_result") => {
                        if let Some(c) = b.get_mut("content") {
                            anthropic_content(c, &format!("{p}.content"), f);
                        }
                    }
                    Some("document") => {
                        if let Some(s) = b.get_mut("source") {
                            let sp = format!("{p}.source");
                            if s.get("type").and_then(Value::as_str) == Some("text") {
                                visit_key(s, "data", &sp, f);
                            }
                            if let Some(c) = s.get_mut("content") {
                                anthropic_content(c, &format!("{sp}.content"), f);
                            }
                        }
                    }
                    Some("tool_use") => {
                        if let Some(input) = b.get_mut("input") {
                            visit_all(input, &format!("{p}.input"), f);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}
