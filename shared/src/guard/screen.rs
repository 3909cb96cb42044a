//! The local filter over whole requests and answers: which texts each body shape carries
//! (Converse, native per family), masked in place; a blocked entity stops the call.

use std::collections::BTreeSet;

use serde_json::Value;

use super::report::{Intervention, Stage, blocked_output_message, describe};
use crate::error::GatewayError;
use crate::family::Family;
use crate::filter::{Action, EntityKind, Filter};
pub(super) use crate::text_walk::visit_all;
use crate::text_walk::visit_fields;
pub use crate::text_walk::{Visit, converse_input, converse_output};

/// The local filter over the texts of one request or response: masks in place, remembers
/// what it masked and the first blocked entity (with where it was).
pub struct Screen<'f> {
    filter: &'f Filter,
    masked: BTreeSet<EntityKind>,
    blocked: Option<(EntityKind, String)>,
}

impl<'f> Screen<'f> {
    pub fn new(filter: &'f Filter) -> Self {
        Screen {
            filter,
            masked: BTreeSet::new(),
            blocked: None,
        }
    }

    /// Filters one text; `path` names it in a block error.
    pub fn text(&mut self, path: &str, s: &mut String) {
        if self.blocked.is_some() || s.is_empty() {
            return;
        }
        let out = self.filter.apply(s);
        if let Some(kind) = out.blocked {
            self.blocked = Some((kind, path.to_owned()));
            return;
        }
        if out.findings.is_empty() {
            return;
        }
        for (kind, _) in out.findings.iter() {
            if self.filter.action(kind) == Action::Mask {
                self.masked.insert(kind);
            }
        }
        *s = out.text.into_owned();
    }

    /// The block, if any: kind and path.
    pub fn blocked(&self) -> Option<&(EntityKind, String)> {
        self.blocked.as_ref()
    }

    /// The kinds masked so far.
    pub fn masked(&self) -> &BTreeSet<EntityKind> {
        &self.masked
    }

    /// Filters a JSON text (a tool call's arguments, streamed or whole): every string in it
    /// when it parses, rewritten only when something was masked; otherwise the text as a whole
    /// (labels hold no quote or backslash, so masking keeps JSON text JSON).
    pub fn json_text(&mut self, path: &str, s: &mut String) {
        let Ok(mut v) = serde_json::from_str::<Value>(s) else {
            self.text(path, s);
            return;
        };
        let mut changed = false;
        visit_all(&mut v, path, &mut |p, t| {
            let was = t.clone();
            self.text(p, t);
            changed |= *t != was;
        });
        if changed && self.blocked.is_none() {
            *s = v.to_string();
        }
    }

    /// The input verdict: a 400 `guardrail_blocked` naming the kind and the field on a block,
    /// else the masking intervention (if anything was masked).
    pub fn input_verdict(self) -> Result<Option<Intervention>, GatewayError> {
        if let Some((kind, path)) = self.blocked {
            return Err(GatewayError::guardrail_blocked(format!(
                "{path}: contains {} ({}), which this deployment's content policy blocks",
                describe(kind),
                kind.name()
            )));
        }
        Ok(self.masking(Stage::Input))
    }

    /// The masking intervention at `stage`, if anything was masked.
    pub fn masking(&self, stage: Stage) -> Option<Intervention> {
        (!self.masked.is_empty()).then(|| Intervention::local(stage, "masked", &self.masked))
    }
}

/// Every caller text of a native InvokeModel body, per family (see `docs/guardrails.md`).
pub fn native_input(family: Option<Family>, body: &mut Value, f: &mut Visit) {
    // A family without a modelled body: every string is read, so a new model is no way around
    // the filter (its parameters are strings too, but entities do not look like them).
    match family {
        Some(family) => family.input_texts(body, f),
        None => visit_fields(body, f),
    }
}

/// The model's texts in a native InvokeModel answer, per family.
pub fn native_output(family: Option<Family>, body: &mut Value, f: &mut Visit) {
    match family {
        Some(family) => family.output_texts(body, f),
        None => visit_fields(body, f),
    }
}

/// Filters the output texts visited by `walk`; on a block, walks again and replaces the first
/// output text with the blocked message and empties the others. Returns the intervention.
pub fn screen_output(
    filter: &Filter,
    v: &mut Value,
    walk: impl Fn(&mut Value, &mut Visit),
) -> Option<Intervention> {
    let mut screen = Screen::new(filter);
    walk(v, &mut |p, s| screen.text(p, s));
    // The guardrail trace quotes the output: filter it too.
    for ptr in ["/trace/guardrail", "/amazon-bedrock-trace/guardrail"] {
        if let Some(t) = v.pointer_mut(ptr) {
            mask_all_strings(filter, t);
        }
    }
    if let Some((kind, _)) = screen.blocked().cloned() {
        withhold(v, &walk, kind);
        return Some(Intervention::local(
            Stage::Output,
            "blocked",
            &BTreeSet::from([kind]),
        ));
    }
    screen.masking(Stage::Output)
}

/// A blocked answer: the blocked message goes into the first answer text (not reasoning, not
/// a tool call), every other text is emptied, and the model's tool calls are removed (a call
/// with emptied arguments would still be run by the client). An answer with no text left gets
/// a text block for the message.
fn withhold(v: &mut Value, walk: &impl Fn(&mut Value, &mut Visit), kind: EntityKind) {
    drop_tool_calls(v);
    let mut paths = Vec::new();
    walk(v, &mut |p, _| paths.push(p.to_owned()));
    let is_reasoning = |p: &str| p.contains("reasoning") || p.ends_with("thinking");
    let answer = paths.iter().find(|p| !is_reasoning(p) && !is_tool_call(p));
    let message = blocked_output_message(kind);
    walk(v, &mut |p, s| {
        if answer.is_some_and(|a| a == p) {
            s.clone_from(&message);
        } else {
            s.clear();
        }
    });
    if answer.is_none() && !add_text(v, &message) {
        // No text block of its own in this shape: the first text there is carries it.
        if let Some(first) = paths.first() {
            walk(v, &mut |p, s| {
                if p == first {
                    s.clone_from(&message);
                }
            });
        }
    }
}

/// Whether a walker's path is inside a tool call's arguments.
fn is_tool_call(path: &str) -> bool {
    path.contains(".toolUse.input")
        || path.contains("tool_calls")
        || (path.starts_with("content[") && path.contains("].input"))
}

/// Removes the model's tool calls from an answer, whatever its shape (Converse / Nova
/// `toolUse` blocks, Anthropic `tool_use` blocks, Mistral and Cohere `tool_calls`), and the
/// stop reasons that announce them.
fn drop_tool_calls(v: &mut Value) {
    if let Some(Value::Array(blocks)) = v.pointer_mut("/output/message/content") {
        blocks.retain(|b| b.get("toolUse").is_none());
    }
    if let Some(Value::Array(blocks)) = v.get_mut("content") {
        blocks.retain(|b| b.get("type").and_then(Value::as_str) != Some("tool_use"));
        if v.get("stop_reason").and_then(Value::as_str) == Some("tool_use") {
            v["stop_reason"] = Value::from("end_turn");
        }
    }
    if let Some(Value::Array(choices)) = v.get_mut("choices") {
        for c in choices {
            if let Some(Value::Object(m)) = c.get_mut("message") {
                m.remove("tool_calls");
            }
            if c.get("finish_reason").and_then(Value::as_str) == Some("tool_calls") {
                c["finish_reason"] = Value::from("stop");
            }
        }
    }
    if let Value::Object(o) = v {
        o.remove("tool_calls");
    }
}

/// Adds a text block holding `message` to a Converse / Nova or Anthropic answer; whether the
/// answer has that shape.
fn add_text(v: &mut Value, message: &str) -> bool {
    if let Some(Value::Array(blocks)) = v.pointer_mut("/output/message/content") {
        blocks.push(serde_json::json!({"text": message}));
        return true;
    }
    if let Some(Value::Array(blocks)) = v.get_mut("content") {
        blocks.push(serde_json::json!({"type": "text", "text": message}));
        return true;
    }
    false
}

/// Masks every string under `v` (a guardrail trace quoting the model's output); a string
/// holding a blocked entity becomes the entity's label.
pub fn mask_all_strings(filter: &Filter, v: &mut Value) {
    visit_all(v, "", &mut |_, s| {
        let out = filter.apply(s);
        if let Some(kind) = out.blocked {
            *s = kind.mask().to_owned();
        } else if let std::borrow::Cow::Owned(t) = out.text {
            *s = t;
        }
    });
}
