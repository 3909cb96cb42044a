//! Mistral and Mixtral: a `prompt` or OpenAI-style chat `messages` in; `outputs[]` or `choices[]` out.

use serde_json::Value;

use crate::cost::Usage;
use crate::text_walk::{Visit, tool_definitions, visit_all, visit_key};

/// The output-token limit in the native body.
pub(super) const MAX_TOKENS: &str = "/max_tokens";

/// What the estimator needs to find in a native body.
pub(super) const INPUT_FIELDS: &str = "`prompt` or `messages`";

/// Mistral bodies carry no counts on Bedrock: the token-count headers (read by the InvokeModel
/// call: `pipeline::token_headers` in inference-core) or the stream metrics do.
pub(super) fn usage(_body: &Value) -> Usage {
    Usage::default()
}

pub(super) fn input_texts(body: &mut Value, f: &mut Visit) {
    visit_key(body, "prompt", "body", f);
    if let Some(m) = body.get_mut("messages") {
        chat_messages(m, f);
    }
    if let Some(tools) = body.get_mut("tools") {
        tool_definitions(tools, "tools", "function", "/parameters", f);
    }
}

pub(super) fn output_texts(body: &mut Value, f: &mut Visit) {
    if let Some(Value::Array(outputs)) = body.get_mut("outputs") {
        for (i, o) in outputs.iter_mut().enumerate() {
            visit_key(o, "text", &format!("outputs[{i}]"), f);
        }
    }
    if let Some(Value::Array(choices)) = body.get_mut("choices") {
        for (i, c) in choices.iter_mut().enumerate() {
            if let Some(m) = c.get_mut("message") {
                let p = format!("choices[{i}].message");
                visit_key(m, "content", &p, f);
                if let Some(calls) = m.get_mut("tool_calls") {
                    visit_all(calls, &format!("{p}.tool_calls"), f);
                }
            }
        }
    }
}

/// OpenAI-style chat messages (Mistral): `content` a string or `[{type: text, text}]`.
fn chat_messages(messages: &mut Value, f: &mut Visit) {
    let Some(list) = messages.as_array_mut() else {
        return;
    };
    for (i, m) in list.iter_mut().enumerate() {
        let p = format!("messages[{i}].content");
        match m.get_mut("content") {
            Some(Value::String(s)) => f(&p, s),
            Some(Value::Array(parts)) => {
                for (j, part) in parts.iter_mut().enumerate() {
                    visit_key(part, "text", &format!("{p}[{j}]"), f);
                }
            }
            _ => {}
        }
    }
}
