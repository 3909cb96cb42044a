//! ConverseStream events -> `chat.completion.chunk` frames.

use inference_core::json_path;
use std::collections::HashMap;

use bytes::Bytes;
use inference_core::GatewayError;
use serde_json::{Value, json};

use super::response::{finish_reason, usage};
use crate::compat::error::{CompatError, Provider};
use crate::pump::{self, Event, Format};
use inference_core::clock::unix_seconds;

/// ConverseStream events -> `chat.completion.chunk` frames (`data: {...}`), then the finish
/// chunk, the usage chunk (with `stream_options.include_usage`) and `data: [DONE]`.
#[derive(Debug)]
pub struct OpenAiStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    json_mode: bool,
    /// Converse content-block index -> OpenAI tool-call index.
    tools: HashMap<u64, usize>,
    stop: Option<String>,
    guardrail: Option<Value>,
}

fn data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

impl OpenAiStream {
    /// A stream for `model` (the ID called) answering request `request_id`.
    pub fn new(request_id: &str, model: String, include_usage: bool, json_mode: bool) -> Self {
        OpenAiStream {
            id: format!("chatcmpl-{request_id}"),
            created: unix_seconds(),
            model,
            include_usage,
            json_mode,
            tools: HashMap::new(),
            stop: None,
            guardrail: None,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
        })
    }
}

impl Format for OpenAiStream {
    fn event(&mut self, (name, e): &Event) -> Bytes {
        let index = e
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let delta = match name.as_str() {
            "messageStart" => json!({"role": "assistant", "content": ""}),
            "contentBlockStart" => match json_path::at(e, "/start/toolUse") {
                Some(tu) if !self.json_mode => {
                    let n = self.tools.len();
                    self.tools.insert(index, n);
                    json!({"tool_calls": [{
                        "index": n,
                        "id": tu.get("toolUseId"),
                        "type": "function",
                        "function": {"name": tu.get("name"), "arguments": ""},
                    }]})
                }
                _ => return Bytes::new(),
            },
            "contentBlockDelta" => {
                let d = e.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = d.get("text") {
                    json!({"content": t})
                } else if let Some(input) = json_path::at(d, "/toolUse/input") {
                    match self.tools.get(&index) {
                        Some(n) => {
                            json!({"tool_calls": [{"index": n, "function": {"arguments": input}}]})
                        }
                        None => json!({"content": input}),
                    }
                } else if let Some(t) = json_path::at(d, "/reasoningContent/text") {
                    json!({"reasoning_content": t})
                } else {
                    return Bytes::new();
                }
            }
            "messageStop" => {
                self.stop = e
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                return Bytes::new();
            }
            pump::GUARDRAIL => {
                self.guardrail = Some(e.clone());
                return Bytes::new();
            }
            _ => return Bytes::new(),
        };
        data(&self.chunk(delta, None))
    }

    fn done(&mut self, summary: Value) -> Bytes {
        let stop = self.stop.as_deref().unwrap_or("end_turn");
        let mut last = self.chunk(json!({}), Some(finish_reason(stop, self.json_mode)));
        let mut out = Vec::new();
        if self.include_usage {
            out.push(last);
            last = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage(summary.get("usage").unwrap_or(&Value::Null)),
            });
        }
        last["cost"] = summary.get("cost").cloned().unwrap_or(Value::Null);
        if let Some(g) = self.guardrail.take() {
            last["guardrail"] = g;
        }
        out.push(last);
        let mut bytes: Vec<u8> = out.iter().flat_map(|c| data(c).to_vec()).collect();
        bytes.extend_from_slice(b"data: [DONE]\n\n");
        Bytes::from(bytes)
    }

    fn error(&mut self, error: &GatewayError, request_id: &str) -> Bytes {
        data(&CompatError::from(error.clone()).to_body(Provider::OpenAi, request_id))
    }
}
