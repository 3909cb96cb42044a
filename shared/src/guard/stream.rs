//! The local filter over response streams: one stream filter per content block, so an entity
//! split across deltas is masked; held-back text is written back at the block's end.

use crate::json_path;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::report::{Intervention, Stage};
use super::screen::{Screen, visit_all};
use crate::family::Family;
use crate::filter::{Action, EntityKind, Filter, StreamFilter};

/// How one stream slot's text is shaped, to write a held-back tail back as a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    /// Converse / Nova `delta.text`.
    Text,
    /// Converse / Nova `delta.reasoningContent.text`.
    Reasoning,
    /// Anthropic `text_delta`.
    AnthropicText,
    /// Anthropic `thinking_delta`.
    AnthropicThinking,
    /// The single text field of Titan, Llama, Mistral and Cohere chunks.
    Single,
}

/// Which stream shape a [`StreamGuard`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamShape {
    /// ConverseStream events (`{"contentBlockDelta": {...}}`), with stop events added after a
    /// block so clients see the message end.
    Converse,
    /// Native Nova chunks (same shapes as Converse events).
    Nova,
    /// Native Anthropic chunks.
    Anthropic,
    /// Titan `outputText`.
    Titan,
    /// Llama `generation`.
    Llama,
    /// Mistral `outputs[0].text` or `choices[0].delta.content` / `.message.content`.
    Mistral,
    /// Cohere `text` (and the final `response.text`).
    Cohere,
    /// A family the gateway has no shape for (a model from the live catalog, or a shipped one
    /// whose native body is not modelled): every string of each chunk is filtered, one chunk at
    /// a time, so a model the gateway does not know cannot carry text past the filter.
    Opaque,
}

impl StreamShape {
    /// The shape of a native stream of `provider`/`family`.
    pub fn native(family: Option<Family>) -> StreamShape {
        match family {
            Some(Family::Anthropic) => StreamShape::Anthropic,
            Some(Family::AmazonNova) => StreamShape::Nova,
            Some(Family::AmazonTitan) => StreamShape::Titan,
            Some(Family::MetaLlama) => StreamShape::Llama,
            Some(Family::Mistral) => StreamShape::Mistral,
            Some(Family::Cohere) => StreamShape::Cohere,
            None => StreamShape::Opaque,
        }
    }
}

/// A tool-use block held whole until its end (its arguments are JSON, filtered as one text):
/// its start event and its input fragments so far.
#[derive(Debug, Default)]
struct HeldTool {
    start: Option<Value>,
    input: String,
}

/// The local filter over one response stream: one [`StreamFilter`] per content block, so an
/// entity split across deltas is masked; held-back text is written back at the block's end.
/// A tool-use block is held whole and released, filtered, at its end.
#[derive(Debug)]
pub struct StreamGuard {
    filter: Filter,
    shape: StreamShape,
    slots: BTreeMap<i64, (SlotKind, StreamFilter)>,
    tools: BTreeMap<i64, HeldTool>,
    masked: BTreeSet<EntityKind>,
    blocked: Option<EntityKind>,
}

impl StreamGuard {
    pub fn new(filter: &Filter, shape: StreamShape) -> Self {
        StreamGuard {
            filter: filter.clone(),
            shape,
            slots: BTreeMap::new(),
            tools: BTreeMap::new(),
            masked: BTreeSet::new(),
            blocked: None,
        }
    }

    /// The blocked kind, once blocked (the caller ends the stream).
    pub fn blocked(&self) -> Option<EntityKind> {
        self.blocked
    }

    /// The intervention so far: blocked, or masked.
    pub fn intervention(&self) -> Option<Intervention> {
        match self.blocked {
            Some(k) => Some(Intervention::local(
                Stage::Output,
                "blocked",
                &BTreeSet::from([k]),
            )),
            None => (!self.masked.is_empty())
                .then(|| Intervention::local(Stage::Output, "masked", &self.masked)),
        }
    }

    fn push(&mut self, slot: i64, kind: SlotKind, text: &str) -> String {
        let filter = &self.filter;
        let (_, sf) = self
            .slots
            .entry(slot)
            .or_insert_with(|| (kind, filter.stream()));
        let out = sf.push(text);
        if let Some(k) = out.blocked {
            self.blocked = Some(k);
        }
        out.emit
    }

    /// Releases a slot's held-back text (and notes what it masked).
    fn flush(&mut self, slot: i64) -> Option<(SlotKind, String)> {
        let (kind, mut sf) = self.slots.remove(&slot)?;
        let out = sf.finish();
        if let Some(k) = out.blocked {
            self.blocked = Some(k);
        }
        self.note(&sf);
        (!out.emit.is_empty()).then_some((kind, out.emit))
    }

    fn note(&mut self, sf: &StreamFilter) {
        for (kind, _) in sf.findings().iter() {
            if self.filter.action(kind) == Action::Mask {
                self.masked.insert(kind);
            }
        }
    }

    /// Releases every slot and held tool-use block (end of message or stream) as synthetic
    /// events.
    pub fn flush_all(&mut self) -> Vec<Value> {
        let slots: BTreeSet<i64> = self
            .slots
            .keys()
            .chain(self.tools.keys())
            .copied()
            .collect();
        let mut out = Vec::new();
        for s in slots {
            if let Some((kind, text)) = self.flush(s) {
                out.push(self.delta(s, kind, text));
            }
            if self.blocked.is_none() {
                out.extend(self.release_tool(s));
            }
            if self.blocked.is_some() {
                break;
            }
        }
        out
    }

    /// Holds a tool-use block's start event (`None`: the stream sent none).
    fn hold_tool(&mut self, slot: i64, start: Option<Value>, input: &str) {
        let held = self.tools.entry(slot).or_default();
        if start.is_some() {
            held.start = start;
        }
        held.input.push_str(input);
    }

    /// A held tool-use block, filtered whole: its start event and its input as one delta
    /// (nothing, and [`Self::blocked`] set, when the input holds a blocked entity).
    fn release_tool(&mut self, slot: i64) -> Vec<Value> {
        let Some(held) = self.tools.remove(&slot) else {
            return Vec::new();
        };
        let mut input = held.input;
        let mut screen = Screen::new(&self.filter);
        screen.json_text("toolUse.input", &mut input);
        if let Some((kind, _)) = screen.blocked() {
            self.blocked = Some(*kind);
            return Vec::new();
        }
        self.masked.extend(screen.masked().iter().copied());
        let mut out: Vec<Value> = held.start.into_iter().collect();
        if !input.is_empty() {
            out.push(match self.shape {
                StreamShape::Anthropic => json!({"type": "content_block_delta", "index": slot,
                    "delta": {"type": "input_json_delta", "partial_json": input}}),
                _ => json!({"contentBlockDelta": {
                    "delta": {"toolUse": {"input": input}}, "contentBlockIndex": slot}}),
            });
        }
        out
    }

    /// Filters every string of a whole chunk's tool calls (Mistral `tool_calls`, Cohere
    /// `tool_calls`); a blocked entity removes them and sets [`Self::blocked`].
    fn chunk_tool_calls(&mut self, ev: &mut Value) {
        for ptr in [
            "/choices/0/delta/tool_calls",
            "/choices/0/message/tool_calls",
            "/tool_calls",
        ] {
            let Some(calls) = json_path::at_mut(ev, ptr) else {
                continue;
            };
            let mut screen = Screen::new(&self.filter);
            visit_all(calls, "tool_calls", &mut |p, s| screen.text(p, s));
            if let Some((kind, _)) = screen.blocked() {
                self.blocked = Some(*kind);
                *calls = Value::Array(Vec::new());
                return;
            }
            self.masked.extend(screen.masked().iter().copied());
        }
    }

    /// An unknown family's chunk: every string in it (but Bedrock's own metrics) screened as it
    /// is. On a block nothing of the chunk is forwarded and the stream ends.
    fn opaque(&mut self, mut ev: Value) -> Vec<Value> {
        let mut screen = Screen::new(&self.filter);
        if let Value::Object(fields) = &mut ev {
            for (k, v) in fields.iter_mut() {
                if k != "amazon-bedrock-invocationMetrics" {
                    visit_all(v, k, &mut |p, s| screen.text(p, s));
                }
            }
        }
        if let Some((kind, _)) = screen.blocked() {
            self.blocked = Some(*kind);
            return Vec::new();
        }
        self.masked.extend(screen.masked().iter().copied());
        vec![ev]
    }

    /// A delta event or chunk carrying `text` for `slot`, in this stream's shape.
    fn delta(&self, slot: i64, kind: SlotKind, text: String) -> Value {
        match (self.shape, kind) {
            (_, SlotKind::Reasoning) => json!({"contentBlockDelta": {
                "delta": {"reasoningContent": {"text": text}}, "contentBlockIndex": slot}}),
            (_, SlotKind::Text) => json!({"contentBlockDelta": {
                "delta": {"text": text}, "contentBlockIndex": slot}}),
            (_, SlotKind::AnthropicText) => json!({"type": "content_block_delta", "index": slot,
                "delta": {"type": "text_delta", "text": text}}),
            (_, SlotKind::AnthropicThinking) => json!({"type": "content_block_delta",
                "index": slot, "delta": {"type": "thinking_delta", "thinking": text}}),
            (StreamShape::Titan, _) => json!({"outputText": text, "index": 0}),
            (StreamShape::Llama, _) => json!({"generation": text}),
            (StreamShape::Mistral, _) => json!({"outputs": [{"text": text}]}),
            (_, _) => json!({"is_finished": false, "event_type": "text-generation", "text": text}),
        }
    }

    /// Filters one event (Converse) or chunk (native). Returns what to forward, in order
    /// (nothing when all of its text is held back). After a block, [`Self::blocked`] is set
    /// and the returned events end the message.
    pub fn on_event(&mut self, mut ev: Value) -> Vec<Value> {
        if self.blocked.is_some() {
            return Vec::new();
        }
        match self.shape {
            StreamShape::Converse | StreamShape::Nova => self.converse_like(ev),
            StreamShape::Anthropic => self.anthropic(ev),
            StreamShape::Opaque => self.opaque(ev),
            _ => {
                // Single-field families: every chunk is forwarded (they carry counts and stop
                // reasons too), its text replaced by what the filter releases.
                let last = ev.get("amazon-bedrock-invocationMetrics").is_some()
                    || ev.get("is_finished").and_then(Value::as_bool) == Some(true);
                let mut out = Vec::new();
                let shape = self.shape;
                self.chunk_tool_calls(&mut ev);
                if self.blocked.is_some() {
                    return out;
                }
                if let Some(text) = single_text(shape, &mut ev) {
                    let incoming = std::mem::take(text);
                    let mut emit = self.push(0, SlotKind::Single, &incoming);
                    if last
                        && self.blocked.is_none()
                        && let Some((_, rest)) = self.flush(0)
                    {
                        emit.push_str(&rest);
                    }
                    if let Some(text) = single_text(shape, &mut ev) {
                        *text = emit;
                    }
                } else if last {
                    out.extend(self.flush_all());
                }
                if last && shape == StreamShape::Cohere {
                    // The final event repeats the whole text.
                    if let Some(Value::String(s)) = json_path::at_mut(&mut ev, "/response/text") {
                        let o = self.filter.apply(s);
                        *s = if o.blocked.is_some() {
                            String::new()
                        } else {
                            o.text.into_owned()
                        };
                    }
                }
                out.push(ev);
                out
            }
        }
    }

    fn converse_like(&mut self, mut ev: Value) -> Vec<Value> {
        let converse = self.shape == StreamShape::Converse;
        if let Some(start) = ev.get("contentBlockStart")
            && json_path::at(start, "/start/toolUse").is_some()
        {
            let slot = start
                .get("contentBlockIndex")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            self.hold_tool(slot, Some(ev), "");
            return Vec::new();
        }
        if let Some(d) = ev.get_mut("contentBlockDelta") {
            let slot = d
                .get("contentBlockIndex")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if let Some(Value::String(input)) = json_path::at(d, "/delta/toolUse/input") {
                let input = input.clone();
                self.hold_tool(slot, None, &input);
                return Vec::new();
            }
            let (kind, text) = if let Some(Value::String(t)) = json_path::at_mut(d, "/delta/text") {
                (SlotKind::Text, t)
            } else if let Some(Value::String(t)) =
                json_path::at_mut(d, "/delta/reasoningContent/text")
            {
                (SlotKind::Reasoning, t)
            } else {
                return vec![ev];
            };
            let emit = self.push(slot, kind, text);
            let nonempty = !emit.is_empty();
            *text = emit;
            let mut out = Vec::new();
            if nonempty {
                out.push(ev);
            }
            if self.blocked.is_some() && converse {
                out.push(json!({"contentBlockStop": {"contentBlockIndex": slot}}));
                out.push(json!({"messageStop": {"stopReason": "guardrail_intervened"}}));
            }
            return out;
        }
        if let Some(slot) =
            json_path::at(&ev, "/contentBlockStop/contentBlockIndex").and_then(Value::as_i64)
        {
            let mut out = Vec::new();
            if let Some((kind, text)) = self.flush(slot) {
                out.push(self.delta(slot, kind, text));
            }
            let tool = self.tools.contains_key(&slot);
            if self.blocked.is_none() {
                out.extend(self.release_tool(slot));
            }
            if self.blocked.is_some() {
                if converse {
                    // A withheld tool-use block was never started: nothing to stop.
                    if !tool {
                        out.push(ev);
                    }
                    out.push(json!({"messageStop": {"stopReason": "guardrail_intervened"}}));
                }
                return out;
            }
            out.push(ev);
            return out;
        }
        if ev.get("messageStop").is_some() {
            let mut out = self.flush_all();
            if self.blocked.is_some() {
                if converse {
                    out.push(json!({"messageStop": {"stopReason": "guardrail_intervened"}}));
                }
                return out;
            }
            out.push(ev);
            return out;
        }
        vec![ev]
    }

    fn anthropic(&mut self, mut ev: Value) -> Vec<Value> {
        match ev.get("type").and_then(Value::as_str) {
            Some("content_block_start")
                if json_path::at(&ev, "/content_block/type").and_then(Value::as_str)
                    == Some("tool_use") =>
            {
                let slot = ev.get("index").and_then(Value::as_i64).unwrap_or(0);
                self.hold_tool(slot, Some(ev), "");
                Vec::new()
            }
            Some("content_block_delta") => {
                let slot = ev.get("index").and_then(Value::as_i64).unwrap_or(0);
                if let Some(Value::String(input)) = json_path::at(&ev, "/delta/partial_json") {
                    let input = input.clone();
                    self.hold_tool(slot, None, &input);
                    return Vec::new();
                }
                let (kind, text) = if let Some(Value::String(t)) =
                    json_path::at_mut(&mut ev, "/delta/text")
                {
                    (SlotKind::AnthropicText, t)
                } else if let Some(Value::String(t)) = json_path::at_mut(&mut ev, "/delta/thinking")
                {
                    (SlotKind::AnthropicThinking, t)
                } else {
                    return vec![ev];
                };
                let emit = self.push(slot, kind, text);
                let nonempty = !emit.is_empty();
                *text = emit;
                if nonempty { vec![ev] } else { Vec::new() }
            }
            Some("content_block_stop") => {
                let slot = ev.get("index").and_then(Value::as_i64).unwrap_or(0);
                let mut out = Vec::new();
                if let Some((kind, text)) = self.flush(slot) {
                    out.push(self.delta(slot, kind, text));
                }
                if self.blocked.is_none() {
                    out.extend(self.release_tool(slot));
                }
                if self.blocked.is_none() {
                    out.push(ev);
                }
                out
            }
            Some("message_delta" | "message_stop") => {
                let mut out = self.flush_all();
                if self.blocked.is_none() {
                    out.push(ev);
                }
                out
            }
            _ => vec![ev],
        }
    }
}

/// The text field of a single-slot family's chunk.
fn single_text(shape: StreamShape, ev: &mut Value) -> Option<&mut String> {
    let ptr: &[&str] = match shape {
        StreamShape::Titan => &["/outputText"],
        StreamShape::Llama => &["/generation"],
        StreamShape::Mistral => &[
            "/outputs/0/text",
            "/choices/0/delta/content",
            "/choices/0/message/content",
        ],
        StreamShape::Cohere => &["/text"],
        _ => &[],
    };
    let p = ptr
        .iter()
        .find(|p| matches!(json_path::at(ev, p), Some(Value::String(_))))?;
    match json_path::at_mut(ev, p) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}
