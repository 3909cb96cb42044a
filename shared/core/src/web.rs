//! HTTP glue for the functions behind API Gateway and Function URLs (feature `web`): the error
//! response (the one place a [`GatewayError`] becomes HTTP), request IDs, deadlines and the body
//! checks every JSON route needs.

use std::time::Instant;

use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;

use crate::context::{CallContext, deadline_from_epoch_ms, new_request_id};
use crate::error::GatewayError;

pub use crate::body::parse_json_body;

/// A [`GatewayError`] with the request ID it answers, as an axum response.
#[derive(Debug)]
pub struct ApiError {
    /// The error.
    pub error: GatewayError,
    /// The request ID for the body.
    pub request_id: String,
}

impl ApiError {
    /// Pairs an error with its request ID.
    pub fn new(error: GatewayError, request_id: impl Into<String>) -> Self {
        ApiError {
            error,
            request_id: request_id.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (parts, body) = self.error.to_http_response(&self.request_id).into_parts();
        Response::from_parts(parts, axum::body::Body::from(body))
    }
}

/// The Lambda request ID of a request; `x-request-id` or a fresh UUID when run outside Lambda.
pub fn request_id<B>(req: &http::Request<B>) -> String {
    req.lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| {
            req.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(new_request_id)
}

/// When the Lambda invocation serving `req` times out, if known.
pub fn deadline<B>(req: &http::Request<B>) -> Option<Instant> {
    req.lambda_context_ref()
        .and_then(|c| deadline_from_epoch_ms(c.deadline))
}

/// The [`CallContext`] of a request.
pub fn call_context<B>(req: &http::Request<B>, function: &'static str) -> CallContext {
    CallContext {
        request_id: request_id(req),
        deadline: deadline(req),
        function,
        // Put there by `auth::authenticate`.
        caller: req
            .extensions()
            .get::<std::sync::Arc<crate::auth::Caller>>()
            .cloned(),
        cache: crate::cache::CacheDirective::parse(
            req.headers()
                .get(crate::cache::HEADER)
                .map(|v| v.to_str().unwrap_or("<not text>")),
        ),
    }
}

/// Middleware for every route of an HTTP function:
/// `.layer(axum::middleware::from_fn_with_state("invoke", web::request_scope))`.
///
/// Fixes the request ID once and writes it into the request's `x-request-id` (so handlers,
/// error bodies and the response agree even outside Lambda, where [`request_id`] would otherwise
/// mint a new ID per call), returns it as the response's `x-request-id`, runs the request in its
/// log span and writes one access line (method, path, status, latency; never bodies).
pub async fn request_scope(
    axum::extract::State(function): axum::extract::State<&'static str>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use tracing::Instrument;
    let id = request_id(&req);
    let header = http::HeaderValue::from_str(&id).ok();
    if let Some(h) = &header {
        req.headers_mut().insert(REQUEST_ID_HEADER, h.clone());
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    let span = crate::telemetry::request_span(&id, function);
    let mut response = next.run(req).instrument(span.clone()).await;
    if let Some(h) = header {
        response.headers_mut().insert(REQUEST_ID_HEADER, h);
    }
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            path = %path,
            status = response.status().as_u16(),
            latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request"
        );
    });
    response
}

/// The header that carries the request ID on responses (and that a caller may send).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Router fallback: 404 `not_found` as JSON.
pub async fn not_found(req: axum::extract::Request) -> Response {
    let err = GatewayError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ));
    ApiError::new(err, request_id(&req)).into_response()
}

/// Method fallback: 405 `method_not_allowed` as JSON.
pub async fn method_not_allowed(req: axum::extract::Request) -> Response {
    let err = GatewayError::method_not_allowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.uri().path()
    ));
    ApiError::new(err, request_id(&req)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn error_response_has_status_retry_after_and_json() {
        let e = GatewayError::new(crate::error::ErrorKind::Throttled, "slow down");
        let resp = ApiError::new(e, "r-1").into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "2");
        assert_eq!(resp.headers()["content-type"], "application/json");
    }

    #[test]
    fn request_id_falls_back() {
        let req = http::Request::builder()
            .header("x-request-id", "abc")
            .body(())
            .unwrap();
        assert_eq!(request_id(&req), "abc");
        let req = http::Request::builder().body(()).unwrap();
        assert_eq!(request_id(&req).len(), 36);
        assert!(deadline(&req).is_none());
    }
}
