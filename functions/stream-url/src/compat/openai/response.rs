//! The Converse answer -> a `chat.completion` (finish reason and usage shared with streaming).

use serde_json::{Value, json};

use inference_core::clock::unix_seconds;

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
        "created": unix_seconds(),
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
