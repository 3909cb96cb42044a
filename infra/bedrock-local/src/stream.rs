//! Streaming: a generation is cut into neutral steps (block start, delta, block stop), and one
//! encoder per wire format turns steps into event-stream frames (ConverseStream events, or
//! `chunk` events carrying each family's native JSON).

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::eventstream::event;
use crate::generate::{Generation, OutBlock, StopReason, pieces};
use crate::models::{Family, Model};
use crate::native::{
    Usage, anthropic_stop, cohere_reason, openai_finish, short_stop, titan_reason,
};
use crate::tokens::count_text;

#[derive(Debug, Clone)]
pub enum BlockKind {
    Text,
    Reasoning,
    ToolUse { id: String, name: String },
}

#[derive(Debug, Clone)]
pub enum Delta {
    Text(String),
    ToolInput(String),
    ReasoningText(String),
    Signature(String),
}

#[derive(Debug, Clone)]
pub enum Step {
    BlockStart {
        index: usize,
        kind: BlockKind,
    },
    Delta {
        index: usize,
        delta: Delta,
        tokens: u32,
    },
    BlockStop {
        index: usize,
    },
}

/// Cuts a generation into steps: one delta per word of text, 16-character slices of tool
/// input JSON, and a final signature delta for reasoning.
pub fn steps(g: &Generation) -> Vec<Step> {
    let mut out = Vec::new();
    for (index, b) in g.blocks.iter().enumerate() {
        match b {
            OutBlock::Text(t) => {
                out.push(Step::BlockStart {
                    index,
                    kind: BlockKind::Text,
                });
                for p in pieces(t) {
                    out.push(Step::Delta {
                        index,
                        tokens: count_text(p),
                        delta: Delta::Text(p.to_string()),
                    });
                }
            }
            OutBlock::Reasoning { text, signature } => {
                out.push(Step::BlockStart {
                    index,
                    kind: BlockKind::Reasoning,
                });
                for p in pieces(text) {
                    out.push(Step::Delta {
                        index,
                        tokens: count_text(p),
                        delta: Delta::ReasoningText(p.to_string()),
                    });
                }
                out.push(Step::Delta {
                    index,
                    tokens: 0,
                    delta: Delta::Signature(signature.clone()),
                });
            }
            OutBlock::ToolUse { id, name, input } => {
                out.push(Step::BlockStart {
                    index,
                    kind: BlockKind::ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                    },
                });
                let json = input.to_string();
                let mut chunk = String::new();
                for c in json.chars() {
                    chunk.push(c);
                    if chunk.len() >= 16 {
                        out.push(Step::Delta {
                            index,
                            tokens: count_text(&chunk),
                            delta: Delta::ToolInput(std::mem::take(&mut chunk)),
                        });
                    }
                }
                if !chunk.is_empty() {
                    out.push(Step::Delta {
                        index,
                        tokens: count_text(&chunk),
                        delta: Delta::ToolInput(chunk),
                    });
                }
            }
        }
        out.push(Step::BlockStop { index });
    }
    out
}

/// Cuts the steps at the first text delta after which `blocked` says the output so far must
/// be stopped, and closes the block with `message`. Returns whether it cut.
pub fn intervene(steps: &mut Vec<Step>, message: &str, blocked: impl Fn(&str) -> bool) -> bool {
    let mut acc = String::new();
    let mut cut = None;
    for (i, s) in steps.iter().enumerate() {
        if let Step::Delta {
            index,
            delta: Delta::Text(t),
            ..
        } = s
        {
            acc.push_str(t);
            if blocked(&acc) {
                cut = Some((i, *index));
                break;
            }
        }
    }
    let Some((i, index)) = cut else { return false };
    steps.truncate(i);
    steps.push(Step::Delta {
        index,
        tokens: count_text(message),
        delta: Delta::Text(message.to_string()),
    });
    steps.push(Step::BlockStop { index });
    true
}

/// What the closing events report.
#[derive(Debug, Clone)]
pub struct StreamEnd {
    pub stop_reason: StopReason,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
    pub latency_ms: u64,
    pub first_byte_ms: u64,
    pub guardrail_trace: Option<Value>,
    pub guardrail_intervened: bool,
}

impl StreamEnd {
    /// `amazon-bedrock-invocationMetrics`: as on Bedrock, `inputTokenCount` leaves out the
    /// prompt-cache reads and writes, which come as their own counts when there are any.
    fn metrics(&self) -> Value {
        let mut m = json!({
            "inputTokenCount": self.usage.input,
            "outputTokenCount": self.usage.output,
            "invocationLatency": self.latency_ms,
            "firstByteLatency": self.first_byte_ms,
        });
        if self.usage.cache_read + self.usage.cache_write > 0 {
            m["cacheReadInputTokenCount"] = json!(self.usage.cache_read);
            m["cacheWriteInputTokenCount"] = json!(self.usage.cache_write);
        }
        m
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Converse,
    Native(Family),
}

/// Turns steps into frames for one wire format.
#[derive(Debug)]
pub struct Encoder {
    pub format: Format,
    model: &'static Model,
    id: String,
    input_tokens: u32,
    output_so_far: u32,
    text: String,
    tools: Vec<(String, String, String)>,
    first_chunk: bool,
}

fn chunk(v: &Value) -> Bytes {
    let raw = serde_json::to_vec(v).unwrap_or_default();
    event(
        "chunk",
        &json!({"bytes": base64::engine::general_purpose::STANDARD.encode(raw)}),
    )
}

/// Converse `usage` object (also used by the non-streaming Converse response).
pub fn converse_usage(u: &Usage) -> Value {
    let mut v = json!({
        "inputTokens": u.input,
        "outputTokens": u.output,
        "totalTokens": u.all_input() + u.output,
    });
    if u.cache_read > 0 || u.cache_write > 0 {
        v["cacheReadInputTokens"] = json!(u.cache_read);
        v["cacheWriteInputTokens"] = json!(u.cache_write);
    }
    if u.cache_write > 0
        && let Some(ttl) = u.cache_ttl
    {
        v["cacheDetails"] = json!([{"ttl": ttl.as_str(), "inputTokens": u.cache_write}]);
    }
    v
}

impl Encoder {
    pub fn new(format: Format, model: &'static Model, id: String, input_tokens: u32) -> Self {
        Encoder {
            format,
            model,
            id,
            input_tokens,
            output_so_far: 0,
            text: String::new(),
            tools: Vec::new(),
            first_chunk: true,
        }
    }

    pub fn model_id(&self) -> &'static str {
        self.model.id
    }

    /// Frames sent before any content.
    pub fn start(&mut self, usage: &Usage) -> Vec<Bytes> {
        match self.format {
            Format::Converse => vec![event("messageStart", &json!({"role": "assistant"}))],
            Format::Native(Family::Nova) => {
                vec![chunk(&json!({"messageStart": {"role": "assistant"}}))]
            }
            Format::Native(Family::Anthropic) => vec![chunk(&json!({
                "type": "message_start",
                "message": {
                    "id": format!("msg_bdrk_{}", self.id),
                    "type": "message",
                    "role": "assistant",
                    "model": self.model.short_name(),
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {
                        "input_tokens": usage.input,
                        "cache_creation_input_tokens": usage.cache_write,
                        "cache_read_input_tokens": usage.cache_read,
                        "output_tokens": 1,
                    },
                },
            }))],
            Format::Native(Family::Cohere) => vec![chunk(&json!({
                "is_finished": false, "event_type": "stream-start", "generation_id": format!("gen-{}", self.id),
            }))],
            Format::Native(_) => Vec::new(),
        }
    }

    /// The frame for one step, if this format has one.
    pub fn step(&mut self, s: &Step) -> Option<Bytes> {
        if let Step::Delta { tokens, .. } = s {
            self.output_so_far += tokens;
        }
        match self.format {
            Format::Converse => Some(self.converse_step(s, false)?),
            Format::Native(Family::Nova) => Some(self.converse_step(s, true)?),
            Format::Native(Family::Anthropic) => Some(chunk(&anthropic_step(s)?)),
            Format::Native(_) => self.text_step(s),
        }
    }

    fn converse_step(&mut self, s: &Step, nova: bool) -> Option<Bytes> {
        let (name, payload) = match s {
            Step::BlockStart {
                index,
                kind: BlockKind::ToolUse { id, name },
            } => (
                "contentBlockStart",
                json!({"start": {"toolUse": {"toolUseId": id, "name": name}}, "contentBlockIndex": index}),
            ),
            Step::BlockStart { .. } => return None,
            Step::Delta { index, delta, .. } => {
                let d = match delta {
                    Delta::Text(t) => json!({"text": t}),
                    Delta::ToolInput(t) => json!({"toolUse": {"input": t}}),
                    Delta::ReasoningText(t) => json!({"reasoningContent": {"text": t}}),
                    Delta::Signature(t) => json!({"reasoningContent": {"signature": t}}),
                };
                (
                    "contentBlockDelta",
                    json!({"delta": d, "contentBlockIndex": index}),
                )
            }
            Step::BlockStop { index } => ("contentBlockStop", json!({"contentBlockIndex": index})),
        };
        Some(if nova {
            chunk(&json!({ name: payload }))
        } else {
            event(name, &payload)
        })
    }

    fn text_step(&mut self, s: &Step) -> Option<Bytes> {
        match s {
            Step::BlockStart {
                kind: BlockKind::ToolUse { id, name },
                ..
            } => {
                self.tools.push((id.clone(), name.clone(), String::new()));
                None
            }
            Step::Delta {
                delta: Delta::ToolInput(t),
                ..
            } => {
                if let Some(last) = self.tools.last_mut() {
                    last.2.push_str(t);
                }
                None
            }
            Step::Delta {
                delta: Delta::Text(t),
                ..
            } => {
                self.text.push_str(t);
                let first = std::mem::replace(&mut self.first_chunk, false);
                let input = if first {
                    json!(self.input_tokens)
                } else {
                    Value::Null
                };
                let v = match self.format {
                    Format::Native(Family::Titan) => json!({
                        "outputText": t, "index": 0, "totalOutputTextTokenCount": self.output_so_far,
                        "completionReason": null, "inputTextTokenCount": input,
                    }),
                    Format::Native(Family::Llama) => json!({
                        "generation": t, "prompt_token_count": input,
                        "generation_token_count": self.output_so_far, "stop_reason": null,
                    }),
                    Format::Native(Family::Mistral) => {
                        json!({"outputs": [{"text": t, "stop_reason": null}]})
                    }
                    Format::Native(Family::MistralChat) => json!({
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": t}, "stop_reason": null}],
                    }),
                    Format::Native(Family::OpenAiChat) => json!({
                        "id": format!("chatcmpl-{}", self.id), "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}],
                    }),
                    _ => json!({"is_finished": false, "event_type": "text-generation", "text": t}),
                };
                Some(chunk(&v))
            }
            _ => None,
        }
    }

    /// Closing frames: stop reason, usage and metrics.
    pub fn finish(&mut self, end: &StreamEnd) -> Vec<Bytes> {
        let metrics = end.metrics();
        let guard = |mut v: Value| {
            if let Value::Object(o) = &mut v {
                if end.guardrail_intervened {
                    o.insert("amazon-bedrock-guardrailAction".into(), json!("INTERVENED"));
                }
                if let Some(t) = &end.guardrail_trace {
                    o.insert("amazon-bedrock-trace".into(), json!({"guardrail": t}));
                }
                o.insert("amazon-bedrock-invocationMetrics".into(), metrics.clone());
            }
            chunk(&v)
        };
        match self.format {
            Format::Converse => {
                let mut stop = json!({"stopReason": end.stop_reason.as_str()});
                if let (Some(seq), Family::Anthropic) = (&end.stop_sequence, self.model.family) {
                    stop["additionalModelResponseFields"] = json!({"stop_sequence": seq});
                }
                let mut meta = json!({"usage": converse_usage(&end.usage), "metrics": {"latencyMs": end.latency_ms}});
                if let Some(t) = &end.guardrail_trace {
                    meta["trace"] = json!({"guardrail": t});
                }
                vec![event("messageStop", &stop), event("metadata", &meta)]
            }
            Format::Native(Family::Nova) => vec![
                chunk(&json!({"messageStop": {"stopReason": end.stop_reason.as_str()}})),
                guard(json!({"metadata": {
                    "usage": {
                        "inputTokens": end.usage.input, "outputTokens": end.usage.output,
                        "cacheReadInputTokenCount": end.usage.cache_read, "cacheWriteInputTokenCount": end.usage.cache_write,
                    },
                    "metrics": {}, "trace": {},
                }})),
            ],
            Format::Native(Family::Anthropic) => vec![
                chunk(&json!({
                    "type": "message_delta",
                    "delta": {"stop_reason": anthropic_stop(end.stop_reason), "stop_sequence": end.stop_sequence},
                    "usage": {"output_tokens": end.usage.output},
                })),
                guard(json!({"type": "message_stop"})),
            ],
            Format::Native(Family::Titan) => vec![guard(json!({
                "outputText": "", "index": 0, "totalOutputTextTokenCount": end.usage.output,
                "completionReason": titan_reason(end.stop_reason), "inputTextTokenCount": null,
            }))],
            Format::Native(Family::Llama) => vec![guard(json!({
                "generation": "", "prompt_token_count": null, "generation_token_count": end.usage.output,
                "stop_reason": short_stop(end.stop_reason),
            }))],
            Format::Native(Family::Mistral) => {
                vec![guard(
                    json!({"outputs": [{"text": "", "stop_reason": short_stop(end.stop_reason)}]}),
                )]
            }
            Format::Native(Family::OpenAiChat) => {
                let mut delta = json!({});
                if !self.tools.is_empty() {
                    delta["tool_calls"] = self
                        .tools
                        .iter()
                        .enumerate()
                        .map(|(i, (id, name, args))| json!({"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": args}}))
                        .collect();
                }
                vec![guard(json!({
                    "id": format!("chatcmpl-{}", self.id), "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": openai_finish(end.stop_reason)}],
                    "usage": {
                        "prompt_tokens": end.usage.all_input(), "completion_tokens": end.usage.output,
                        "total_tokens": end.usage.all_input() + end.usage.output,
                    },
                }))]
            }
            Format::Native(Family::MistralChat) => {
                let mut message = json!({"role": "assistant", "content": ""});
                if !self.tools.is_empty() {
                    message["tool_calls"] = self
                        .tools
                        .iter()
                        .map(|(id, name, args)| json!({"id": id, "function": {"name": name, "arguments": args}}))
                        .collect();
                }
                vec![guard(
                    json!({"choices": [{"index": 0, "message": message, "stop_reason": short_stop(end.stop_reason)}]}),
                )]
            }
            Format::Native(_) => {
                let mut response = json!({
                    "response_id": self.id, "text": self.text, "generation_id": format!("gen-{}", self.id),
                    "finish_reason": cohere_reason(end.stop_reason),
                });
                if !self.tools.is_empty() {
                    response["tool_calls"] = self
                        .tools
                        .iter()
                        .map(|(_, name, args)| json!({"name": name, "parameters": serde_json::from_str::<Value>(args).unwrap_or(Value::Null)}))
                        .collect();
                }
                vec![guard(json!({
                    "is_finished": true, "event_type": "stream-end",
                    "finish_reason": cohere_reason(end.stop_reason), "response": response,
                }))]
            }
        }
    }
}

fn anthropic_step(s: &Step) -> Option<Value> {
    Some(match s {
        Step::BlockStart { index, kind } => {
            let block = match kind {
                BlockKind::Text => json!({"type": "text", "text": ""}),
                BlockKind::Reasoning => json!({"type": "thinking", "thinking": ""}),
                BlockKind::ToolUse { id, name } => {
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}})
                }
            };
            json!({"type": "content_block_start", "index": index, "content_block": block})
        }
        Step::Delta { index, delta, .. } => {
            let d = match delta {
                Delta::Text(t) => json!({"type": "text_delta", "text": t}),
                Delta::ToolInput(t) => json!({"type": "input_json_delta", "partial_json": t}),
                Delta::ReasoningText(t) => json!({"type": "thinking_delta", "thinking": t}),
                Delta::Signature(t) => json!({"type": "signature_delta", "signature": t}),
            };
            json!({"type": "content_block_delta", "index": index, "delta": d})
        }
        Step::BlockStop { index } => json!({"type": "content_block_stop", "index": index}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_count_cache_tokens_apart_from_input() {
        let mut end = StreamEnd {
            stop_reason: StopReason::EndTurn,
            stop_sequence: None,
            usage: Usage {
                input: 4,
                output: 9,
                cache_read: 3000,
                cache_write: 0,
                cache_ttl: None,
            },
            latency_ms: 1,
            first_byte_ms: 1,
            guardrail_trace: None,
            guardrail_intervened: false,
        };
        let m = end.metrics();
        assert_eq!(m["inputTokenCount"], 4);
        assert_eq!(m["cacheReadInputTokenCount"], 3000);
        assert_eq!(m["cacheWriteInputTokenCount"], 0);
        end.usage.cache_read = 0;
        assert!(end.metrics().get("cacheReadInputTokenCount").is_none());
    }
}
