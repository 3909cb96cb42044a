//! The Responses request -> the equivalent Chat Completions request, which the chat route's
//! [`translate`](crate::compat::openai::translate) then maps to Converse (or refuses).
//!
//! Only what differs between the two APIs is handled here: `input` items, `instructions`, the
//! flat function-tool shape, `text.format`, `reasoning`, `max_output_tokens`, the stateless
//! refusals, and the fields Codex cannot stop sending that are dropped with a note
//! ([`Dropped`]). Everything the chat route already checks (types, ranges, schemas, images,
//! capabilities) is left to it; its refusals are renamed to the Responses fields ([`rename`]).

use serde_json::{Map, Value, json};

use crate::compat::dropped::Dropped;
use crate::compat::error::{CResult, CompatError, refuse};
use crate::compat::opt;

/// Tool types a real client (Codex) sends by default and that Bedrock cannot run: dropped with
/// a note instead of refused, so the client works unchanged. The model never sees them.
const DROPPED_TOOLS: &[(&str, &str)] = &[
    ("web_search", "no web search on Bedrock"),
    ("web_search_preview", "no web search on Bedrock"),
    ("namespace", "namespaced tools are not supported"),
    ("custom", "freeform (custom) tools are not supported"),
    ("local_shell", "the local_shell built-in is not supported"),
];

/// Top-level fields copied to the chat request under the same name.
const SAME_NAME: &[&str] = &[
    "model",
    "temperature",
    "top_p",
    "parallel_tool_calls",
    "metadata",
    "user",
    "safety_identifier",
    "service_tier",
];

/// The chat body, the notes on dropped fields, and where each chat message came from.
#[derive(Debug, Default)]
pub struct Mapped {
    /// A Chat Completions request body.
    pub chat: Map<String, Value>,
    /// Fields accepted and not sent.
    pub dropped: Dropped,
    /// Chat message index -> the Responses fields it came from (for renaming refusals).
    pub origins: Vec<Origin>,
}

/// Where a chat message came from: the item's path and the path of its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// `input[3]`, `input` (a string input) or `instructions`.
    pub item: String,
    /// `input[3].content`, `input[3].output`, or the item itself for a string.
    pub content: String,
}

impl Origin {
    fn new(item: &str, content: &str) -> Self {
        Origin {
            item: item.to_owned(),
            content: content.to_owned(),
        }
    }
}

/// Maps a Responses body to a Chat Completions body, or refuses (naming the Responses field).
pub fn to_chat(body: &Value) -> CResult<Mapped> {
    let o = body
        .as_object()
        .ok_or_else(|| refuse("body", "expected an object"))?;
    let mut m = Mapped::default();
    let mut messages = Vec::new();
    if let Some(v) = opt(o, "instructions") {
        let s = v
            .as_str()
            .ok_or_else(|| refuse("instructions", "expected a string"))?;
        messages.push(json!({"role": "system", "content": s}));
        m.origins.push(Origin::new("instructions", "instructions"));
    }
    for (k, v) in o.iter().filter(|(_, v)| !v.is_null()) {
        top_field(k, v, &mut m)?;
    }
    match opt(o, "input") {
        None => return Err(refuse("input", "required: a string or an array of items")),
        Some(Value::String(s)) => {
            messages.push(json!({"role": "user", "content": s}));
            m.origins.push(Origin::new("input", "input"));
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("input[{i}]");
                if let Some((msg, content)) = input_item(item, &p, &mut m.dropped)? {
                    messages.push(msg);
                    m.origins.push(Origin::new(&p, &format!("{p}{content}")));
                }
            }
        }
        Some(_) => return Err(refuse("input", "expected a string or an array of items")),
    }
    m.chat.insert("messages".into(), Value::Array(messages));
    if m.chat.get("stream") == Some(&json!(true)) {
        m.chat
            .insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(m)
}

/// One top-level field (all but `input` and `instructions`).
fn top_field(k: &str, v: &Value, m: &mut Mapped) -> CResult<()> {
    let chat = &mut m.chat;
    match k {
        "input" | "instructions" => {}
        _ if SAME_NAME.contains(&k) => {
            chat.insert(k.into(), v.clone());
        }
        "stream" => {
            chat.insert("stream".into(), v.clone());
        }
        "max_output_tokens" => {
            chat.insert("max_tokens".into(), v.clone());
        }
        "tools" => tools(v, m)?,
        "tool_choice" => {
            chat.insert("tool_choice".into(), tool_choice(v)?);
        }
        "reasoning" => reasoning(v, m)?,
        "text" => text(v, m)?,
        "store" if v == &json!(false) => {}
        "store" => return Err(refuse(k, STATELESS)),
        "previous_response_id" | "conversation" => return Err(refuse(k, STATELESS)),
        "background" if v == &json!(false) => {}
        "background" => return Err(refuse(k, "only false: background responses need storage")),
        "truncation" if v == &json!("disabled") => {}
        "truncation" => {
            return Err(refuse(
                k,
                "only \"disabled\": the gateway never truncates input",
            ));
        }
        "stream_options" => stream_options(v)?,
        "include" => include(v, &mut m.dropped)?,
        "prompt_cache_key" => m.dropped.add(
            k,
            "Bedrock caches prompts at cache points rather than by key",
        ),
        "client_metadata" => m
            .dropped
            .add(k, "client telemetry that Bedrock does not take"),
        _ => {
            return Err(refuse(
                k,
                "is not supported by this gateway (Amazon Bedrock); remove it",
            ));
        }
    }
    Ok(())
}

/// Why the storage-dependent fields are refused.
pub const STATELESS: &str = "the gateway is stateless: responses are not stored (send the whole conversation as input, with store: false)";

/// `tools`: function tools in the chat shape; the [`DROPPED_TOOLS`] noted; any other refused.
fn tools(v: &Value, m: &mut Mapped) -> CResult<()> {
    let list = v
        .as_array()
        .ok_or_else(|| refuse("tools", "expected an array"))?;
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let p = format!("tools[{i}]");
        let o = t
            .as_object()
            .ok_or_else(|| refuse(&p, "expected an object"))?;
        let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == "function" {
            let mut f = o.clone();
            f.remove("type");
            out.push(json!({"type": "function", "function": f}));
        } else if let Some((_, why)) = DROPPED_TOOLS.iter().find(|(t, _)| *t == kind) {
            m.dropped.add(&p, format!("{kind} tool: {why}"));
        } else {
            return Err(refuse(
                format!("{p}.type"),
                format!("{kind:?} tools are not supported (function tools only)"),
            ));
        }
    }
    if !out.is_empty() {
        m.chat.insert("tools".into(), Value::Array(out));
    }
    Ok(())
}

/// `tool_choice`: the modes as they are; `{"type": "function", "name"}` in the chat shape.
fn tool_choice(v: &Value) -> CResult<Value> {
    match v {
        Value::String(_) => Ok(v.clone()),
        Value::Object(o) if o.get("type") == Some(&json!("function")) => {
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| refuse("tool_choice.name", "expected a string"))?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(refuse(
            "tool_choice",
            "expected auto, required, none or {\"type\": \"function\", \"name\"}",
        )),
    }
}

/// `reasoning.effort` -> `reasoning_effort`; a summary request is noted (none is produced).
fn reasoning(v: &Value, m: &mut Mapped) -> CResult<()> {
    let o = v
        .as_object()
        .ok_or_else(|| refuse("reasoning", "expected an object"))?;
    for (k, x) in o.iter().filter(|(_, x)| !x.is_null()) {
        match k.as_str() {
            "effort" => {
                m.chat.insert("reasoning_effort".into(), x.clone());
            }
            "summary" | "generate_summary" if x == "none" => {}
            "summary" | "generate_summary" => m.dropped.add(
                format!("reasoning.{k}"),
                "Bedrock returns no reasoning summaries",
            ),
            _ => {
                return Err(refuse(
                    format!("reasoning.{k}"),
                    "is not supported (effort, summary)",
                ));
            }
        }
    }
    Ok(())
}

/// `text.format` -> `response_format`; `text.verbosity` is noted (Bedrock has no such setting).
fn text(v: &Value, m: &mut Mapped) -> CResult<()> {
    let o = v
        .as_object()
        .ok_or_else(|| refuse("text", "expected an object"))?;
    for (k, x) in o.iter().filter(|(_, x)| !x.is_null()) {
        match k.as_str() {
            "format" => {
                m.chat.insert("response_format".into(), format(x)?);
            }
            "verbosity" => m
                .dropped
                .add("text.verbosity", "Bedrock has no verbosity setting"),
            _ => {
                return Err(refuse(
                    format!("text.{k}"),
                    "is not supported (format, verbosity)",
                ));
            }
        }
    }
    Ok(())
}

/// `text.format`: `json_schema`'s flat fields move under `json_schema` as in chat.
fn format(v: &Value) -> CResult<Value> {
    let o = v
        .as_object()
        .ok_or_else(|| refuse("text.format", "expected an object"))?;
    if o.get("type") != Some(&json!("json_schema")) {
        return Ok(v.clone());
    }
    let mut schema = o.clone();
    schema.remove("type");
    Ok(json!({"type": "json_schema", "json_schema": schema}))
}

/// `stream_options`: only `include_obfuscation: false` (the gateway adds no obfuscation).
fn stream_options(v: &Value) -> CResult<()> {
    let o = v
        .as_object()
        .ok_or_else(|| refuse("stream_options", "expected an object"))?;
    for (k, x) in o.iter().filter(|(_, x)| !x.is_null()) {
        if k != "include_obfuscation" || x != &json!(false) {
            return Err(refuse(
                format!("stream_options.{k}"),
                "is not supported (only include_obfuscation: false)",
            ));
        }
    }
    Ok(())
}

/// `include`: `reasoning.encrypted_content` is noted (no encrypted reasoning is returned).
fn include(v: &Value, dropped: &mut Dropped) -> CResult<()> {
    let list = v
        .as_array()
        .ok_or_else(|| refuse("include", "expected an array"))?;
    for (i, x) in list.iter().enumerate() {
        match x.as_str() {
            Some(s @ "reasoning.encrypted_content") => {
                dropped.add(format!("include[{s}]"), "no encrypted reasoning");
            }
            _ => {
                return Err(refuse(
                    format!("include[{i}]"),
                    "is not supported (only reasoning.encrypted_content)",
                ));
            }
        }
    }
    Ok(())
}

/// One `input` item -> a chat message and the suffix of its content's path (`None` for a
/// reasoning item, which is noted).
fn input_item(
    item: &Value,
    p: &str,
    dropped: &mut Dropped,
) -> CResult<Option<(Value, &'static str)>> {
    let o = item
        .as_object()
        .ok_or_else(|| refuse(p, "expected an object"))?;
    let kind = match o.get("type") {
        None if o.contains_key("role") => "message",
        Some(Value::String(t)) => t.as_str(),
        _ => return Err(refuse(format!("{p}.type"), "expected a string")),
    };
    // `id` and `status` are the client's copy of an item the gateway returned: not needed.
    let fields = |allowed: &[&str]| -> CResult<()> {
        let extra = o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .find(|k| !["type", "id", "status"].contains(k) && !allowed.contains(k));
        match extra {
            Some(k) => Err(refuse(format!("{p}.{k}"), "is not supported; remove it")),
            None => Ok(()),
        }
    };
    match kind {
        "message" => {
            fields(&["role", "content"])?;
            let role = o.get("role").cloned().unwrap_or(Value::Null);
            let content = match o.get("content") {
                Some(Value::Array(parts)) => Value::Array(
                    parts
                        .iter()
                        .enumerate()
                        .map(|(j, part)| content_part(part, &format!("{p}.content[{j}]")))
                        .collect::<CResult<_>>()?,
                ),
                Some(c) => c.clone(),
                None => Value::Null,
            };
            Ok(Some((
                json!({"role": role, "content": content}),
                ".content",
            )))
        }
        "function_call" => {
            fields(&["call_id", "name", "arguments"])?;
            let call = json!({"id": o.get("call_id"), "type": "function",
                "function": {"name": o.get("name"), "arguments": o.get("arguments")}});
            Ok(Some((
                json!({"role": "assistant", "tool_calls": [call]}),
                "",
            )))
        }
        "function_call_output" => {
            fields(&["call_id", "output"])?;
            let output = match o.get("output") {
                Some(Value::Array(parts)) => Value::Array(
                    parts
                        .iter()
                        .enumerate()
                        .map(|(j, part)| content_part(part, &format!("{p}.output[{j}]")))
                        .collect::<CResult<_>>()?,
                ),
                Some(v) => v.clone(),
                None => Value::Null,
            };
            let msg = json!({"role": "tool", "tool_call_id": o.get("call_id"), "content": output});
            Ok(Some((msg, ".output")))
        }
        "reasoning" => {
            dropped.add(p, "reasoning items are not replayed to Bedrock");
            Ok(None)
        }
        other => Err(refuse(
            format!("{p}.type"),
            format!(
                "{other:?} is not supported (message, function_call, function_call_output, reasoning)"
            ),
        )),
    }
}

/// A content part -> the chat part (`input_text`/`output_text` -> `text`, `input_image` ->
/// `image_url`; `refusal` as it is).
fn content_part(part: &Value, p: &str) -> CResult<Value> {
    let o = part
        .as_object()
        .ok_or_else(|| refuse(p, "expected an object"))?;
    let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
    let only = |allowed: &[&str]| -> CResult<()> {
        match o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .find(|k| *k != "type" && !allowed.contains(k))
        {
            Some(k) => Err(refuse(format!("{p}.{k}"), "is not supported; remove it")),
            None => Ok(()),
        }
    };
    // `cache_control` (prompt caching) rides along to the chat part, which maps it to a
    // `cachePoint` after the part, with the chat route's checks (docs/compat.md).
    let with_cache = |mut chat: Value| -> Value {
        if let Some(cc) = opt(o, "cache_control") {
            chat["cache_control"] = cc.clone();
        }
        chat
    };
    match kind {
        "input_text" => {
            only(&["text", "cache_control"])?;
            Ok(with_cache(json!({"type": "text", "text": o.get("text")})))
        }
        // An earlier answer: its annotations and logprobs are the gateway's own (always empty).
        "output_text" => {
            only(&["text", "annotations", "logprobs"])?;
            Ok(json!({"type": "text", "text": o.get("text")}))
        }
        "refusal" => Ok(part.clone()),
        "input_image" => {
            only(&["image_url", "detail", "cache_control"])?;
            let mut image = json!({"url": o.get("image_url")});
            if let Some(d) = opt(o, "detail") {
                image["detail"] = d.clone();
            }
            Ok(with_cache(json!({"type": "image_url", "image_url": image})))
        }
        _ => Err(refuse(
            format!("{p}.type"),
            format!("{kind:?} is not supported (input_text, output_text, refusal, input_image)"),
        )),
    }
}

/// A refusal of the chat translation, renamed to the Responses field it is about.
pub fn rename(e: CompatError, origins: &[Origin]) -> CompatError {
    let Some(param) = e.param.clone() else {
        return e;
    };
    let rest = e
        .error
        .message()
        .strip_prefix(&format!("{param}: "))
        .map(str::to_owned);
    let Some(rest) = rest else {
        return e;
    };
    refuse(rename_param(&param, origins), rename_words(&rest))
}

/// `messages[k]...` -> the input item's path; chat-only names -> Responses names.
fn rename_param(param: &str, origins: &[Origin]) -> String {
    if let Some(rest) = param.strip_prefix("messages[")
        && let Some((k, tail)) = rest.split_once(']')
        && let Some(origin) = k.parse::<usize>().ok().and_then(|k| origins.get(k))
    {
        if let Some(after) = tail.strip_prefix(".content") {
            return format!("{}{after}", origin.content);
        }
        let tail = tail
            .replace(".tool_calls[0].function.", ".")
            .replace(".tool_calls[0].id", ".call_id")
            .replace(".tool_call_id", ".call_id");
        return format!("{}{tail}", origin.item);
    }
    if let Some(rest) = param.strip_prefix("tools[")
        && let Some((i, tail)) = rest.split_once(']')
    {
        return format!("tools[{i}]{}", tail.replacen(".function", "", 1));
    }
    rename_words(param)
}

/// The chat fields a refusal may mention, by their Responses names.
fn rename_words(s: &str) -> String {
    s.replace("response_format.json_schema", "text.format")
        .replace("response_format", "text.format")
        .replace("reasoning_effort", "reasoning.effort")
        .replace("max_tokens", "max_output_tokens")
}
