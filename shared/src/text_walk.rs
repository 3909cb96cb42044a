//! Walks over the caller's and the model's texts inside JSON bodies: the visitor type, the
//! generic walkers, and Converse's shapes (which Nova's native body shares). The local filter
//! reads texts through these; each model family's own shapes are in `family/`.

use serde_json::Value;

/// A field visitor: the path of a text (for errors) and the text itself.
pub type Visit<'a> = dyn FnMut(&str, &mut String) + 'a;

pub(crate) fn visit_str(v: &mut Value, path: &str, f: &mut Visit) {
    if let Value::String(s) = v {
        f(path, s);
    }
}

pub(crate) fn visit_key(o: &mut Value, key: &str, path: &str, f: &mut Visit) {
    if let Some(v) = o.get_mut(key) {
        visit_str(v, &format!("{path}.{key}"), f);
    }
}

/// Every string of a body whose shape is not modelled, each named by its path from the top.
pub(crate) fn visit_fields(body: &mut Value, f: &mut Visit) {
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
pub(crate) fn visit_all(v: &mut Value, path: &str, f: &mut Visit) {
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
pub(crate) fn converse_blocks(blocks: &mut Value, path: &str, f: &mut Visit) {
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
pub(crate) fn visit_name(o: &Value, key: &str, path: &str, f: &mut Visit) {
    if let Some(Value::String(name)) = o.get(key) {
        f(&format!("{path}.{key}"), &mut name.clone());
    }
}

/// Tool definitions a caller sends (`tools[i]`): `description` and every string of the schema
/// at `schema` are filtered; `name` is checked only ([`visit_name`]).
pub(crate) fn tool_definitions(
    tools: &mut Value,
    path: &str,
    spec: &str,
    schema: &str,
    f: &mut Visit,
) {
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
