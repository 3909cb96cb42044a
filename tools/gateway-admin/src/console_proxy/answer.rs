//! Answers passed back to the page: status, a listed set of headers (never `set-cookie`), and
//! the body, read whole (JSON answers) or passed on as it arrives (the playground's stream).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use gateway_model::GatewayError;
use gateway_model::error::ErrorKind;
use http::HeaderMap;

use super::upstream::Peer;

/// Largest answer read whole (a long usage report fits many times over).
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Answer headers passed back to the browser: the console's media types, CSP and caching, the
/// relative redirect of `/console`, the error contract's `retry-after` and the request ID.
const FORWARDED_ANSWER: &[&str] = &[
    "content-type",
    "content-security-policy",
    "cache-control",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "location",
    "retry-after",
    "x-request-id",
];

/// The answer's headers that pass back: [`FORWARDED_ANSWER`] and those `also` accepts.
pub fn headers(answer: &reqwest::Response, also: fn(&str) -> bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if FORWARDED_ANSWER.contains(&name.as_str()) || also(name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}

/// The whole body, at most [`MAX_ANSWER_BYTES`].
pub async fn read(mut answer: reqwest::Response, peer: Peer) -> Result<Vec<u8>, GatewayError> {
    let too_long = || {
        GatewayError::new(
            ErrorKind::UpstreamError,
            format!("{}'s answer is over {MAX_ANSWER_BYTES} bytes", peer.name()),
        )
    };
    if answer
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_long());
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(|e| {
        GatewayError::new(
            ErrorKind::UpstreamError,
            format!("{}'s answer broke off: {e}", peer.name()),
        )
    })? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_long());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A response of `status`, exactly `headers` (hyper sets the length) and `body`.
pub fn respond(status: http::StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = (status, body).into_response();
    *response.headers_mut() = headers;
    response
}

/// The answer as it came, read whole.
pub async fn buffered(
    answer: reqwest::Response,
    peer: Peer,
    also: fn(&str) -> bool,
) -> Result<Response, GatewayError> {
    let status = answer.status();
    let headers = headers(&answer, also);
    let body = read(answer, peer).await?;
    Ok(respond(status, headers, Body::from(body)))
}

/// The answer passed on chunk by chunk as it arrives (an SSE stream): nothing is held back.
pub fn streamed(answer: reqwest::Response, also: fn(&str) -> bool) -> Response {
    let status = answer.status();
    let headers = headers(&answer, also);
    respond(status, headers, Body::from_stream(answer.bytes_stream()))
}

/// No header beyond [`FORWARDED_ANSWER`] (the admin API's answers).
pub fn nothing_more(_: &str) -> bool {
    false
}
