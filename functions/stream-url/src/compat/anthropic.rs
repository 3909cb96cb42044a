//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic Messages API for
//! Claude models.
//!
//! On Bedrock, Claude's native InvokeModel body *is* the Messages request (plus
//! `anthropic_version: bedrock-2023-05-31`, without `model` and `stream`), and its answer and
//! stream chunks are Messages responses and events. So the request is checked (every field is
//! either passed on or refused), rewritten to the native body and sent through
//! `Gateway::invoke_native` / `invoke_stream` / `count_tokens`, which apply the same policy,
//! guardrails, cost and metrics as the gateway's own routes. Nothing is lost in a Converse
//! round trip (cache_control, thinking signatures, tool_choice options, stop_sequence).

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use inference_core::catalog::Capability;
use inference_core::{CallBody, CallContext, Gateway, GatewayError, Known};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::anthropic_fit::{self, Conditional};
use super::dropped::Dropped;
use super::error::{CResult, CompatError, Provider, refuse};
use super::{json_response, opt, read_json};
use crate::pump::{self, Event, Format};

/// The native body's version for Claude on Bedrock.
pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Fields passed to the native body as they are (Bedrock validates their content).
const PASSED: &[&str] = &[
    "max_tokens",
    "messages",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    // Native structured output (`format: {type: json_schema, schema}`), which Bedrock takes
    // on Claude's InvokeModel body.
    "output_config",
];

/// Content block types Bedrock accepts in Claude messages.
const BLOCKS: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
];

/// A checked request: the model name, the native body, and whether to stream. The betas and
/// the beta-gated fields wait for the model (`anthropic_fit::fit`) before they enter `native`.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesRequest {
    /// `model` as the caller wrote it (without a beta suffix once split).
    pub model: String,
    /// The InvokeModel body.
    pub native: Value,
    /// `stream`.
    pub stream: bool,
    /// The `anthropic-beta` values asked for.
    pub betas: Vec<String>,
    /// Fields Bedrock takes only with a beta the model offers.
    pub conditional: Conditional,
    /// What was left out, for `x-gateway-dropped`.
    pub dropped: Dropped,
}

fn check_source(block: &Map<String, Value>, param: &str) -> CResult<()> {
    if let Some(src) = block.get("source") {
        match src.get("type").and_then(Value::as_str) {
            Some("base64") | Some("text") | Some("content") => {}
            Some(other) => {
                return Err(refuse(
                    format!("{param}.source.type"),
                    format!(
                        "{other:?} sources are not supported on Bedrock (send base64 data; the gateway does not fetch URLs or files)"
                    ),
                ));
            }
            None => return Err(refuse(format!("{param}.source"), "expected a type")),
        }
    }
    Ok(())
}

fn check_blocks(content: &Value, param: &str) -> CResult<()> {
    let Value::Array(blocks) = content else {
        return match content {
            Value::String(_) => Ok(()),
            _ => Err(refuse(
                param,
                "expected a string or an array of content blocks",
            )),
        };
    };
    for (j, b) in blocks.iter().enumerate() {
        let p = format!("{param}[{j}]");
        let o = b
            .as_object()
            .ok_or_else(|| refuse(p.clone(), "expected a content block"))?;
        let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
        if !BLOCKS.contains(&ty) {
            return Err(refuse(
                format!("{p}.type"),
                format!(
                    "{ty:?} blocks are not supported on Bedrock (accepted: {})",
                    BLOCKS.join(", ")
                ),
            ));
        }
        check_source(o, &p)?;
        if ty == "tool_result"
            && let Some(inner) = o.get("content")
        {
            check_blocks(inner, &format!("{p}.content"))?;
        }
    }
    Ok(())
}

fn check_tools(tools: &Value) -> CResult<()> {
    let list = tools
        .as_array()
        .ok_or_else(|| refuse("tools", "expected an array"))?;
    for (i, t) in list.iter().enumerate() {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("custom");
        if ty != "custom" {
            return Err(refuse(
                format!("tools[{i}].type"),
                format!(
                    "{ty:?}: server and built-in tools are not offered through this gateway; define a custom tool"
                ),
            ));
        }
    }
    Ok(())
}

/// `output_config`: `format` (native structured output) goes into the body as sent (Bedrock
/// validates the schema for the model); `effort` needs a beta, so it is returned for
/// `anthropic_fit` to forward or drop; any other key is refused.
fn output_config(v: &Value) -> CResult<(Option<Value>, Option<Value>)> {
    let o = v
        .as_object()
        .ok_or_else(|| refuse("output_config", "expected an object"))?;
    let (mut format, mut effort) = (None, None);
    for (k, v) in o.iter().filter(|(_, v)| !v.is_null()) {
        match k.as_str() {
            "effort" => effort = Some(v.clone()),
            "format" => format = Some(v.clone()),
            other => {
                return Err(refuse(
                    format!("output_config.{other}"),
                    "is not supported by Claude on Amazon Bedrock through this gateway; remove it",
                ));
            }
        }
    }
    Ok((format, effort))
}

/// The `anthropic-beta` header values (comma-separated, possibly repeated headers).
fn header_betas(headers: &HeaderMap) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    for b in all {
        if !out.iter().any(|o| o == b) {
            out.push(b.to_owned());
        }
    }
    out
}

/// Checks a Messages request and builds the native body. `anthropic-beta` headers are kept in
/// `betas` until the model is known (`anthropic_fit::fit` writes Bedrock's `anthropic_beta`).
pub fn translate(body: &Value, headers: &HeaderMap) -> CResult<MessagesRequest> {
    let o = body
        .as_object()
        .ok_or_else(|| refuse("body", "expected a JSON object"))?;
    let mut native = Map::new();
    native.insert("anthropic_version".into(), json!(BEDROCK_ANTHROPIC_VERSION));
    let mut stream = false;
    let mut model = None;
    let mut conditional = Conditional::default();
    for (k, v) in o {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "model" => {
                model = Some(
                    v.as_str()
                        .ok_or_else(|| refuse("model", "expected a string"))?
                        .to_owned(),
                )
            }
            "stream" => {
                stream = v
                    .as_bool()
                    .ok_or_else(|| refuse("stream", "expected a boolean"))?
            }
            // Bedrock serves Claude at the standard tier: both values are honoured by it.
            "service_tier" => match v.as_str() {
                Some("auto" | "standard_only") => {}
                _ => return Err(refuse("service_tier", "expected auto or standard_only")),
            },
            "context_management" => conditional.context_management = Some(v.clone()),
            "output_config" => {
                let (format, effort) = output_config(v)?;
                conditional.effort = effort;
                if let Some(format) = format {
                    native.insert("output_config".into(), json!({"format": format}));
                }
            }
            k if PASSED.contains(&k) => {
                native.insert(k.to_owned(), v.clone());
            }
            other => {
                return Err(refuse(
                    other,
                    "is not supported by Claude on Amazon Bedrock through this gateway; remove it",
                ));
            }
        }
    }
    let model = model.ok_or_else(|| refuse("model", "required"))?;
    if !opt(o, "max_tokens").is_some_and(Value::is_u64) {
        return Err(refuse("max_tokens", "required: a positive integer"));
    }
    let messages = opt(o, "messages")
        .and_then(Value::as_array)
        .ok_or_else(|| refuse("messages", "required: an array of messages"))?;
    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        match m.get("role").and_then(Value::as_str) {
            Some("user" | "assistant") => {}
            _ => return Err(refuse(format!("{p}.role"), "expected user or assistant")),
        }
        check_blocks(
            m.get("content").unwrap_or(&Value::Null),
            &format!("{p}.content"),
        )?;
    }
    if let Some(s) = opt(o, "system") {
        check_blocks(s, "system")?;
    }
    if let Some(t) = opt(o, "tools") {
        check_tools(t)?;
    }
    let mut dropped = Dropped::default();
    anthropic_fit::strip_subfields(&mut native, &mut dropped);
    Ok(MessagesRequest {
        model,
        native: Value::Object(native),
        stream,
        betas: header_betas(headers),
        conditional,
        dropped,
    })
}

/// The count_tokens body -> the native body to count (`max_tokens` is required by the native
/// schema but not by count_tokens: the smallest valid value is used, above any thinking budget).
pub fn count_body(body: &Value, headers: &HeaderMap) -> CResult<MessagesRequest> {
    let o = body
        .as_object()
        .ok_or_else(|| refuse("body", "expected a JSON object"))?;
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "model"
                | "messages"
                | "system"
                | "tools"
                | "tool_choice"
                | "thinking"
                | "context_management"
                | "output_config"
        ) {
            return Err(refuse(
                k.clone(),
                "is not accepted by count_tokens here; remove it",
            ));
        }
    }
    let budget = o
        .get("thinking")
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut with_max = o.clone();
    // saturating: `budget_tokens` is the caller's u64 (u64::MAX used to overflow here).
    with_max.insert("max_tokens".into(), json!(budget.saturating_add(1)));
    translate(&Value::Object(with_max), headers)
}

/// Checks that the requested model is a Claude model this deployment allows (after splitting
/// off a beta suffix), then fits the request to it (`anthropic_fit`). The resolution is the
/// call's: it is handed to the pipeline, not made again.
fn check_claude(gw: &Gateway, req: &mut MessagesRequest, capability: Capability) -> CResult<Known> {
    anthropic_fit::split_model_suffix(&gw.catalog(), req);
    let known = gw.resolve_known(&req.model, capability)?;
    let model = known.model();
    if model.family != "claude" {
        return Err(refuse(
            "model",
            format!(
                "{} is not a Claude model: /v1/messages serves Claude; use /v1/chat/completions for other models",
                model.id
            ),
        ));
    }
    anthropic_fit::fit(req, model);
    Ok(known)
}

/// The handler of `POST /v1/messages`.
pub async fn handle(State(gw): State<Gateway>, req: Request) -> Response {
    let started = Instant::now();
    let (ctx, headers, body) = read_json(&gw, req).await;
    match run(&gw, &ctx, &headers, body, started).await {
        Ok(r) => r,
        Err(e) => e.into_response(Provider::Anthropic, &ctx.request_id),
    }
}

async fn run(
    gw: &Gateway,
    ctx: &CallContext,
    headers: &HeaderMap,
    body: CResult<Value>,
    started: Instant,
) -> CResult<Response> {
    let mut req = translate(&body?, headers)?;
    let capability = if req.stream {
        Capability::Streaming
    } else {
        Capability::Converse
    };
    let known = check_claude(gw, &mut req, capability)?;
    let bytes = Bytes::from(req.native.to_string());
    if req.stream {
        let call = gw.invoke_stream(&known, bytes, ctx).await?;
        let cx = crate::routes::pump_context(gw, ctx, started);
        let resp = pump::open_with(call, AnthropicStream::default(), cx).await?;
        Ok(req.dropped.apply(resp))
    } else {
        let reply = gw.invoke_native(&known, bytes, ctx).await?;
        let mut v: Value = serde_json::from_slice(&reply.body)
            .map_err(|_| GatewayError::internal("the model's answer is not JSON"))?;
        if let Value::Object(m) = &mut v {
            m.remove("amazon-bedrock-invocationMetrics");
            m.entry("model").or_insert(json!(reply.model.id));
            m.insert("cost".into(), reply.cost.to_json());
            if let Some(g) = reply.guardrail.to_json() {
                m.insert("guardrail".into(), g);
            }
        }
        Ok(req
            .dropped
            .apply(json_response(&v, Some(&reply.cost.total_text()))))
    }
}

/// The handler of `POST /v1/messages/count_tokens`: `{"input_tokens": N}`.
pub async fn count_tokens(State(gw): State<Gateway>, req: Request) -> Response {
    let (ctx, headers, body) = read_json(&gw, req).await;
    let result = async {
        let mut req = count_body(&body?, &headers)?;
        let known = check_claude(&gw, &mut req, Capability::CountTokens)?;
        let body = json!({"model": req.model, "body": req.native});
        let counted = gw
            .count_tokens(CallBody::new(body, Some(known)), &ctx)
            .await?;
        let n = counted
            .get("inputTokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Ok::<_, CompatError>(
            req.dropped
                .apply(json_response(&json!({"input_tokens": n}), None)),
        )
    }
    .await;
    result.unwrap_or_else(|e| e.into_response(Provider::Anthropic, &ctx.request_id))
}

/// Native Claude stream chunks -> Anthropic SSE events (`event: <type>`). `message_delta` and
/// `message_stop` are held to the end so the closing `message_delta` can carry the gateway's
/// cost (and guardrail report); nothing else waits.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    delta: Option<Value>,
    guardrail: Option<Value>,
}

fn frame(v: &Value) -> Bytes {
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("message");
    Bytes::from(format!("event: {ty}\ndata: {v}\n\n"))
}

impl Format for AnthropicStream {
    fn event(&mut self, (name, e): &Event) -> Bytes {
        if name == pump::GUARDRAIL {
            self.guardrail = Some(e.clone());
            return Bytes::new();
        }
        let mut e = e.clone();
        if let Value::Object(m) = &mut e {
            m.remove("amazon-bedrock-invocationMetrics");
        }
        match e.get("type").and_then(Value::as_str) {
            Some("message_delta") => {
                self.delta = Some(e);
                Bytes::new()
            }
            Some("message_stop") | None => Bytes::new(),
            Some(_) => frame(&e),
        }
    }

    fn done(&mut self, summary: Value) -> Bytes {
        let mut delta = self.delta.take().unwrap_or_else(|| {
            // The stream was cut (a guardrail blocked it): close the message anyway.
            json!({"type": "message_delta", "delta": {"stop_reason": "refusal", "stop_sequence": null},
                   "usage": {"output_tokens": 0}})
        });
        if let Some(u) = summary.get("usage") {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            delta["usage"] = json!({
                "input_tokens": n("inputTokens"),
                "output_tokens": n("outputTokens"),
                "cache_read_input_tokens": n("cacheReadInputTokens"),
                "cache_creation_input_tokens": n("cacheWriteInputTokens"),
            });
        }
        delta["cost"] = summary.get("cost").cloned().unwrap_or(Value::Null);
        if let Some(g) = self.guardrail.take() {
            delta["guardrail"] = g;
        }
        let mut out = frame(&delta).to_vec();
        out.extend_from_slice(&frame(&json!({"type": "message_stop"})));
        Bytes::from(out)
    }

    fn error(&mut self, error: &GatewayError, request_id: &str) -> Bytes {
        let body = CompatError::from(error.clone()).to_body(Provider::Anthropic, request_id);
        Bytes::from(format!("event: error\ndata: {body}\n\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> HeaderMap {
        HeaderMap::new()
    }

    #[test]
    fn native_body_keeps_fields_and_drops_model_and_stream() {
        let body = json!({"model": "haiku", "max_tokens": 100, "stream": true, "system": "be brief",
            "messages": [{"role": "user", "content": "hi"}], "top_k": 5, "metadata": {"user_id": "u"},
            "tools": [{"name": "get", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true}});
        let mut headers = h();
        headers.insert("anthropic-beta", "a-1, b-2".parse().unwrap());
        let r = translate(&body, &headers).unwrap();
        assert_eq!(r.model, "haiku");
        assert!(r.stream);
        assert_eq!(r.native["anthropic_version"], BEDROCK_ANTHROPIC_VERSION);
        assert_eq!(r.betas, ["a-1", "b-2"]);
        assert!(r.native.get("anthropic_beta").is_none(), "written by fit");
        assert!(r.native.get("model").is_none() && r.native.get("stream").is_none());
        assert_eq!(r.native["top_k"], 5);
        assert_eq!(r.native["tool_choice"]["disable_parallel_tool_use"], true);
    }

    #[test]
    fn output_config_is_forwarded() {
        let oc = json!({"format": {"type": "json_schema", "schema": {"type": "object"}}});
        let body = json!({"model": "haiku", "max_tokens": 10, "output_config": oc,
            "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(translate(&body, &h()).unwrap().native["output_config"], oc);
    }

    #[test]
    fn refusals_name_the_field() {
        let base = json!({"model": "haiku", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            translate(&b, &h()).unwrap_err().param.unwrap()
        };
        assert_eq!(with("container", json!("c")), "container");
        assert_eq!(with("mcp_servers", json!([])), "mcp_servers");
        assert_eq!(
            with(
                "tools",
                json!([{"type": "web_search_20250305", "name": "w"}])
            ),
            "tools[0].type"
        );
        assert_eq!(
            with(
                "messages",
                json!([{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x"}}]}])
            ),
            "messages[0].content[0].source.type"
        );
        assert_eq!(
            with("messages", json!([{"role": "system", "content": "x"}])),
            "messages[0].role"
        );
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove("max_tokens");
        assert_eq!(
            translate(&b, &h()).unwrap_err().param.unwrap(),
            "max_tokens"
        );
    }

    #[test]
    fn count_body_adds_the_smallest_max_tokens() {
        let b = json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}],
                       "thinking": {"type": "enabled", "budget_tokens": 1024}});
        let r = count_body(&b, &h()).unwrap();
        assert_eq!(r.native["max_tokens"], 1025);
        // A caller's u64::MAX budget neither overflows (a panic in debug) nor wraps to 0.
        let huge = json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}],
                          "thinking": {"type": "enabled", "budget_tokens": u64::MAX}});
        if let Ok(r) = count_body(&huge, &h()) {
            assert_eq!(r.native["max_tokens"], u64::MAX);
        }
        let bad = json!({"model": "haiku", "messages": [], "max_tokens": 3});
        assert_eq!(
            count_body(&bad, &h()).unwrap_err().param.unwrap(),
            "max_tokens"
        );
    }

    #[test]
    fn stream_holds_the_delta_for_the_cost() {
        let mut f = AnthropicStream::default();
        let start = f.event(&(
            "chunk".into(),
            json!({"type": "message_start", "message": {"id": "m"}}),
        ));
        assert!(
            std::str::from_utf8(&start)
                .unwrap()
                .starts_with("event: message_start\ndata: ")
        );
        let held = f.event(&("chunk".into(), json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}})));
        assert!(held.is_empty());
        assert!(
            f.event(&(
                "chunk".into(),
                json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {}})
            ))
            .is_empty()
        );
        let done = f.done(
            json!({"usage": {"inputTokens": 7, "outputTokens": 3}, "cost": {"total": "0.1"}}),
        );
        let text = std::str::from_utf8(&done).unwrap();
        assert!(text.starts_with("event: message_delta\n"), "{text}");
        assert!(
            text.contains("\"input_tokens\":7") && text.contains("\"cost\":{\"total\":\"0.1\"}")
        );
        assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
        let err = f.error(&GatewayError::timeout("late"), "r");
        assert!(
            std::str::from_utf8(&err)
                .unwrap()
                .starts_with("event: error\ndata: {\"error\":{")
        );
    }
}
