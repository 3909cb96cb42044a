//! Guardrails on every path: the local content filter on what callers send and on what models
//! answer (whole and streamed), and how interventions (Bedrock's, a caller's, the local
//! filter's) are reported, counted and logged.
//!
//! Reports name policies and entity kinds, never the offending text; see `docs/guardrails.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::error::GatewayError;
use crate::filter::{Action, EntityKind, Filter, StreamFilter};
use crate::telemetry::CallMetrics;

/// Name of the stream event that reports guardrail interventions (before `done`).
pub const GUARDRAIL_EVENT: &str = "guardrail";

/// Text that replaces a response (or the rest of a stream) the local filter blocked.
pub fn blocked_output_message(kind: EntityKind) -> String {
    format!(
        "The response was withheld: it contained {} ({}), which this deployment's content policy blocks.",
        describe(kind),
        kind.name()
    )
}

fn describe(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Email => "an e-mail address",
        EntityKind::Phone => "a phone number",
        EntityKind::Ssn => "a US social security number",
        EntityKind::Card => "a payment card number",
        EntityKind::Iban => "an IBAN",
        EntityKind::AwsAccessKey => "an AWS access key ID",
        EntityKind::AwsSecretKey => "an AWS secret access key",
        EntityKind::Ip => "an IP address",
        EntityKind::Denied => "a denied term",
    }
}

/// Who intervened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The deployment's Bedrock guardrail (`GATEWAY_GUARDRAIL_ID`).
    Bedrock,
    /// The caller's own guardrail (`guardrailConfig`, where the deployment allows it).
    Caller,
    /// The gateway's local content filter.
    Local,
}

impl Source {
    /// The `source` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Bedrock => "bedrock",
            Source::Caller => "caller",
            Source::Local => "local",
        }
    }
}

/// Where it intervened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On the request, before the model.
    Input,
    /// On the model's answer.
    Output,
}

impl Stage {
    /// The `stage` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Output => "output",
        }
    }
}

/// One intervention.
#[derive(Debug, Clone, PartialEq)]
pub struct Intervention {
    /// Who.
    pub source: Source,
    /// Where, when known (Bedrock says only in its trace).
    pub stage: Option<Stage>,
    /// `intervened` (a Bedrock guardrail), `masked` or `blocked` (the local filter).
    pub action: &'static str,
    /// Bedrock policies that acted (`wordPolicy`, ...; empty without trace) or local entity
    /// kinds (`email`, ...).
    pub policies: Vec<String>,
    /// Bedrock's assessments (the trace, or ApplyGuardrail's), when available.
    pub assessments: Option<Value>,
}

impl Intervention {
    /// A local filter intervention.
    pub fn local(stage: Stage, action: &'static str, kinds: &BTreeSet<EntityKind>) -> Self {
        Intervention {
            source: Source::Local,
            stage: Some(stage),
            action,
            policies: kinds.iter().map(|k| k.name().to_owned()).collect(),
            assessments: None,
        }
    }

    /// A Bedrock guardrail intervention; `trace` is Bedrock's `trace.guardrail` JSON (or
    /// `amazon-bedrock-trace.guardrail`), when the deployment enabled trace.
    pub fn bedrock(source: Source, trace: Option<Value>) -> Self {
        let (policies, stage) = match &trace {
            Some(t) => (acting_policies(t), trace_stage(t)),
            None => (Vec::new(), None),
        };
        Intervention {
            source,
            stage,
            action: "intervened",
            policies,
            assessments: trace,
        }
    }

    /// The JSON reported to the caller.
    pub fn to_json(&self, with_assessments: bool) -> Value {
        let mut o = Map::new();
        o.insert("action".into(), json!(self.action));
        o.insert("source".into(), json!(self.source.as_str()));
        if let Some(s) = self.stage {
            o.insert("stage".into(), json!(s.as_str()));
        }
        o.insert("policies".into(), json!(self.policies));
        if with_assessments && let Some(a) = &self.assessments {
            o.insert("assessments".into(), a.clone());
        }
        Value::Object(o)
    }
}

/// Every intervention of one call, in the order they happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardrailReport {
    items: Vec<Intervention>,
}

impl GuardrailReport {
    /// Adds one (logged once, here: kinds and policy names only).
    pub fn push(&mut self, i: Intervention, request_id: &str) {
        tracing::info!(
            request_id,
            source = i.source.as_str(),
            stage = i.stage.map(Stage::as_str),
            action = i.action,
            policies = %i.policies.join(","),
            "guardrail intervened"
        );
        self.items.push(i);
    }

    /// Whether nothing intervened.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The interventions.
    pub fn items(&self) -> &[Intervention] {
        &self.items
    }

    /// Whether some guardrail blocked (or Bedrock intervened).
    pub fn stopped(&self) -> bool {
        self.items
            .iter()
            .any(|i| i.action == "blocked" || i.action == "intervened")
    }

    /// `guardrail` of responses and `done` events: the first intervention, with any further
    /// ones under `others`. `None` when nothing intervened.
    pub fn to_json(&self) -> Option<Value> {
        self.json(true)
    }

    /// As [`Self::to_json`] without Bedrock's assessments (for headers).
    pub fn summary_json(&self) -> Option<Value> {
        self.json(false)
    }

    fn json(&self, with_assessments: bool) -> Option<Value> {
        let (first, rest) = self.items.split_first()?;
        let mut v = first.to_json(with_assessments);
        if !rest.is_empty() {
            v["others"] = Value::Array(rest.iter().map(|i| i.to_json(with_assessments)).collect());
        }
        Some(v)
    }

    /// Sets the guardrail fields of a metrics record.
    pub fn record(&self, m: &mut CallMetrics) {
        m.guardrail_interventions = u64::from(!self.items.is_empty());
        m.local_filter_interventions =
            u64::from(self.items.iter().any(|i| i.source == Source::Local));
        let mut sources: Vec<&'static str> = Vec::new();
        for i in &self.items {
            if !sources.contains(&i.source.as_str()) {
                sources.push(i.source.as_str());
            }
        }
        m.guardrail_sources = sources;
    }
}

/// Policies (`wordPolicy`, ...) with at least one finding whose action is not `NONE`, anywhere
/// in a guardrail trace or list of assessments. Sorted.
pub fn acting_policies(trace: &Value) -> Vec<String> {
    const POLICIES: &[(&str, &[&str])] = &[
        ("topicPolicy", &["topics"]),
        ("contentPolicy", &["filters"]),
        ("wordPolicy", &["customWords", "managedWordLists"]),
        ("sensitiveInformationPolicy", &["piiEntities", "regexes"]),
        ("contextualGroundingPolicy", &["filters"]),
        ("automatedReasoningPolicy", &["findings"]),
    ];
    let mut found = BTreeSet::new();
    for a in assessments(trace) {
        for (policy, lists) in POLICIES {
            let Some(p) = a.get(*policy) else { continue };
            let acted = lists.iter().any(|l| {
                p.get(*l).and_then(Value::as_array).is_some_and(|items| {
                    items
                        .iter()
                        .any(|x| match x.get("action").and_then(Value::as_str) {
                            Some(action) => action != "NONE",
                            // Automated-reasoning findings have no action: any non-valid one counts.
                            None => {
                                *policy == "automatedReasoningPolicy" && x.get("valid").is_none()
                            }
                        })
                })
            });
            if acted {
                found.insert((*policy).to_owned());
            }
        }
    }
    found.into_iter().collect()
}

/// `input` when an input assessment acted, else `output` when output assessments exist.
fn trace_stage(trace: &Value) -> Option<Stage> {
    let input_acted = trace
        .get("inputAssessment")
        .and_then(Value::as_object)
        .is_some_and(|m| m.values().any(|a| !acting_policies(a).is_empty()));
    if input_acted {
        Some(Stage::Input)
    } else if trace.get("outputAssessments").is_some() {
        Some(Stage::Output)
    } else {
        None
    }
}

/// Every assessment object in a trace (`inputAssessment`, `outputAssessments`), a list of
/// assessments, or a single assessment.
fn assessments(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    if let Some(m) = v.get("inputAssessment").and_then(Value::as_object) {
        out.extend(m.values());
    }
    if let Some(m) = v.get("outputAssessments").and_then(Value::as_object) {
        for list in m.values() {
            if let Some(l) = list.as_array() {
                out.extend(l.iter());
            }
        }
    }
    if let Some(l) = v.as_array() {
        out.extend(l.iter());
    }
    if out.is_empty() && v.is_object() {
        out.push(v);
    }
    out
}

// ------------------------------------------------------------------------------ whole texts

/// The local filter over the texts of one request or response: masks in place, remembers
/// what it masked and the first blocked entity (with where it was).
pub(crate) struct Screen<'f> {
    filter: &'f Filter,
    masked: BTreeSet<EntityKind>,
    blocked: Option<(EntityKind, String)>,
}

impl<'f> Screen<'f> {
    pub(crate) fn new(filter: &'f Filter) -> Self {
        Screen {
            filter,
            masked: BTreeSet::new(),
            blocked: None,
        }
    }

    /// Filters one text; `path` names it in a block error.
    pub(crate) fn text(&mut self, path: &str, s: &mut String) {
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
    pub(crate) fn blocked(&self) -> Option<&(EntityKind, String)> {
        self.blocked.as_ref()
    }

    /// The input verdict: a 400 `guardrail_blocked` naming the kind and the field on a block,
    /// else the masking intervention (if anything was masked).
    pub(crate) fn input_verdict(self) -> Result<Option<Intervention>, GatewayError> {
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
    pub(crate) fn masking(&self, stage: Stage) -> Option<Intervention> {
        (!self.masked.is_empty()).then(|| Intervention::local(stage, "masked", &self.masked))
    }
}

/// A field visitor: the path of a text (for errors) and the text itself.
pub(crate) type Visit<'a> = dyn FnMut(&str, &mut String) + 'a;

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

/// Every string inside `v` (tool inputs, JSON tool results, Cohere documents).
fn visit_all(v: &mut Value, path: &str, f: &mut Visit) {
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

/// Every caller text of a Converse body: `system`, `messages[].content`, `promptVariables`.
pub(crate) fn converse_input(body: &mut Value, f: &mut Visit) {
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
pub(crate) fn native_input(provider: &str, family: &str, body: &mut Value, f: &mut Visit) {
    match (provider, family) {
        ("anthropic", _) => {
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
        }
        (_, "nova") => converse_input(body, f),
        (_, "titan") => visit_key(body, "inputText", "body", f),
        (_, "llama") => visit_key(body, "prompt", "body", f),
        ("mistral", _) => {
            visit_key(body, "prompt", "body", f);
            if let Some(m) = body.get_mut("messages") {
                chat_messages(m, f);
            }
        }
        ("cohere", _) => {
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
        }
        _ => {}
    }
}

/// The model's texts in a Converse answer: `text` and reasoning text of the output message.
/// (The guardrail trace, which quotes them, is masked by [`screen_output`].)
pub(crate) fn converse_output(v: &mut Value, f: &mut Visit) {
    if let Some(Value::Array(blocks)) = v.pointer_mut("/output/message/content") {
        for (i, b) in blocks.iter_mut().enumerate() {
            let p = format!("output.message.content[{i}]");
            visit_key(b, "text", &p, f);
            if let Some(r) = b.pointer_mut("/reasoningContent/reasoningText/text") {
                visit_str(r, &format!("{p}.reasoningContent.reasoningText.text"), f);
            }
        }
    }
}

/// The model's texts in a native InvokeModel answer, per family.
pub(crate) fn native_output(provider: &str, family: &str, body: &mut Value, f: &mut Visit) {
    match (provider, family) {
        ("anthropic", _) => {
            if let Some(Value::Array(blocks)) = body.get_mut("content") {
                for (i, b) in blocks.iter_mut().enumerate() {
                    let p = format!("content[{i}]");
                    visit_key(b, "text", &p, f);
                    visit_key(b, "thinking", &p, f);
                }
            }
        }
        (_, "nova") => converse_output(body, f),
        (_, "titan") => {
            if let Some(Value::Array(results)) = body.get_mut("results") {
                for (i, r) in results.iter_mut().enumerate() {
                    visit_key(r, "outputText", &format!("results[{i}]"), f);
                }
            }
        }
        (_, "llama") => visit_key(body, "generation", "body", f),
        ("mistral", _) => {
            if let Some(Value::Array(outputs)) = body.get_mut("outputs") {
                for (i, o) in outputs.iter_mut().enumerate() {
                    visit_key(o, "text", &format!("outputs[{i}]"), f);
                }
            }
            if let Some(Value::Array(choices)) = body.get_mut("choices") {
                for (i, c) in choices.iter_mut().enumerate() {
                    if let Some(m) = c.get_mut("message") {
                        visit_key(m, "content", &format!("choices[{i}].message"), f);
                    }
                }
            }
        }
        ("cohere", _) => {
            visit_key(body, "text", "body", f);
            if let Some(Value::Array(gens)) = body.get_mut("generations") {
                for (i, g) in gens.iter_mut().enumerate() {
                    visit_key(g, "text", &format!("generations[{i}]"), f);
                }
            }
        }
        _ => {}
    }
}

/// Filters the output texts visited by `walk`; on a block, walks again and replaces the first
/// output text with the blocked message and empties the others. Returns the intervention.
pub(crate) fn screen_output(
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
        // The message goes into the first answer text (not reasoning); every other text is
        // emptied.
        let mut paths = Vec::new();
        walk(v, &mut |p, _| paths.push(p.to_owned()));
        let is_reasoning = |p: &str| p.contains("reasoning") || p.ends_with("thinking");
        let target = paths
            .iter()
            .find(|p| !is_reasoning(p))
            .or(paths.first())
            .cloned()
            .unwrap_or_default();
        walk(v, &mut |p, s| {
            if p == target {
                *s = blocked_output_message(kind);
            } else {
                s.clear();
            }
        });
        return Some(Intervention::local(
            Stage::Output,
            "blocked",
            &BTreeSet::from([kind]),
        ));
    }
    screen.masking(Stage::Output)
}

/// Masks every string under `v` (a guardrail trace quoting the model's output); a string
/// holding a blocked entity becomes the entity's label.
pub(crate) fn mask_all_strings(filter: &Filter, v: &mut Value) {
    visit_all(v, "", &mut |_, s| {
        let out = filter.apply(s);
        if let Some(kind) = out.blocked {
            *s = kind.mask().to_owned();
        } else if let std::borrow::Cow::Owned(t) = out.text {
            *s = t;
        }
    });
}

// ------------------------------------------------------------------------------ streams

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
pub(crate) enum StreamShape {
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
    /// Unknown family: chunks pass through (no text fields known).
    Opaque,
}

impl StreamShape {
    /// The shape of a native stream of `provider`/`family`.
    pub(crate) fn native(provider: &str, family: &str) -> StreamShape {
        match (provider, family) {
            ("anthropic", _) => StreamShape::Anthropic,
            (_, "nova") => StreamShape::Nova,
            (_, "titan") => StreamShape::Titan,
            (_, "llama") => StreamShape::Llama,
            ("mistral", _) => StreamShape::Mistral,
            ("cohere", _) => StreamShape::Cohere,
            _ => StreamShape::Opaque,
        }
    }
}

/// The local filter over one response stream: one [`StreamFilter`] per content block, so an
/// entity split across deltas is masked; held-back text is written back at the block's end.
#[derive(Debug)]
pub(crate) struct StreamGuard {
    filter: Filter,
    shape: StreamShape,
    slots: BTreeMap<i64, (SlotKind, StreamFilter)>,
    masked: BTreeSet<EntityKind>,
    blocked: Option<EntityKind>,
}

impl StreamGuard {
    pub(crate) fn new(filter: &Filter, shape: StreamShape) -> Self {
        StreamGuard {
            filter: filter.clone(),
            shape,
            slots: BTreeMap::new(),
            masked: BTreeSet::new(),
            blocked: None,
        }
    }

    /// The blocked kind, once blocked (the caller ends the stream).
    pub(crate) fn blocked(&self) -> Option<EntityKind> {
        self.blocked
    }

    /// The intervention so far: blocked, or masked.
    pub(crate) fn intervention(&self) -> Option<Intervention> {
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

    /// Releases every slot (end of message or stream) as synthetic deltas.
    pub(crate) fn flush_all(&mut self) -> Vec<Value> {
        let slots: Vec<i64> = self.slots.keys().copied().collect();
        let mut out = Vec::new();
        for s in slots {
            if let Some((kind, text)) = self.flush(s) {
                out.push(self.delta(s, kind, text));
            }
            if self.blocked.is_some() {
                break;
            }
        }
        out
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
    pub(crate) fn on_event(&mut self, mut ev: Value) -> Vec<Value> {
        if self.blocked.is_some() {
            return Vec::new();
        }
        match self.shape {
            StreamShape::Converse | StreamShape::Nova => self.converse_like(ev),
            StreamShape::Anthropic => self.anthropic(ev),
            StreamShape::Opaque => vec![ev],
            _ => {
                // Single-field families: every chunk is forwarded (they carry counts and stop
                // reasons too), its text replaced by what the filter releases.
                let last = ev.get("amazon-bedrock-invocationMetrics").is_some()
                    || ev.get("is_finished").and_then(Value::as_bool) == Some(true);
                let mut out = Vec::new();
                let shape = self.shape;
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
                    if let Some(Value::String(s)) = ev.pointer_mut("/response/text") {
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
        if let Some(d) = ev.get_mut("contentBlockDelta") {
            let slot = d
                .get("contentBlockIndex")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let (kind, text) = if let Some(Value::String(t)) = d.pointer_mut("/delta/text") {
                (SlotKind::Text, t)
            } else if let Some(Value::String(t)) = d.pointer_mut("/delta/reasoningContent/text") {
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
        if let Some(slot) = ev
            .pointer("/contentBlockStop/contentBlockIndex")
            .and_then(Value::as_i64)
        {
            let mut out = Vec::new();
            if let Some((kind, text)) = self.flush(slot) {
                out.push(self.delta(slot, kind, text));
            }
            if self.blocked.is_some() {
                if converse {
                    out.push(ev);
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
            Some("content_block_delta") => {
                let slot = ev.get("index").and_then(Value::as_i64).unwrap_or(0);
                let (kind, text) = if let Some(Value::String(t)) = ev.pointer_mut("/delta/text") {
                    (SlotKind::AnthropicText, t)
                } else if let Some(Value::String(t)) = ev.pointer_mut("/delta/thinking") {
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
        .find(|p| matches!(ev.pointer(p), Some(Value::String(_))))?;
    match ev.pointer_mut(p) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Policy;

    fn mask_filter() -> Filter {
        let mut p = Policy::secrets_only();
        p.set_action(EntityKind::Email, Action::Mask);
        Filter::new(&p)
    }

    fn texts(events: &[Value]) -> String {
        events
            .iter()
            .filter_map(|e| {
                e.pointer("/contentBlockDelta/delta/text")
                    .and_then(Value::as_str)
            })
            .collect()
    }

    #[test]
    fn converse_stream_masks_across_deltas_and_flushes_at_block_stop() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Converse);
        let mut out = Vec::new();
        for piece in [
            "Write to ",
            "jane.d",
            "oe@exam",
            "ple.com",
            " now, ",
            "jo@x.io",
        ] {
            out.extend(g.on_event(
                json!({"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}),
            ));
        }
        out.extend(g.on_event(json!({"contentBlockStop": {"contentBlockIndex": 0}})));
        out.extend(g.on_event(json!({"messageStop": {"stopReason": "end_turn"}})));
        assert_eq!(texts(&out), "Write to [EMAIL] now, [EMAIL]");
        assert!(out.iter().all(|e| !e.to_string().contains('@')));
        assert_eq!(out.last().unwrap()["messageStop"]["stopReason"], "end_turn");
        let i = g.intervention().unwrap();
        assert_eq!(
            (i.action, i.policies.clone()),
            ("masked", vec!["email".to_owned()])
        );
    }

    #[test]
    fn converse_stream_block_ends_the_message() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Converse);
        let mut out = Vec::new();
        for piece in ["key ", "AKIAIOSF", "ODNN7EXAMPLE", " and more"] {
            out.extend(g.on_event(
                json!({"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}),
            ));
        }
        assert_eq!(g.blocked(), Some(EntityKind::AwsAccessKey));
        assert_eq!(texts(&out), "key ");
        assert_eq!(
            out.last().unwrap()["messageStop"]["stopReason"],
            "guardrail_intervened"
        );
        assert!(
            g.on_event(json!({"contentBlockStop": {"contentBlockIndex": 0}}))
                .is_empty()
        );
    }

    #[test]
    fn native_single_field_and_anthropic_streams() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Llama);
        let mut text = String::new();
        for (piece, last) in [("mail a@", false), ("b.org", false), ("", true)] {
            let mut c = json!({"generation": piece});
            if last {
                c["amazon-bedrock-invocationMetrics"] = json!({});
            }
            for e in g.on_event(c) {
                text.push_str(e["generation"].as_str().unwrap());
            }
        }
        assert_eq!(text, "mail [EMAIL]");

        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Anthropic);
        let mut text = String::new();
        for c in [
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "to x@exa"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "mple.com"}}),
            json!({"type": "content_block_stop", "index": 0}),
        ] {
            for e in g.on_event(c) {
                if let Some(t) = e.pointer("/delta/text").and_then(Value::as_str) {
                    text.push_str(t);
                }
            }
        }
        assert_eq!(text, "to [EMAIL]");
    }

    #[test]
    fn input_walkers_cover_the_documented_fields() {
        let mut body = json!({
            "system": [{"text": "s a@b.io"}],
            "messages": [{"role": "user", "content": [
                {"text": "t a@b.io"},
                {"toolResult": {"toolUseId": "x", "content": [{"text": "r a@b.io"}, {"json": {"k": ["j a@b.io"]}}]}},
                {"document": {"format": "txt", "name": "d", "source": {"text": "d a@b.io"}}},
            ]}],
        });
        let f = mask_filter();
        let mut s = Screen::new(&f);
        converse_input(&mut body, &mut |p, t| s.text(p, t));
        assert!(!body.to_string().contains("a@b.io"), "{body}");
        assert!(s.input_verdict().unwrap().is_some());

        let mut body = json!({"prompt": "ssn 123-45-6789"});
        let mut s = Screen::new(&f);
        native_input("meta", "llama", &mut body, &mut |p, t| s.text(p, t));
        let e = s.input_verdict().unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.error_type(), "guardrail_blocked");
        assert!(
            e.message().contains("(ssn)") && !e.message().contains("6789"),
            "{e}"
        );
    }

    #[test]
    fn a_blocked_answer_is_withheld_in_its_text_block() {
        let mut v = json!({"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "think 123-45-6789", "signature": "s"}}},
            {"text": "Your SSN is 123-45-6789."},
        ]}}, "stopReason": "end_turn"});
        let i = screen_output(&mask_filter(), &mut v, converse_output).unwrap();
        assert_eq!((i.action, i.policies), ("blocked", vec!["ssn".to_owned()]));
        let content = &v["output"]["message"]["content"];
        assert_eq!(content[0]["reasoningContent"]["reasoningText"]["text"], "");
        assert_eq!(content[1]["text"], blocked_output_message(EntityKind::Ssn));
        assert!(!v.to_string().contains("6789"));
    }

    #[test]
    fn policies_from_a_trace() {
        let t = json!({"inputAssessment": {"demo": {"wordPolicy": {"customWords": [{"match": "x", "action": "BLOCKED"}], "managedWordLists": []},
            "topicPolicy": {"topics": [{"name": "n", "type": "DENY", "action": "NONE"}]}}}});
        assert_eq!(acting_policies(&t), vec!["wordPolicy"]);
        let i = Intervention::bedrock(Source::Bedrock, Some(t));
        assert_eq!(i.stage, Some(Stage::Input));
    }
}
