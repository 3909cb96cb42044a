//! Deterministic generation: the same request always gives the same answer. The seed is a
//! hash of the model ID and the request body; nothing reads the clock or an OS random source.
//!
//! Conventions read from the last user message:
//! - `[[len:N]]` asks for about N output tokens (default 30);
//! - `[[say:WORD]]` makes the model write WORD as its 6th word (to trip output guardrails or
//!   stop sequences);
//! - `use tool NAME` (or `toolChoice` any/tool) makes the model call a tool (the last such
//!   phrase counts), with `[[arg:NAME=VALUE]]` setting a string argument of the call.

use serde_json::{Map, Value, json};

use crate::chat::{ChatRequest, ToolChoice};
use crate::models::Model;
use crate::tokens::count_text;

pub const DEFAULT_REPLY_TOKENS: u32 = 30;
const MAX_REPLY_TOKENS: u32 = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    GuardrailIntervened,
}

impl StopReason {
    /// The Converse (and Anthropic) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::ToolUse => "tool_use",
            StopReason::MaxTokens => "max_tokens",
            StopReason::StopSequence => "stop_sequence",
            StopReason::GuardrailIntervened => "guardrail_intervened",
        }
    }
}

#[derive(Debug, Clone)]
pub enum OutBlock {
    Reasoning {
        text: String,
        signature: String,
    },
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub blocks: Vec<OutBlock>,
    pub stop_reason: StopReason,
    pub stop_sequence: Option<String>,
    pub output_tokens: u32,
}

impl Generation {
    /// All visible text (what output guardrails look at).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            if let OutBlock::Text(t) = b {
                out.push_str(t);
            }
        }
        out
    }

    pub fn recount(&mut self) {
        self.output_tokens = self.blocks.iter().map(block_tokens).sum();
    }
}

pub fn block_tokens(b: &OutBlock) -> u32 {
    match b {
        OutBlock::Reasoning { text, .. } => count_text(text),
        OutBlock::Text(t) => count_text(t),
        OutBlock::ToolUse { name, input, .. } => count_text(name) + count_text(&input.to_string()),
    }
}

/// SplitMix64: a tiny deterministic generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| CHARS[self.below(CHARS.len())] as char)
            .collect()
    }
}

const WORDS: &[&str] = &[
    "the",
    "model",
    "answers",
    "with",
    "care",
    "and",
    "a",
    "clear",
    "plan",
    "for",
    "each",
    "step",
    "data",
    "flows",
    "through",
    "local",
    "tests",
    "quickly",
    "while",
    "results",
    "stay",
    "stable",
    "every",
    "run",
    "so",
    "teams",
    "can",
    "trust",
    "their",
    "checks",
    "before",
    "shipping",
    "code",
    "to",
    "production",
    "this",
    "reply",
    "is",
    "generated",
    "deterministically",
    "from",
    "seed",
];

/// Reads `[[name:value]]` from text.
pub fn marker<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("[[{name}:");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find("]]")? + start;
    Some(&text[start..end])
}

/// Builds `target` tokens of prose, optionally writing `say` as the sixth word, never
/// exceeding `limit` tokens. Returns the text and whether the limit cut it short.
fn prose(
    rng: &mut Rng,
    opener: &str,
    target: u32,
    limit: u32,
    say: Option<&str>,
) -> (String, bool) {
    let mut text = String::with_capacity(target as usize * 6);
    let mut tokens = 0u32;
    let mut words = 0usize;
    let push = |w: &str, text: &mut String, tokens: &mut u32| -> bool {
        let piece_tokens = count_text(w);
        if *tokens + piece_tokens > limit {
            return false;
        }
        if !text.is_empty() && !w.starts_with(['.', ',']) {
            text.push(' ');
        }
        text.push_str(w);
        *tokens += piece_tokens;
        true
    };
    for w in opener.split(' ').filter(|w| !w.is_empty()) {
        if tokens >= target {
            break;
        }
        if !push(w, &mut text, &mut tokens) {
            return (text, true);
        }
        words += 1;
    }
    while tokens < target {
        let w = match say {
            Some(s) if words == 5 => s,
            _ => WORDS[rng.below(WORDS.len())],
        };
        if !push(w, &mut text, &mut tokens) {
            return (text, true);
        }
        words += 1;
        if tokens + 1 < target && words.is_multiple_of(12) && !push(",", &mut text, &mut tokens) {
            return (text, true);
        }
    }
    if tokens < limit {
        text.push('.');
    }
    (text, false)
}

/// Generates a JSON value that satisfies a JSON schema well enough for tests: required
/// properties present with values of the declared type.
pub fn sample_for_schema(schema: &Value, name: &str, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(v) = schema.get("const") {
        return v.clone();
    }
    if let Some(Value::Array(e)) = schema.get("enum")
        && let Some(first) = e.first()
    {
        return first.clone();
    }
    if let Some(Value::Array(any)) = schema.get("anyOf").or_else(|| schema.get("oneOf"))
        && let Some(first) = any.first()
    {
        return sample_for_schema(first, name, depth + 1);
    }
    let ty = match schema.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    let num = |key: &str| schema.get(key).and_then(Value::as_f64);
    match ty {
        "object" => {
            let mut obj = Map::new();
            if let (Some(Value::Array(req)), props) =
                (schema.get("required"), schema.get("properties"))
            {
                for r in req.iter().filter_map(Value::as_str) {
                    let sub = props.and_then(|p| p.get(r)).unwrap_or(&Value::Null);
                    obj.insert(r.to_string(), sample_for_schema(sub, r, depth + 1));
                }
            }
            Value::Object(obj)
        }
        "array" => {
            let n = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 8);
            let items = schema.get("items").unwrap_or(&Value::Null);
            Value::Array(
                (0..n)
                    .map(|_| sample_for_schema(items, name, depth + 1))
                    .collect(),
            )
        }
        "integer" => json!(num("minimum").map(|m| m.ceil() as i64).unwrap_or(1)),
        "number" => json!(num("minimum").unwrap_or(1.5)),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => match schema.get("format").and_then(Value::as_str) {
            Some("date") => json!("2025-01-01"),
            Some("date-time") => json!("2025-01-01T00:00:00Z"),
            Some("email") => json!("user@example.com"),
            Some("uri") => json!("https://example.com/"),
            _ => json!(format!("sample {name}")),
        },
    }
}

/// `[[arg:NAME=VALUE]]` markers set the string argument NAME of the tool call to VALUE (so a
/// test can make the model read a given file), over the value sampled from the schema.
fn tool_args(input: &mut Value, prompt: &str) {
    let Value::Object(obj) = input else { return };
    let mut rest = prompt;
    while let Some(arg) = marker(rest, "arg") {
        if let Some((name, value)) = arg.split_once('=') {
            obj.insert(name.trim().to_string(), json!(value.trim()));
        }
        let Some(after) = rest.find("[[arg:").map(|i| i + "[[arg:".len() + arg.len()) else {
            break;
        };
        rest = &rest[after..];
    }
}

/// Which tool the request makes the model call, if any.
fn chosen_tool(req: &ChatRequest, prompt: &str) -> Option<usize> {
    if req.tools.is_empty() || !req.trailing_tool_results().is_empty() {
        return None;
    }
    match &req.tool_choice {
        ToolChoice::NoTool => None,
        ToolChoice::Any => Some(0),
        ToolChoice::Tool(n) => req.tools.iter().position(|t| &t.name == n).or(Some(0)),
        ToolChoice::Auto => {
            // The last `use tool NAME` wins: agents (Claude Code) put their own reminders, which
            // may say "use ToolSearch", before the user's words in the same message.
            let lower = prompt.to_ascii_lowercase();
            let at = lower.rfind("use tool ")?;
            let rest = prompt[at + "use tool ".len()..].trim_start();
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            Some(req.tools.iter().position(|t| t.name == word).unwrap_or(0))
        }
    }
}

/// A tool's input: a sample of its schema, with the keys of a `[[tool_input:{...}]]` JSON object
/// in the prompt laid over it (so a test can make the model send given arguments, e.g. the
/// command of an agent's shell tool). A marker that is not a JSON object is ignored.
fn tool_input(schema: &Value, name: &str, prompt: &str) -> Value {
    let mut input = sample_for_schema(schema, name, 0);
    let given = marker(prompt, "tool_input").and_then(|m| serde_json::from_str::<Value>(m).ok());
    if let (Some(Value::Object(given)), Value::Object(obj)) = (given, &mut input) {
        obj.extend(given);
    }
    input
}

/// Produces the model's answer to a request.
pub fn generate(model: &Model, req: &ChatRequest, seed: u64) -> Generation {
    let mut rng = Rng::new(seed);
    let prompt = req.last_user_text();
    let limit = req.max_tokens.unwrap_or(model.max_output).max(1);
    let mut blocks = Vec::new();
    let mut used = 0u32;

    if let Some(budget) = req.reasoning
        && model.caps.reasoning
    {
        let target = budget.clamp(1, 40);
        let (text, _) = prose(
            &mut rng,
            "Let me think about this request step by step.",
            target,
            u32::MAX,
            None,
        );
        used += count_text(&text);
        let signature = format!("sig{}", rng.alnum(40));
        blocks.push(OutBlock::Reasoning { text, signature });
    }
    let remaining = limit.saturating_sub(used).max(1);

    if let Some(i) = chosen_tool(req, &prompt) {
        let tool = &req.tools[i];
        if req.tool_choice == ToolChoice::Auto {
            blocks.push(OutBlock::Text(format!("I'll use the {} tool.", tool.name)));
        }
        // `[[tool_input:{...}]]` replaces the sampled arguments; `[[arg:NAME=VALUE]]` sets one.
        let mut input = tool_input(&tool.schema, &tool.name, &prompt);
        tool_args(&mut input, &prompt);
        let id = format!("tooluse_{}", rng.alnum(22));
        blocks.push(OutBlock::ToolUse {
            id,
            name: tool.name.clone(),
            input,
        });
        let mut g = Generation {
            blocks,
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
            output_tokens: 0,
        };
        g.recount();
        return g;
    }

    if let Some(json) = &req.output_json {
        // Native structured output: the whole text is JSON that matches the schema.
        blocks.push(OutBlock::Text(json.clone()));
        let mut g = Generation {
            blocks,
            stop_reason: StopReason::EndTurn,
            stop_sequence: None,
            output_tokens: 0,
        };
        g.recount();
        return g;
    }

    let target = marker(&prompt, "len")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(DEFAULT_REPLY_TOKENS)
        .clamp(1, MAX_REPLY_TOKENS);
    let say = marker(&prompt, "say");
    let opener = match req.trailing_tool_results().first() {
        Some((id, result)) => {
            let name = req.tool_name_for(id).unwrap_or("tool");
            let short: String = result.chars().take(200).collect();
            format!("The {name} tool returned: {short}")
        }
        None => "Hello from bedrock-local.".to_string(),
    };
    let (mut text, cut) = prose(&mut rng, &opener, target, remaining, say);
    let mut stop_reason = if cut {
        StopReason::MaxTokens
    } else {
        StopReason::EndTurn
    };
    let mut stop_sequence = None;
    if let Some((pos, seq)) = req
        .stop_sequences
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()).map(|p| (p, s)))
        .min_by_key(|(p, _)| *p)
    {
        text.truncate(pos);
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        stop_reason = StopReason::StopSequence;
        stop_sequence = Some(seq.clone());
    }
    blocks.push(OutBlock::Text(text));
    let mut g = Generation {
        blocks,
        stop_reason,
        stop_sequence,
        output_tokens: 0,
    };
    g.recount();
    g
}

/// Splits text into stream deltas: one word (with its leading space) per delta.
pub fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' && i > start {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatRequest;
    use crate::models::find;

    #[test]
    fn deterministic_and_limited() {
        let m = find("amazon.nova-lite-v1:0").unwrap();
        let mut r = ChatRequest::from_prompt("hi [[len:50]]".into());
        let a = generate(m, &r, 7);
        let b = generate(m, &r, 7);
        assert_eq!(a.text(), b.text());
        assert!(
            a.output_tokens >= 50 && a.output_tokens <= 52,
            "{}",
            a.output_tokens
        );
        r.max_tokens = Some(10);
        let c = generate(m, &r, 7);
        assert_eq!(c.stop_reason, StopReason::MaxTokens);
        assert!(c.output_tokens <= 10);
        assert_eq!(pieces("a b  c").concat(), "a b  c");
    }

    #[test]
    fn tool_input_marker_overrides_sampled_arguments() {
        let schema = json!({"type": "object", "properties": {"cmd": {"type": "string"},
            "n": {"type": "integer"}}, "required": ["cmd", "n"]});
        let v = tool_input(
            &schema,
            "t",
            r#"use tool t [[tool_input:{"cmd":"echo hi"}]]"#,
        );
        assert_eq!(v, json!({"cmd": "echo hi", "n": 1}));
        let v = tool_input(&schema, "t", "use tool t [[tool_input:not json]]");
        assert_eq!(v, json!({"cmd": "sample cmd", "n": 1}));
    }

    #[test]
    fn last_use_tool_phrase_and_its_args_decide_the_call() {
        let m = find("anthropic.claude-haiku-4-5-20251001-v1:0").unwrap();
        let mut r = ChatRequest::from_prompt(
            "Use ToolSearch to load tools. Now use tool Read [[arg:file_path=/tmp/a b.txt]] [[arg:limit=5]]".into(),
        );
        let schema = json!({"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]});
        for name in ["ToolSearch", "Read"] {
            r.tools.push(crate::chat::Tool {
                name: name.into(),
                description: None,
                schema: schema.clone(),
            });
        }
        let g = generate(m, &r, 1);
        assert_eq!(g.stop_reason, StopReason::ToolUse);
        let call = g
            .blocks
            .iter()
            .find_map(|b| match b {
                OutBlock::ToolUse { name, input, .. } => Some((name.clone(), input.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            call,
            (
                "Read".to_string(),
                json!({"file_path": "/tmp/a b.txt", "limit": "5"})
            )
        );
    }

    #[test]
    fn schema_sample() {
        let s = json!({"type":"object","properties":{"city":{"type":"string"},"n":{"type":"integer"},"u":{"enum":["c","f"]}},"required":["city","n","u"]});
        assert_eq!(
            sample_for_schema(&s, "x", 0),
            json!({"city":"sample city","n":1,"u":"c"})
        );
    }
}
