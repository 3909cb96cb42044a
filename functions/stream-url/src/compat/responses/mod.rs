//! `POST /v1/responses` and `POST /v1/responses/input_tokens`: the OpenAI Responses API over
//! Converse / ConverseStream (what Codex CLI speaks with `wire_api = "responses"`).
//!
//! Stateless: nothing is stored, so `store: true`, `previous_response_id` and `conversation`
//! are refused and the client sends the whole conversation as `input` (Codex does, with
//! `store: false`). The request is rewritten into the equivalent Chat Completions request
//! (`request`), which the chat route's own `translate` maps to Converse, so both routes share
//! one set of rules (tools, `json_schema`, reasoning, limits) and one call path: the same
//! `Gateway` converse calls. The answer and stream are rendered by `output` and `stream`.

mod output;
mod request;
mod stream;

use axum::extract::{Request, State};
use axum::response::Response;
use inference_core::catalog::{Capability, ModelEntry};
use inference_core::{CallBody, CallContext, CountInput, Gateway, Known};
use serde_json::{Value, json};
use tokio::time::Instant;

pub use super::dropped::{DROPPED_HEADER, Dropped};
pub use output::{Shell, to_response, usage};
pub use request::{Mapped, STATELESS, to_chat};
pub use stream::ResponsesStream;

use super::error::{CResult, Provider};
use super::openai::{ChatRequest, translate as chat_translate};
use super::{json_response, read_json, requested_model};
use crate::pump;

/// A checked Responses request: the Converse call and what the answer needs.
#[derive(Debug)]
pub struct Translated {
    /// The chat route's translation (Converse JSON, stream, forced json tool).
    pub chat: ChatRequest,
    /// Fields accepted and not sent.
    pub dropped: Dropped,
}

/// Maps a Responses body to Converse through the chat route's rules.
pub fn translate(body: &Value, model: Option<&ModelEntry>) -> CResult<Translated> {
    let mapped = to_chat(body)?;
    let chat = chat_translate(&Value::Object(mapped.chat), model)
        .map_err(|e| request::rename(e, &mapped.origins))?;
    Ok(Translated {
        chat,
        dropped: mapped.dropped,
    })
}

/// `POST /v1/responses`.
pub async fn handle(State(gw): State<Gateway>, req: Request) -> Response {
    let started = Instant::now();
    let (ctx, _, body) = read_json(&gw, req).await;
    match run(&gw, &ctx, body, started).await {
        Ok(r) => r,
        Err(e) => e.into_response(Provider::OpenAi, &ctx.request_id),
    }
}

async fn run(
    gw: &Gateway,
    ctx: &CallContext,
    body: CResult<Value>,
    started: Instant,
) -> CResult<Response> {
    let body = body?;
    let known = requested_model(gw, &body, Capability::Converse);
    let t = translate(&body, known.as_ref().map(Known::model))?;
    let shell = Shell::new(&body, &ctx.request_id, t.chat.json_tool.is_some());
    let request = CallBody::new(t.chat.converse, known);
    if t.chat.stream {
        let call = gw.converse_stream(request, ctx).await?;
        let format = ResponsesStream::new(shell, call.resolved().target.id());
        let cx = crate::routes::pump_context(gw, ctx, started);
        let cache = call.cache_status().map(|s| s.as_str());
        let resp = pump::open_with(call, format, cx).await?;
        Ok(t.dropped
            .apply(super::openai::with_cache_header(resp, cache)))
    } else {
        let reply = gw.converse_reply(request, ctx).await?;
        let cost = reply.meta.cost.total_text();
        let cache = reply.meta.cache.as_ref().map(|c| c.status);
        let out = reply.into_json();
        let v = to_response(&out, &shell);
        let resp = json_response(&v, Some(&cost));
        Ok(t.dropped
            .apply(super::openai::with_cache_header(resp, cache)))
    }
}

/// `POST /v1/responses/input_tokens`: the request's input (messages, system, tools) counted by
/// Bedrock CountTokens, for models with the `count_tokens` capability. Takes the fields of a
/// `responses.create` body (`stream` and the generation settings are checked, not counted).
pub async fn input_tokens(State(gw): State<Gateway>, req: Request) -> Response {
    let (ctx, _, body) = read_json(&gw, req).await;
    let result = async {
        let body = body?;
        let name = gw.requested_model(&body)?;
        let resolved = gw.resolve_allowed(&name, Capability::CountTokens)?;
        let t = translate(&body, Some(&resolved.model))?;
        let input = CountInput::converse(&t.chat.converse, COUNT_IGNORED)?;
        let n = gw.count_input_tokens(&resolved.model, &input, &ctx).await?;
        let v = json!({"object": "response.input_tokens", "input_tokens": n});
        Ok(t.dropped.apply(json_response(&v, None)))
    }
    .await;
    result
        .unwrap_or_else(|e: super::CompatError| e.into_response(Provider::OpenAi, &ctx.request_id))
}

/// The caller's own field in the Converse body (every Converse field parses; only the input ones
/// are counted).
const COUNT_IGNORED: &[&str] = &["model"];

#[cfg(test)]
mod tests;
