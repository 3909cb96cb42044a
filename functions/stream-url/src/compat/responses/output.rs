//! The Converse answer -> a Responses `response` object (shared with the stream's events).

use serde_json::{Map, Value, json};

use inference_core::clock::unix_seconds;

/// The request's settings echoed in every `response` object (as OpenAI does), plus its ids.
#[derive(Debug, Clone)]
pub struct Shell {
    /// `resp_<request id>`.
    pub id: String,
    /// The request id (item ids derive from it).
    pub request_id: String,
    /// `created_at`.
    pub created_at: u64,
    /// The echoed request fields (`instructions`, `tools`, `temperature`, ...).
    pub echo: Map<String, Value>,
    /// Whether the answer comes through the forced `text.format` tool.
    pub json_tool: bool,
}

/// Builds an echoed field's default.
type EchoDefault = fn() -> Value;

/// Fields echoed from the request, with their default when absent.
const ECHOED: &[(&str, EchoDefault)] = &[
    ("instructions", || Value::Null),
    ("max_output_tokens", || Value::Null),
    ("metadata", || json!({})),
    ("parallel_tool_calls", || json!(true)),
    ("reasoning", || json!({"effort": null, "summary": null})),
    ("temperature", || Value::Null),
    ("text", || json!({"format": {"type": "text"}})),
    ("tool_choice", || json!("auto")),
    ("top_p", || Value::Null),
];

impl Shell {
    /// The shell of the answer to `body` (a checked Responses request).
    pub fn new(body: &Value, request_id: &str, json_tool: bool) -> Self {
        let mut echo = Map::new();
        for (k, default) in ECHOED {
            let v = body.get(*k).filter(|v| !v.is_null()).cloned();
            echo.insert((*k).into(), v.unwrap_or_else(default));
        }
        // Only the tools the model saw.
        let tools = body
            .get("tools")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter(|t| t["type"] == "function").cloned())
            .map(Iterator::collect::<Vec<_>>)
            .unwrap_or_default();
        echo.insert("tools".into(), Value::Array(tools));
        Shell {
            id: format!("resp_{request_id}"),
            request_id: request_id.to_owned(),
            created_at: unix_seconds(),
            echo,
            json_tool,
        }
    }

    /// A `response` object with `status`, `model` and `output`; usage and cost are added by the
    /// caller when known.
    pub fn response(&self, status: &str, model: &Value, output: Vec<Value>) -> Value {
        let mut v = json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "model": model,
            "output": output,
            "previous_response_id": null,
            "store": false,
            "truncation": "disabled",
            "usage": null,
        });
        if let Value::Object(o) = &mut v {
            o.extend(self.echo.clone());
        }
        v
    }

    /// The id of the output message item.
    pub fn message_id(&self, index: usize) -> String {
        format!("msg_{}_{index}", self.request_id)
    }

    /// The id of a reasoning item.
    pub fn reasoning_id(&self, index: usize) -> String {
        format!("rs_{}_{index}", self.request_id)
    }
}

/// Converse stop reason -> the response's `status` and `incomplete_details`.
pub fn status(stop: &str) -> (&'static str, Value) {
    match stop {
        "max_tokens" | "model_context_window_exceeded" => {
            ("incomplete", json!({"reason": "max_output_tokens"}))
        }
        "guardrail_intervened" | "content_filtered" => {
            ("incomplete", json!({"reason": "content_filter"}))
        }
        _ => ("completed", Value::Null),
    }
}

/// Converse usage -> Responses usage (cached input counts inside `input_tokens`, as at OpenAI).
pub fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = n("cacheReadInputTokens");
    let input = n("inputTokens") + cache_read + n("cacheWriteInputTokens");
    let output = n("outputTokens");
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cache_read},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + output,
    })
}

/// An assistant message item holding `text`.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// A function call item (`call_id` is Bedrock's toolUseId, which the next turn sends back).
pub fn function_call_item(call_id: &Value, name: &Value, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call",
        "id": format!("fc_{}", call_id.as_str().unwrap_or_default()),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    })
}

/// A reasoning item holding the model's reasoning text.
pub fn reasoning_item(id: &str, text: &str) -> Value {
    json!({
        "type": "reasoning",
        "id": id,
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    })
}

/// A Converse answer (the gateway's JSON) -> a `response` object.
pub fn to_response(out: &Value, shell: &Shell) -> Value {
    let blocks = out
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut items = Vec::new();
    let mut text = String::new();
    for b in blocks {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(tu) = b.get("toolUse") {
            let input = tu.get("input").cloned().unwrap_or(json!({})).to_string();
            if shell.json_tool {
                text.push_str(&input);
            } else {
                let null = Value::Null;
                let (id, name) = (tu.get("toolUseId"), tu.get("name"));
                items.push(function_call_item(
                    id.unwrap_or(&null),
                    name.unwrap_or(&null),
                    &input,
                    "completed",
                ));
            }
        } else if let Some(r) = b
            .pointer("/reasoningContent/reasoningText/text")
            .and_then(Value::as_str)
        {
            items.insert(0, reasoning_item(&shell.reasoning_id(0), r));
        }
    }
    if !text.is_empty() {
        // The message goes before the calls, where the model wrote its text.
        let at = usize::from(items.first().is_some_and(|i| i["type"] == "reasoning"));
        items.insert(at, message_item(&shell.message_id(0), &text, "completed"));
    }
    let stop = out.get("stopReason").and_then(Value::as_str).unwrap_or("");
    let (status, incomplete) = status(stop);
    let model = out.get("model").cloned().unwrap_or(Value::Null);
    let mut v = shell.response(status, &model, items);
    v["incomplete_details"] = incomplete;
    v["usage"] = usage(out.get("usage").unwrap_or(&Value::Null));
    v["cost"] = out.get("cost").cloned().unwrap_or(Value::Null);
    if let Some(g) = out.get("guardrail") {
        v["guardrail"] = g.clone();
    }
    v
}
