//! Cohere Command and Embed: `message`, `chat_history`, `preamble`, `prompt`, `texts` in; `text` or `generations[]` out.

use serde_json::Value;

use super::n;
use crate::cost::Usage;
use crate::text_walk::{Visit, tool_definitions, visit_all, visit_key};

/// The output-token limit in the native body.
pub(super) const MAX_TOKENS: &str = "/max_tokens";

/// What the estimator needs to find in a native body.
pub(super) const INPUT_FIELDS: &str = "`message`, `chat_history`, `preamble`, `prompt` or `texts`";

/// Cohere's `meta.billed_units` when present; otherwise the token-count headers or the stream
/// metrics carry the counts.
pub(super) fn usage(body: &Value) -> Usage {
    Usage::new(
        n(body, "/meta/billed_units/input_tokens"),
        n(body, "/meta/billed_units/output_tokens"),
    )
}

pub(super) fn input_texts(body: &mut Value, f: &mut Visit) {
    for key in ["message", "preamble", "prompt"] {
        visit_key(body, key, "body", f);
    }
    if let Some(Value::Array(turns)) = body.get_mut("chat_history") {
        for (i, t) in turns.iter_mut().enumerate() {
            visit_key(t, "message", &format!("chat_history[{i}]"), f);
        }
    }
    for key in ["texts", "documents", "tool_results"] {
        if let Some(v) = body.get_mut(key) {
            visit_all(v, key, f);
        }
    }
    if let Some(tools) = body.get_mut("tools") {
        tool_definitions(tools, "tools", "", "/parameter_definitions", f);
    }
}

pub(super) fn output_texts(body: &mut Value, f: &mut Visit) {
    visit_key(body, "text", "body", f);
    if let Some(Value::Array(gens)) = body.get_mut("generations") {
        for (i, g) in gens.iter_mut().enumerate() {
            visit_key(g, "text", &format!("generations[{i}]"), f);
        }
    }
    if let Some(calls) = body.get_mut("tool_calls") {
        visit_all(calls, "tool_calls", f);
    }
}
