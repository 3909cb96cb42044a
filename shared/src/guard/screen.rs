//! The local filter over whole requests and answers: which texts each body shape carries
//! (Converse, native per family), masked in place; a blocked entity stops the call.

use std::collections::BTreeSet;

use serde_json::Value;

use super::report::{Intervention, Stage, blocked_output_message, describe};
use crate::error::GatewayError;
use crate::family::Family;
use crate::filter::{Action, EntityKind, Filter};

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

/// A field visitor: the path of a text (for errors) and the text itself.
pub type Visit<'a> = dyn FnMut(&str, &mut String) + 'a;

fn visit_str(v: &mut Value, path: &str, f: &mut Visit) {
    if let Value::String(s) = v {
        f(path, s);
    }
}

fn visit_key(o: &mut Value, key: &str, path: &str, f: &mut Visit) {
    if let Some(v) = o.get_mut(key) {
        visit_str(v, &format!("{path}.{key}"), f);
    }
}

/// Every string of a body whose shape is not modelled, each named by its path from the top.
fn visit_fields(body: &mut Value, f: &mut Visit) {
    match body {
        Value::Object(fields) => {
            for (k, v) in fields.iter_mut() {
                visit_all(v, k, f);
            }
        }
        other => visit_all(other, "body", f),
    }
}

/// Every string inside `v` (tool inputs, JSON tool results, Cohere documents).
pub(super) fn visit_all(v: &mut Value, path: &str, f: &mut Visit) {
    match v {
        Value::String(s) => f(path, s),
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                visit_all(x, &format!("{path}[{i}]"), f);
            }
        }
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                visit_all(x, &format!("{path}.{k}"), f);
            }
        }
        _ => {}
    }
}

/// Converse content blocks a caller sends: `text`, `guardContent.text.text`, `toolResult`
/// content (`text`, every string of `json`), `document.source.text` / `.content[].text`,
/// strings of `toolUse.input`. `reasoningContent` is left alone (its signature covers it).
fn converse_blocks(blocks: &mut Value, path: &str, f: &mut Visit) {
    let Some(list) = blocks.as_array_mut() else {
        return;
    };
    for (i, b) in list.iter_mut().enumerate() {
        let p = format!("{path}[{i}]");
        visit_key(b, "text", &p, f);
        if let Some(g) = b.pointer_mut("/guardContent/text/text") {
            visit_str(g, &format!("{p}.guardContent.text.text"), f);
        }
        if let Some(c) = b.pointer_mut("/toolResult/content") {
            converse_blocks(c, &format!("{p}.toolResult.content"), f);
        }
        if let Some(j) = b.get_mut("json") {
            visit_all(j, &format!("{p}.json"), f);
        }
        if let Some(s) = b.pointer_mut("/document/source") {
            let sp = format!("{p}.document.source");
            visit_key(s, "text", &sp, f);
            if let Some(c) = s.get_mut("content") {
                converse_blocks(c, &format!("{sp}.content"), f);
            }
        }
        if let Some(input) = b.pointer_mut("/toolUse/input") {
            visit_all(input, &format!("{p}.toolUse.input"), f);
        }
    }
}

/// An identifier (a tool's name): checked like any text, so a blocked entity still refuses the
/// call, but never rewritten (a label is not a valid name; Bedrock would refuse the request).
fn visit_name(o: &Value, key: &str, path: &str, f: &mut Visit) {
    if let Some(Value::String(name)) = o.get(key) {
        f(&format!("{path}.{key}"), &mut name.clone());
    }
}

/// Tool definitions a caller sends (`tools[i]`): `description` and every string of the schema
/// at `schema` are filtered; `name` is checked only ([`visit_name`]).
fn tool_definitions(tools: &mut Value, path: &str, spec: &str, schema: &str, f: &mut Visit) {
    let Some(list) = tools.as_array_mut() else {
        return;
    };
    for (i, t) in list.iter_mut().enumerate() {
        let mut p = format!("{path}[{i}]");
        let def = if spec.is_empty() {
            Some(t)
        } else {
            p = format!("{p}.{spec}");
            t.get_mut(spec)
        };
        let Some(def) = def else { continue };
        visit_name(def, "name", &p, f);
        visit_key(def, "description", &p, f);
        if let Some(s) = def.pointer_mut(schema) {
            visit_all(s, &format!("{p}{}", schema.replace('/', ".")), f);
        }
    }
}

/// Every caller text of a Converse body: `system`, `messages[].content`, `promptVariables`,
/// tool definitions (`toolConfig.tools[].toolSpec`).
pub fn converse_input(body: &mut Value, f: &mut Visit) {
    if let Some(s) = body.get_mut("system") {
        converse_blocks(s, "system", f);
    }
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        for (i, m) in messages.iter_mut().enumerate() {
            if let Some(c) = m.get_mut("content") {
                converse_blocks(c, &format!("messages[{i}].content"), f);
            }
        }
    }
    if let Some(Value::Object(vars)) = body.get_mut("promptVariables") {
        for (k, v) in vars.iter_mut() {
            visit_key(v, "text", &format!("promptVariables.{k}"), f);
        }
    }
    if let Some(tools) = body.pointer_mut("/toolConfig/tools") {
        tool_definitions(
            tools,
            "toolConfig.tools",
            "toolSpec",
            "/inputSchema/json",
            f,
        );
    }
}

/// Anthropic content: a string, or blocks (`text`, `tool_result` content, `document` text
/// sources, `tool_use` input strings). `thinking` blocks are left alone (signed).
fn anthropic_content(c: &mut Value, path: &str, f: &mut Visit) {
    match c {
        Value::String(s) => f(path, s),
        Value::Array(blocks) => {
            for (i, b) in blocks.iter_mut().enumerate() {
                let p = format!("{path}[{i}]");
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => visit_key(b, "text", &p, f),
                    Some("tool_result") => {
                        if let Some(c) = b.get_mut("content") {
                            anthropic_content(c, &format!("{p}.content"), f);
                        }
                    }
                    Some("document") => {
                        if let Some(s) = b.get_mut("source") {
                            let sp = format!("{p}.source");
                            if s.get("type").and_then(Value::as_str) == Some("text") {
                                visit_key(s, "data", &sp, f);
                            }
                            if let Some(c) = s.get_mut("content") {
                                anthropic_content(c, &format!("{sp}.content"), f);
                            }
                        }
                    }
                    Some("tool_use") => {
                        if let Some(input) = b.get_mut("input") {
                            visit_all(input, &format!("{p}.input"), f);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
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

/// Every caller text of a native InvokeModel body, per family (see `docs/guardrails.md`).
pub fn native_input(family: Option<Family>, body: &mut Value, f: &mut Visit) {
    // A family without a modelled body: every string is read, so a new model is no way around
    // the filter (its parameters are strings too, but entities do not look like them).
    let Some(family) = family else {
        return visit_fields(body, f);
    };
    match family {
        Family::Anthropic => {
            if let Some(s) = body.get_mut("system") {
                anthropic_content(s, "system", f);
            }
            if let Some(Value::Array(messages)) = body.get_mut("messages") {
                for (i, m) in messages.iter_mut().enumerate() {
                    if let Some(c) = m.get_mut("content") {
                        anthropic_content(c, &format!("messages[{i}].content"), f);
                    }
                }
            }
            if let Some(tools) = body.get_mut("tools") {
                tool_definitions(tools, "tools", "", "/input_schema", f);
            }
        }
        Family::AmazonNova => converse_input(body, f),
        Family::AmazonTitan => visit_key(body, "inputText", "body", f),
        Family::MetaLlama => visit_key(body, "prompt", "body", f),
        Family::Mistral => {
            visit_key(body, "prompt", "body", f);
            if let Some(m) = body.get_mut("messages") {
                chat_messages(m, f);
            }
            if let Some(tools) = body.get_mut("tools") {
                tool_definitions(tools, "tools", "function", "/parameters", f);
            }
        }
        Family::Cohere => {
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
    }
}

/// The model's texts in a Converse answer: `text`, reasoning text and every string of a
/// `toolUse.input` (the arguments of a tool call, which the client runs) of the output message.
/// (The guardrail trace, which quotes them, is masked by [`screen_output`].)
pub fn converse_output(v: &mut Value, f: &mut Visit) {
    if let Some(Value::Array(blocks)) = v.pointer_mut("/output/message/content") {
        for (i, b) in blocks.iter_mut().enumerate() {
            let p = format!("output.message.content[{i}]");
            visit_key(b, "text", &p, f);
            if let Some(r) = b.pointer_mut("/reasoningContent/reasoningText/text") {
                visit_str(r, &format!("{p}.reasoningContent.reasoningText.text"), f);
            }
            if let Some(input) = b.pointer_mut("/toolUse/input") {
                visit_all(input, &format!("{p}.toolUse.input"), f);
            }
        }
    }
}

/// The model's texts in a native InvokeModel answer, per family.
pub fn native_output(family: Option<Family>, body: &mut Value, f: &mut Visit) {
    let Some(family) = family else {
        return visit_fields(body, f);
    };
    match family {
        Family::Anthropic => {
            if let Some(Value::Array(blocks)) = body.get_mut("content") {
                for (i, b) in blocks.iter_mut().enumerate() {
                    let p = format!("content[{i}]");
                    visit_key(b, "text", &p, f);
                    visit_key(b, "thinking", &p, f);
                    if let Some(input) = b.get_mut("input") {
                        visit_all(input, &format!("{p}.input"), f);
                    }
                }
            }
        }
        Family::AmazonNova => converse_output(body, f),
        Family::AmazonTitan => {
            if let Some(Value::Array(results)) = body.get_mut("results") {
                for (i, r) in results.iter_mut().enumerate() {
                    visit_key(r, "outputText", &format!("results[{i}]"), f);
                }
            }
        }
        Family::MetaLlama => visit_key(body, "generation", "body", f),
        Family::Mistral => {
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
        Family::Cohere => {
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
