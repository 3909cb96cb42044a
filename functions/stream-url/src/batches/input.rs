//! A batch input file (JSON Lines of `/v1/chat/completions` requests), checked line by line as
//! OpenAI does: each line `{"custom_id", "method": "POST", "url": "/v1/chat/completions",
//! "body"}`, `custom_id` unique, one model per file, at most [`MAX_LINES`] lines. Each body is
//! translated by the chat route's own code (`compat::openai::translate`), so a body the sync
//! route would refuse is refused here, naming the line (`param: "line 3: body.temperature"`).

use std::collections::HashSet;

use inference_core::catalog::Capability;
use inference_core::{Gateway, GatewayError};
use serde_json::{Map, Value};

use crate::compat::error::{CResult, CompatError, refuse};
use crate::compat::openai::translate;

/// The one endpoint batch lines may call.
pub const CHAT_ENDPOINT: &str = "/v1/chat/completions";

/// Most lines in one file. OpenAI allows 50,000; here every line becomes a job when the batch is
/// created, within one request to this function, so files are kept to what that request can
/// submit well inside the function's timeout.
pub const MAX_LINES: usize = 5_000;

/// Longest `custom_id` (OpenAI gives none; this keeps one line's ID out of the megabytes).
const MAX_CUSTOM_ID: usize = 512;

/// One checked line.
#[derive(Debug, Clone)]
pub struct BatchLine {
    /// The caller's ID for the line, unique in the file.
    pub custom_id: String,
    /// The Converse request the chat body translates to (with `model`).
    pub converse: Value,
    /// The forced tool carrying `response_format: json_object`, to read the answer back.
    pub json_tool: Option<String>,
}

/// A checked file: its lines and the one model they name.
#[derive(Debug, Clone)]
pub struct BatchInput {
    /// The lines, in file order.
    pub lines: Vec<BatchLine>,
    /// The `model` every line's body names.
    pub model: String,
}

fn at(line: usize, what: &str) -> String {
    if what.is_empty() {
        format!("line {line}")
    } else {
        format!("line {line}: {what}")
    }
}

/// Checks and translates a whole file; the first bad line is the error.
pub fn parse(gw: &Gateway, bytes: &[u8]) -> CResult<BatchInput> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| refuse("file", format!("not UTF-8 text (byte {})", e.valid_up_to())))?;
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    let mut model: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        if lines.len() == MAX_LINES {
            return Err(refuse(
                "file",
                format!("more than {MAX_LINES} requests; split it into several batches"),
            ));
        }
        let (line, line_model) = parse_line(gw, n, raw)?;
        if !seen.insert(line.custom_id.clone()) {
            return Err(refuse(
                at(n, "custom_id"),
                format!(
                    "{:?} appears more than once; every custom_id must be unique in the file",
                    line.custom_id
                ),
            ));
        }
        match &model {
            None => model = Some(line_model),
            Some(m) if *m != line_model => {
                return Err(refuse(
                    at(n, "body.model"),
                    format!(
                        "{line_model:?} differs from {m:?}: a batch file holds requests to one model"
                    ),
                ));
            }
            Some(_) => {}
        }
        lines.push(line);
    }
    let Some(model) = model else {
        return Err(refuse("file", "no requests: the file is empty"));
    };
    Ok(BatchInput { lines, model })
}

/// One line: its fields, then its body through the chat route's translation.
fn parse_line(gw: &Gateway, n: usize, raw: &str) -> CResult<(BatchLine, String)> {
    let v: Value = serde_json::from_str(raw).map_err(|e| {
        refuse(
            at(n, ""),
            format!("malformed JSON at column {}: {e}", e.column()),
        )
    })?;
    let Value::Object(mut o) = v else {
        return Err(refuse(at(n, ""), "expected a JSON object"));
    };
    if let Some(k) = o
        .keys()
        .find(|k| !["custom_id", "method", "url", "body"].contains(&k.as_str()))
    {
        return Err(refuse(
            at(n, k),
            "unknown field; a line has custom_id, method, url and body",
        ));
    }
    let custom_id = match o.remove("custom_id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_CUSTOM_ID => s,
        _ => {
            return Err(refuse(
                at(n, "custom_id"),
                format!("expected a string of 1 to {MAX_CUSTOM_ID} characters"),
            ));
        }
    };
    if o.remove("method") != Some(Value::String("POST".into())) {
        return Err(refuse(at(n, "method"), "expected \"POST\""));
    }
    if o.remove("url") != Some(Value::String(CHAT_ENDPOINT.into())) {
        return Err(refuse(
            at(n, "url"),
            format!("expected {CHAT_ENDPOINT:?} (the only endpoint batches run here)"),
        ));
    }
    let Some(Value::Object(body)) = o.remove("body") else {
        return Err(refuse(
            at(n, "body"),
            "expected a chat completions request object",
        ));
    };
    let (converse, json_tool, model) = translate_body(gw, &body).map_err(|e| in_line(n, e))?;
    Ok((
        BatchLine {
            custom_id,
            converse,
            json_tool,
        },
        model,
    ))
}

/// The body as the sync route reads it; a stream is refused (a batch has no connection).
fn translate_body(
    gw: &Gateway,
    body: &Map<String, Value>,
) -> CResult<(Value, Option<String>, String)> {
    if body.get("stream") == Some(&Value::Bool(true)) {
        return Err(refuse(
            "stream",
            "a batch request cannot stream; omit it or send false",
        ));
    }
    let body = Value::Object(body.clone());
    let model = gw.requested_model(&body).map_err(CompatError::from)?;
    let entry = gw
        .resolve_allowed(&model, Capability::Converse)
        .ok()
        .map(|r| r.model);
    let chat = translate(&body, entry.as_ref())?;
    Ok((chat.converse, chat.json_tool, model))
}

/// An error from a line's body, its `param` put under the line (`line 3: body.temperature`).
fn in_line(n: usize, e: CompatError) -> CompatError {
    let message = e.error.message();
    let (param, message) = match &e.param {
        Some(p) => (
            at(n, &format!("body.{p}")),
            message.strip_prefix(&format!("{p}: ")).unwrap_or(message),
        ),
        None => (at(n, "body"), message),
    };
    refuse(param, message)
}

/// A gateway error (submission of a line's job) named by its line.
pub fn line_error(n: usize, e: GatewayError) -> CompatError {
    if !e.status().is_client_error() {
        return CompatError::from(e);
    }
    CompatError {
        error: GatewayError::new(e.kind(), format!("line {n}: {}", e.message())),
        param: Some(at(n, "body")),
    }
}
