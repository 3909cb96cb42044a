//! `messages` -> Converse `system` and `messages` (roles, content parts, tool calls and results).

use inference_core::catalog::{Capability, ModelEntry};
use serde_json::{Value, json};

use super::caching::after_part;
use super::request::{
    AssistantMessage, Content, Extra, ImagePart, Message, Part, Tagged, TextMessage, ToolCall,
    ToolMessage, Typed,
};
use crate::compat::error::{CResult, CompatError, refuse};

/// The refusal of a key the gateway does not know (`param` is its full path).
pub(super) fn unsupported(param: String) -> CompatError {
    refuse(
        param,
        "is not supported by this gateway (Amazon Bedrock); remove it",
    )
}

/// The refusal of the first unknown key of an object at `param`.
pub(super) fn unknown_key(extra: &Extra, param: &str) -> CResult<()> {
    match extra.keys().next() {
        Some(k) => Err(unsupported(format!("{param}.{k}"))),
        None => Ok(()),
    }
}

/// The string, or the field's "expected a string" refusal (absent and `null` included).
pub(super) fn string<'a>(v: Option<&'a Typed<String>>, param: &str) -> CResult<&'a str> {
    match v {
        Some(Typed::Ok(s)) => Ok(s),
        _ => Err(refuse(param, "expected a string")),
    }
}

/// The `type` of a part or message that matched no known shape, for the refusal ("" if none).
fn type_of(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// A part that matched no known type: "expected an object", or `refusal(type)`.
fn unknown_part(v: &Value, param: String, refusal: fn(&str) -> String) -> CompatError {
    if !v.is_object() {
        return refuse(param, "expected an object");
    }
    refuse(param, refusal(type_of(v)))
}

fn text_only(t: &str) -> String {
    format!("content part type {t:?} is not accepted here (text only)")
}

fn text_or_image(t: &str) -> String {
    format!("content part type {t:?} is not supported (text, image_url)")
}

/// Text of `content` (a string or an array of `text` parts; `refusal` parts too for assistant),
/// with a `cachePoint` after each part that carries `cache_control`.
fn text_parts(
    content: Option<&Typed<Content>>,
    param: &str,
    allow_refusal: bool,
    model: Option<&ModelEntry>,
) -> CResult<Vec<Value>> {
    let parts = match content {
        None => return Ok(vec![]),
        Some(Typed::Ok(Content::Text(s))) if s.is_empty() => return Ok(vec![]),
        Some(Typed::Ok(Content::Text(s))) => return Ok(vec![json!({"text": s})]),
        Some(Typed::Ok(Content::Parts(parts))) => parts,
        Some(Typed::Wrong) => {
            return Err(refuse(param, "expected a string or an array of parts"));
        }
    };
    let mut out = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        let pp = format!("{param}[{j}]");
        match p {
            Tagged::Ok(Part::Text(t)) => {
                unknown_key(&t.extra, &pp)?;
                out.push(json!({"text": string(t.text.as_ref(), &pp)?}));
                out.extend(after_part(t.cache_control.as_ref(), &pp, model)?);
            }
            Tagged::Ok(Part::Refusal(r)) if allow_refusal => {
                out.push(json!({"text": string(r.refusal.as_ref(), &pp)?}));
            }
            Tagged::Ok(Part::Refusal(_)) => return Err(refuse(pp, text_only("refusal"))),
            Tagged::Ok(Part::ImageUrl(_)) => return Err(refuse(pp, text_only("image_url"))),
            Tagged::Wrong(v) => return Err(unknown_part(v, pp, text_only)),
        }
    }
    Ok(out)
}

/// `data:image/png;base64,...` -> a Converse image block.
pub fn image_block(url: &str, param: &str) -> CResult<Value> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(refuse(
            param,
            "only data URLs (data:image/...;base64,...) are accepted: the gateway does not fetch URLs",
        ));
    };
    let Some((media, data)) = rest.split_once(";base64,") else {
        return Err(refuse(param, "expected a base64 data URL"));
    };
    let format = match media {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(refuse(
                param,
                format!("image type {other:?} is not supported (png, jpeg, gif, webp)"),
            ));
        }
    };
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

/// An `image_url` part -> an image block (data URLs only; `detail` only "auto").
fn image_part(part: &ImagePart, pp: &str, model: Option<&ModelEntry>) -> CResult<Value> {
    unknown_key(&part.extra, pp)?;
    if model.is_some_and(|m| !m.supports(Capability::Vision)) {
        return Err(refuse(pp, "this model does not accept images"));
    }
    let ip = format!("{pp}.image_url");
    let Some(Typed::Ok(io)) = &part.image_url else {
        return Err(refuse(ip, "expected an object"));
    };
    unknown_key(&io.extra, &ip)?;
    if let Some(d) = io.detail.as_ref().and_then(Value::as_str)
        && d != "auto"
    {
        return Err(refuse(
            format!("{ip}.detail"),
            "only \"auto\": Bedrock has no image detail setting",
        ));
    }
    let url = string(io.url.as_ref(), &format!("{ip}.url"))?;
    image_block(url, &format!("{ip}.url"))
}

/// A user message's content: text and images.
fn user_parts(
    content: Option<&Typed<Content>>,
    param: &str,
    model: Option<&ModelEntry>,
) -> CResult<Vec<Value>> {
    let Some(Typed::Ok(Content::Parts(parts))) = content else {
        return text_parts(content, param, false, model);
    };
    let mut out = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        let pp = format!("{param}[{j}]");
        match p {
            Tagged::Ok(Part::ImageUrl(part)) => {
                out.push(image_part(part, &pp, model)?);
                out.extend(after_part(part.cache_control.as_ref(), &pp, model)?);
            }
            Tagged::Ok(Part::Text(t)) => {
                // A text part is read as a one-part list, so its refusals name `[j][0]`.
                let tp = format!("{pp}[0]");
                unknown_key(&t.extra, &tp)?;
                out.push(json!({"text": string(t.text.as_ref(), &tp)?}));
                out.extend(after_part(t.cache_control.as_ref(), &pp, model)?);
            }
            Tagged::Ok(Part::Refusal(_)) => return Err(refuse(pp, text_or_image("refusal"))),
            Tagged::Wrong(v) => return Err(unknown_part(v, pp, text_or_image)),
        }
    }
    Ok(out)
}

/// An assistant tool call -> a Converse `toolUse` block.
fn tool_call_block(tc: &Typed<ToolCall>, param: &str) -> CResult<Value> {
    let Typed::Ok(o) = tc else {
        return Err(refuse(param, "expected an object"));
    };
    unknown_key(&o.extra, param)?;
    if let Some(t) = o.kind.as_ref().and_then(Value::as_str)
        && t != "function"
    {
        return Err(refuse(
            format!("{param}.type"),
            "only \"function\" tool calls",
        ));
    }
    let id = string(o.id.as_ref(), &format!("{param}.id"))?;
    let fp = format!("{param}.function");
    let Some(Typed::Ok(f)) = &o.function else {
        return Err(refuse(fp, "expected an object"));
    };
    let name = string(f.name.as_ref(), &format!("{fp}.name"))?;
    let args = f.arguments.as_ref().and_then(Value::as_str).unwrap_or("");
    let input: Value = if args.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(args)
            .map_err(|_| refuse(format!("{fp}.arguments"), "not valid JSON"))?
    };
    if !input.is_object() {
        return Err(refuse(
            format!("{fp}.arguments"),
            "must be a JSON object (Bedrock tool inputs are objects)",
        ));
    }
    Ok(json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}))
}

/// Converse `system` blocks and alternating `messages` (role, blocks).
#[derive(Debug, Default)]
pub(super) struct Conversation {
    pub system: Vec<Value>,
    pub messages: Vec<(String, Vec<Value>)>,
}

impl Conversation {
    /// Appends blocks to the last message when it has the same role (Converse wants alternation).
    fn push(&mut self, role: &str, blocks: Vec<Value>) {
        match self.messages.last_mut() {
            Some((r, b)) if r == role => b.extend(blocks),
            _ => self.messages.push((role.to_owned(), blocks)),
        }
    }

    /// Adds `messages[i]`.
    pub fn add(&mut self, m: &Tagged<Message>, p: &str, model: Option<&ModelEntry>) -> CResult<()> {
        let cp = format!("{p}.content");
        match m {
            Tagged::Wrong(v) => unknown_message(v, p),
            Tagged::Ok(Message::System(t) | Message::Developer(t)) => {
                text_message(t, p)?;
                self.system
                    .extend(text_parts(t.content.as_ref(), &cp, false, model)?);
                Ok(())
            }
            Tagged::Ok(Message::User(t)) => {
                text_message(t, p)?;
                let blocks = user_parts(t.content.as_ref(), &cp, model)?;
                self.push("user", blocks);
                Ok(())
            }
            Tagged::Ok(Message::Assistant(a)) => {
                let blocks = assistant_blocks(a, p, &cp, model)?;
                self.push("assistant", blocks);
                Ok(())
            }
            Tagged::Ok(Message::Tool(t)) => {
                let blocks = tool_result(t, p, &cp, model)?;
                self.push("user", blocks);
                Ok(())
            }
        }
    }
}

/// The refusal of a participant name (no Converse equivalent).
fn no_name(name: Option<&Value>, p: &str) -> CResult<()> {
    if name.is_some_and(|n| !n.is_null()) {
        return Err(refuse(
            format!("{p}.name"),
            "participant names are not supported",
        ));
    }
    Ok(())
}

/// Checks of a system, developer or user message before its content.
fn text_message(t: &TextMessage, p: &str) -> CResult<()> {
    no_name(t.name.as_ref(), p)?;
    unknown_key(&t.extra, p)
}

/// A message with no known role: the same refusals, in the same order, as a known one would
/// have reached first (object, role type, name), then the role itself.
fn unknown_message(v: &Value, p: &str) -> CResult<()> {
    let Some(mo) = v.as_object() else {
        return Err(refuse(p, "expected an object"));
    };
    let Some(role) = mo.get("role").and_then(Value::as_str) else {
        return Err(refuse(format!("{p}.role"), "expected a string"));
    };
    no_name(mo.get("name"), p)?;
    Err(refuse(
        format!("{p}.role"),
        format!("{role:?} is not supported (system, developer, user, assistant, tool)"),
    ))
}

/// An assistant message: text (and refusal) blocks, then its tool calls.
fn assistant_blocks(
    a: &AssistantMessage,
    p: &str,
    cp: &str,
    model: Option<&ModelEntry>,
) -> CResult<Vec<Value>> {
    no_name(a.name.as_ref(), p)?;
    unknown_key(&a.extra, p)?;
    let mut blocks = text_parts(a.content.as_ref(), cp, true, model)?;
    if let Some(r) = a.refusal.as_ref().and_then(Value::as_str) {
        blocks.push(json!({"text": r}));
    }
    match &a.tool_calls {
        None => {}
        Some(Typed::Wrong) => {
            return Err(refuse(format!("{p}.tool_calls"), "expected an array"));
        }
        Some(Typed::Ok(calls)) => {
            for (j, tc) in calls.iter().enumerate() {
                blocks.push(tool_call_block(tc, &format!("{p}.tool_calls[{j}]"))?);
            }
        }
    }
    Ok(blocks)
}

/// A tool message -> a Converse `toolResult` block (an empty result gets one empty text). A
/// tool result cannot hold a cache point, so its parts' cache points follow the block.
fn tool_result(
    t: &ToolMessage,
    p: &str,
    cp: &str,
    model: Option<&ModelEntry>,
) -> CResult<Vec<Value>> {
    no_name(t.extra.get("name"), p)?;
    unknown_key(&t.extra, p)?;
    let id = string(t.tool_call_id.as_ref(), &format!("{p}.tool_call_id"))?;
    let (points, mut parts): (Vec<Value>, Vec<Value>) =
        text_parts(t.content.as_ref(), cp, false, model)?
            .into_iter()
            .partition(|b| b.get("cachePoint").is_some());
    if parts.is_empty() {
        parts.push(json!({"text": ""}));
    }
    let mut blocks = vec![json!({"toolResult": {"toolUseId": id, "content": parts}})];
    blocks.extend(points.into_iter().take(1));
    Ok(blocks)
}
