//! Walks a Converse-shaped body: `system[]`, `messages[].content[]`, `toolConfig.tools[]`.
//! Also used for Nova's native `messages-v1` bodies, which have the same block shapes.

use serde_json::Value;

use super::PartKind;
use super::tally::{Tally, ToolChoice, array, object, opt_str, shape_error};
use crate::error::GatewayError;

pub(super) fn walk(t: &mut Tally, body: &Value) -> Result<(), GatewayError> {
    let obj = object(body, "request body")?;
    if let Some(system) = obj.get("system").filter(|v| !v.is_null()) {
        for (i, block) in array(system, "system")?.iter().enumerate() {
            content_block(t, block, &format!("system[{i}]"))?;
        }
    }
    if let Some(messages) = obj.get("messages").filter(|v| !v.is_null()) {
        for (i, msg) in array(messages, "messages")?.iter().enumerate() {
            let path = format!("messages[{i}]");
            let m = object(msg, &path)?;
            opt_str(m, "role", &path)?;
            t.message();
            let content_path = format!("{path}.content");
            let content = m
                .get("content")
                .ok_or_else(|| shape_error(&content_path, "an array"))?;
            for (j, block) in array(content, &content_path)?.iter().enumerate() {
                content_block(t, block, &format!("{content_path}[{j}]"))?;
            }
        }
    }
    if let Some(tc) = obj.get("toolConfig").filter(|v| !v.is_null()) {
        tool_config(t, tc)?;
    }
    Ok(())
}

fn tool_config(t: &mut Tally, tc: &Value) -> Result<(), GatewayError> {
    let tc = object(tc, "toolConfig")?;
    let mut any_tool = false;
    if let Some(tools) = tc.get("tools") {
        for (i, tool) in array(tools, "toolConfig.tools")?.iter().enumerate() {
            let path = format!("toolConfig.tools[{i}]");
            let tool = object(tool, &path)?;
            let Some(spec) = tool.get("toolSpec") else {
                // `cachePoint` entries cost nothing; anything else is unknown to us.
                if !tool.contains_key("cachePoint") {
                    t.flag(&path, PartKind::Unknown, "tool entry without toolSpec");
                }
                continue;
            };
            let spec_path = format!("{path}.toolSpec");
            let spec = object(spec, &spec_path)?;
            any_tool = true;
            if let Some(name) = opt_str(spec, "name", &spec_path)? {
                t.text(name);
            }
            if let Some(desc) = opt_str(spec, "description", &spec_path)? {
                t.text(desc);
            }
            if let Some(schema) = spec.get("inputSchema") {
                // `{"json": {...}}`: the schema itself is what the model reads.
                t.json(schema.get("json").unwrap_or(schema));
            }
        }
    }
    if any_tool {
        let forced = tc
            .get("toolChoice")
            .and_then(Value::as_object)
            .is_some_and(|c| c.contains_key("any") || c.contains_key("tool"));
        t.tools_present(if forced {
            ToolChoice::Forced
        } else {
            ToolChoice::Auto
        });
    }
    Ok(())
}

/// One content block (also system blocks and tool-result content, which share the shapes).
fn content_block(t: &mut Tally, block: &Value, path: &str) -> Result<(), GatewayError> {
    let b = object(block, path)?;
    if let Some(text) = b.get("text") {
        match text {
            Value::String(s) => t.text(s),
            _ => return Err(shape_error(&format!("{path}.text"), "a string")),
        }
    } else if let Some(json) = b.get("json") {
        t.json(json);
    } else if let Some(img) = b.get("image") {
        image(t, img, path)?;
    } else if let Some(doc) = b.get("document") {
        document(t, doc, path)?;
    } else if b.contains_key("video") {
        t.flag(path, PartKind::Video, "video has no local token rule");
    } else if b.contains_key("audio") {
        t.flag(path, PartKind::Audio, "audio has no local token rule");
    } else if let Some(tu) = b.get("toolUse") {
        let p = format!("{path}.toolUse");
        let tu = object(tu, &p)?;
        for key in ["toolUseId", "name"] {
            if let Some(s) = opt_str(tu, key, &p)? {
                t.text(s);
            }
        }
        if let Some(input) = tu.get("input") {
            t.json(input);
        }
    } else if let Some(tr) = b.get("toolResult") {
        let p = format!("{path}.toolResult");
        let tr = object(tr, &p)?;
        if let Some(id) = opt_str(tr, "toolUseId", &p)? {
            t.text(id);
        }
        if let Some(content) = tr.get("content") {
            let cp = format!("{p}.content");
            for (k, inner) in array(content, &cp)?.iter().enumerate() {
                content_block(t, inner, &format!("{cp}[{k}]"))?;
            }
        }
    } else if let Some(rc) = b.get("reasoningContent") {
        let p = format!("{path}.reasoningContent");
        let rc = object(rc, &p)?;
        if let Some(rt) = rc.get("reasoningText") {
            let rt = object(rt, &format!("{p}.reasoningText"))?;
            if let Some(s) = opt_str(rt, "text", &p)? {
                t.text(s);
            }
        }
        if let Some(data) = rc.get("redactedContent") {
            // Encrypted text holds at most one token per byte of its ciphertext.
            let bytes = data.as_str().map_or(data.to_string().len(), str::len);
            t.flag_bounded(
                path,
                PartKind::RedactedReasoning,
                "redacted reasoning is encrypted",
                Some(bytes as u64),
            );
        }
    } else if let Some(gc) = b.get("guardContent") {
        // `{"text": {"text": "..."}}` or `{"image": {...}}`.
        let p = format!("{path}.guardContent");
        let gc = object(gc, &p)?;
        if let Some(inner) = gc.get("text").and_then(Value::as_object) {
            if let Some(s) = opt_str(inner, "text", &p)? {
                t.text(s);
            }
        } else if let Some(img) = gc.get("image") {
            image(t, img, path)?;
        }
    } else if b.contains_key("cachePoint") {
        // A cache marker: no tokens.
    } else {
        let kind = b.keys().next().map(String::as_str).unwrap_or("empty");
        t.flag(
            path,
            PartKind::Unknown,
            format!("unknown content block {kind:?}"),
        );
    }
    Ok(())
}

/// `{"format": "png", "source": {"bytes": "<base64>"} | {"s3Location": {...}}}`.
fn image(t: &mut Tally, img: &Value, path: &str) -> Result<(), GatewayError> {
    let img = object(img, &format!("{path}.image"))?;
    let source = img.get("source").and_then(Value::as_object);
    match source.and_then(|s| s.get("bytes")) {
        Some(Value::String(data)) => t.image_base64(path, data),
        Some(_) => {
            return Err(shape_error(
                &format!("{path}.image.source.bytes"),
                "a base64 string",
            ));
        }
        None if source.is_some_and(|s| s.contains_key("s3Location")) => t.flag(
            path,
            PartKind::Image,
            "image in S3: its dimensions are not readable locally",
        ),
        None => t.flag(path, PartKind::Image, "image without bytes"),
    }
    Ok(())
}

/// Documents are parsed by Bedrock (PDF pages, DOCX, ...) with no documented token rule; only a
/// document given as plain text can be estimated.
fn document(t: &mut Tally, doc: &Value, path: &str) -> Result<(), GatewayError> {
    let p = format!("{path}.document");
    let doc = object(doc, &p)?;
    let text = doc
        .get("source")
        .and_then(|s| s.get("text"))
        .and_then(Value::as_str);
    match text {
        Some(s) => {
            if let Some(name) = opt_str(doc, "name", &p)? {
                t.text(name);
            }
            t.text(s);
        }
        None => {
            let format = doc
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            t.flag(
                path,
                PartKind::Document,
                format!("{format} document: no documented token rule; count it with Bedrock"),
            );
        }
    }
    Ok(())
}
