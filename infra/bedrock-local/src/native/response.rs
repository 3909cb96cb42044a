//! The families' own non-streaming response bodies and stop-reason names.

use serde_json::{Value, json};

use super::Usage;
use crate::chat::ChatRequest;
use crate::generate::{Generation, OutBlock, StopReason};
use crate::models::{Family, Model};

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
        Family::OpenAiChat => {
            let calls: Vec<Value> = tool_calls(g)
                .map(|(id, name, input)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}}))
                .collect();
            let mut message = json!({"role": "assistant", "content": text});
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            json!({
                "id": format!("chatcmpl-{id}"),
                "object": "chat.completion",
                "model": model.id,
                "choices": [{"index": 0, "message": message, "finish_reason": openai_finish(g.stop_reason)}],
                "usage": {
                    "prompt_tokens": usage.all_input(),
                    "completion_tokens": usage.output,
                    "total_tokens": usage.all_input() + usage.output,
                },
            })
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

/// OpenAI's `finish_reason` for a stop reason.
pub fn openai_finish(r: StopReason) -> &'static str {
    match r {
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::GuardrailIntervened => "content_filter",
        _ => "stop",
    }
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
