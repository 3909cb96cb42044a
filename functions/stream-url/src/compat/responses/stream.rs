//! ConverseStream events -> the Responses stream: `response.created`, `response.in_progress`,
//! per output item `response.output_item.added`, its deltas (`response.output_text.delta`,
//! `response.function_call_arguments.delta`, `response.reasoning_text.delta`), their `.done`
//! events and `response.output_item.done`, then `response.completed` (or
//! `response.incomplete`) with usage and cost.

use inference_core::json_path;
use std::collections::BTreeMap;

use bytes::Bytes;
use inference_core::GatewayError;
use serde_json::{Value, json};

use super::output::{Shell, function_call_item, message_item, reasoning_item, status, usage};
use crate::compat::error::{CompatError, Provider};
use crate::pump::{self, Event, Format};

/// What an open output item holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Call,
    Reasoning,
}

/// An output item being streamed.
#[derive(Debug)]
struct Open {
    kind: Kind,
    index: usize,
    id: String,
    /// Text, arguments or reasoning so far.
    buf: String,
    call_id: Value,
    name: Value,
}

/// The stream's state (see the module docs).
#[derive(Debug)]
pub struct ResponsesStream {
    shell: Shell,
    model: Value,
    seq: u64,
    started: bool,
    /// Converse content-block index -> the item it feeds.
    open: BTreeMap<u64, Open>,
    /// Finished items by output index.
    output: BTreeMap<usize, Value>,
    next_index: usize,
    stop: Option<String>,
    guardrail: Option<Value>,
}

impl ResponsesStream {
    /// A stream answering with `model` (the ID called).
    pub fn new(shell: Shell, model: String) -> Self {
        ResponsesStream {
            shell,
            model: json!(model),
            seq: 0,
            started: false,
            open: BTreeMap::new(),
            output: BTreeMap::new(),
            next_index: 0,
            stop: None,
            guardrail: None,
        }
    }

    /// One SSE event (`event: <type>`, `data` with `type` and `sequence_number`).
    fn emit(&mut self, out: &mut String, ty: &str, mut data: Value) {
        data["type"] = json!(ty);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.push_str(&format!("event: {ty}\ndata: {data}\n\n"));
    }

    /// The item fed by Converse block `block`, opened (with its `added` events) if new.
    fn ensure(&mut self, out: &mut String, block: u64, kind: Kind, start: Option<&Value>) {
        if self.open.contains_key(&block) {
            return;
        }
        let index = self.next_index;
        self.next_index += 1;
        let null = Value::Null;
        let (call_id, name) = start.map_or((null.clone(), null), |tu| {
            (tu["toolUseId"].clone(), tu["name"].clone())
        });
        let (id, item) = match kind {
            Kind::Text => {
                let id = self.shell.message_id(index);
                let mut item = message_item(&id, "", "in_progress");
                item["content"] = json!([]);
                (id, item)
            }
            Kind::Call => {
                let item = function_call_item(&call_id, &name, "", "in_progress");
                (item["id"].as_str().unwrap_or_default().to_owned(), item)
            }
            Kind::Reasoning => {
                let id = self.shell.reasoning_id(index);
                let mut item = reasoning_item(&id, "");
                item["content"] = json!([]);
                (id, item)
            }
        };
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        );
        if kind == Kind::Text {
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
            );
        }
        let open = Open {
            kind,
            index,
            id,
            buf: String::new(),
            call_id,
            name,
        };
        self.open.insert(block, open);
    }

    /// A delta for Converse block `block`.
    fn delta(&mut self, out: &mut String, block: u64, kind: Kind, piece: &str) {
        self.ensure(out, block, kind, None);
        let Some(o) = self.open.get_mut(&block) else {
            return;
        };
        o.buf.push_str(piece);
        let (index, id, kind) = (o.index, o.id.clone(), o.kind);
        let ids = json!({"item_id": id, "output_index": index});
        let (ty, extra) = match kind {
            Kind::Text => (
                "response.output_text.delta",
                json!({"content_index": 0, "logprobs": []}),
            ),
            Kind::Call => ("response.function_call_arguments.delta", json!({})),
            Kind::Reasoning => ("response.reasoning_text.delta", json!({"content_index": 0})),
        };
        let mut data = merge(ids, extra);
        data["delta"] = json!(piece);
        self.emit(out, ty, data);
    }

    /// Closes the item of Converse block `block`: its `.done` events, then `output_item.done`.
    fn close(&mut self, out: &mut String, block: u64) {
        let Some(o) = self.open.remove(&block) else {
            return;
        };
        let ids = json!({"item_id": o.id, "output_index": o.index});
        let item = match o.kind {
            Kind::Text => {
                let text = json!({"content_index": 0, "text": o.buf, "logprobs": []});
                self.emit(out, "response.output_text.done", merge(ids.clone(), text));
                let part = json!({"type": "output_text", "text": o.buf, "annotations": []});
                let part = json!({"content_index": 0, "part": part});
                self.emit(out, "response.content_part.done", merge(ids, part));
                message_item(&o.id, &o.buf, "completed")
            }
            Kind::Call => {
                let args = json!({"arguments": o.buf, "name": o.name});
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    merge(ids, args),
                );
                function_call_item(&o.call_id, &o.name, &o.buf, "completed")
            }
            Kind::Reasoning => {
                let text = json!({"content_index": 0, "text": o.buf});
                self.emit(out, "response.reasoning_text.done", merge(ids, text));
                reasoning_item(&o.id, &o.buf)
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": o.index, "item": item}),
        );
        self.output.insert(o.index, item);
    }

    fn converse_event(&mut self, out: &mut String, name: &str, e: &Value) {
        let block = e
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        match name {
            "contentBlockStart" => {
                if let Some(tu) = json_path::at(e, "/start/toolUse") {
                    let kind = if self.shell.json_tool {
                        Kind::Text
                    } else {
                        Kind::Call
                    };
                    self.ensure(out, block, kind, Some(tu));
                }
            }
            "contentBlockDelta" => {
                let d = e.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = d.get("text").and_then(Value::as_str) {
                    self.delta(out, block, Kind::Text, t);
                } else if let Some(i) = json_path::at(d, "/toolUse/input").and_then(Value::as_str) {
                    let kind = if self.shell.json_tool {
                        Kind::Text
                    } else {
                        Kind::Call
                    };
                    self.delta(out, block, kind, i);
                } else if let Some(t) =
                    json_path::at(d, "/reasoningContent/text").and_then(Value::as_str)
                {
                    self.delta(out, block, Kind::Reasoning, t);
                }
            }
            "contentBlockStop" => self.close(out, block),
            "messageStop" => {
                self.stop = e
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            pump::GUARDRAIL => self.guardrail = Some(e.clone()),
            _ => {}
        }
    }

    fn start(&mut self, out: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.shell.response("in_progress", &self.model, vec![]);
        self.emit(out, "response.created", json!({"response": r.clone()}));
        self.emit(out, "response.in_progress", json!({"response": r}));
    }
}

/// `a` with the keys of `b`.
fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

impl Format for ResponsesStream {
    fn event(&mut self, (name, e): &Event) -> Bytes {
        let mut out = String::new();
        self.start(&mut out);
        self.converse_event(&mut out, name, e);
        Bytes::from(out)
    }

    fn done(&mut self, summary: Value) -> Bytes {
        let mut out = String::new();
        self.start(&mut out);
        let blocks: Vec<u64> = self.open.keys().copied().collect();
        for b in blocks {
            self.close(&mut out, b);
        }
        let (status, incomplete) = status(self.stop.as_deref().unwrap_or("end_turn"));
        let output = std::mem::take(&mut self.output).into_values().collect();
        let mut r = self.shell.response(status, &self.model, output);
        r["incomplete_details"] = incomplete;
        r["usage"] = usage(summary.get("usage").unwrap_or(&Value::Null));
        r["cost"] = summary.get("cost").cloned().unwrap_or(Value::Null);
        if let Some(g) = self.guardrail.take() {
            r["guardrail"] = g;
        }
        let ty = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.emit(&mut out, ty, json!({"response": r}));
        Bytes::from(out)
    }

    /// OpenAI's stream error event: `type: error` with `code`, `message`, `param`, plus the
    /// `error` object the `openai` client raises from.
    fn error(&mut self, error: &GatewayError, request_id: &str) -> Bytes {
        let mut out = String::new();
        let body = CompatError::from(error.clone()).to_body(Provider::OpenAi, request_id);
        let mut data = body["error"].clone();
        data["error"] = body["error"].clone();
        self.emit(&mut out, "error", data);
        Bytes::from(out)
    }
}
