//! `POST /v1/chat/completions`: OpenAI Chat Completions over Converse / ConverseStream.
//!
//! [`translate`] maps every request field to Converse JSON or refuses it (docs/compat.md has the
//! table): the body is read into typed values (`request`), then converted once (`translate`,
//! `messages`). [`to_openai`] maps the Converse answer back; [`OpenAiStream`] turns
//! ConverseStream events into `chat.completion.chunk` frames ending with `data: [DONE]`.

pub mod caching;
mod messages;
mod request;
mod response;
mod stream;
mod tools;
mod translate;

use axum::extract::{Request, State};
use axum::response::Response;
use inference_core::catalog::Capability;
use inference_core::{CallBody, CallContext, Gateway, Known};
use serde_json::Value;
use tokio::time::Instant;

pub use messages::image_block;
pub use response::{finish_reason, to_openai, usage};
pub use stream::OpenAiStream;
pub use translate::{ChatRequest, translate};

use super::error::{CResult, Provider};
use super::{json_response, read_json, requested_model};
use crate::pump;

/// Thinking budgets (tokens) for `reasoning_effort` on models with Claude-style thinking.
pub const EFFORT_BUDGETS: [(&str, u32); 4] = [
    ("minimal", 1024),
    ("low", 1024),
    ("medium", 4096),
    ("high", 16384),
];

/// Name of the forced tool that carries `response_format: json_object`.
pub const JSON_OBJECT_TOOL: &str = "json_object";

/// The handler.
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
    let chat = translate(&body, known.as_ref().map(Known::model))?;
    let request = CallBody::new(chat.converse, known);
    if chat.stream {
        let call = gw.converse_stream(request, ctx).await?;
        let format = OpenAiStream::new(
            &ctx.request_id,
            call.resolved().target.id(),
            chat.include_usage,
            chat.json_tool.is_some(),
        );
        let cx = crate::routes::pump_context(gw, ctx, started);
        let cache = call.cache_status().map(|s| s.as_str());
        let resp = pump::open_with(call, format, cx).await?;
        Ok(with_cache_header(resp, cache))
    } else {
        let reply = gw.converse_reply(request, ctx).await?;
        let cost = reply.meta.cost.total_text();
        let cache = reply.meta.cache.as_ref().map(|c| c.status);
        let out = reply.into_json();
        let v = to_openai(&out, chat.json_tool.as_deref(), &ctx.request_id);
        Ok(with_cache_header(json_response(&v, Some(&cost)), cache))
    }
}

/// The response cache's verdict (`hit`, `miss`, ...) as `x-gateway-cache`: OpenAI's body has no
/// place for it, and clients ignore unknown headers.
pub(crate) fn with_cache_header(mut resp: Response, status: Option<&str>) -> Response {
    if let Some(h) = status.and_then(|s| http::HeaderValue::from_str(s).ok()) {
        resp.headers_mut().insert(inference_core::cache::HEADER, h);
    }
    resp
}

/// What the unit tests (`tests.rs`, `use super::*`) take from this module besides its own items.
#[cfg(test)]
use {
    crate::pump::Format, bytes::Bytes, inference_core::GatewayError,
    inference_core::catalog::ModelEntry, serde_json::json,
};

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod typed_tests;
