//! The HTTP edge of the functions behind API Gateway and Function URLs (feature `web`), written
//! once in axum's idiom:
//!
//! - [`Ctx`]: the call context of a request (request ID, deadline, caller, cache directive);
//! - [`JsonBody`] / [`RawJson`]: the JSON body, checked for size (413), media type (415) and JSON
//!   (400) by the one reader every route shares;
//! - `impl IntoResponse for GatewayError` (in `gateway-model`'s `error`, feature `axum`, which
//!   `web` turns on): the one place an error becomes HTTP. The error also travels in the
//!   response's extensions, so [`request_scope`] can stamp the request ID into its body and an
//!   outer layer can render it in another API's shape (stream-url's compat routes);
//! - [`edge`] ([`request_scope`], [`not_found`], [`method_not_allowed`], the key layer): what
//!   every router ends with.
//!
//! Handlers are `async fn(State, Ctx, JsonBody) -> Result<impl IntoResponse, GatewayError>`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use http::request::Parts;
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::{CallContext, deadline_from_epoch_ms, new_request_id};
use crate::error::GatewayError;

pub use crate::body::parse_json_body;

/// The header that carries the request ID on responses (and that a caller may send).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The body limit when a router has no [`Scope`]: Lambda's own 6 MiB payload limit, the default
/// of `GATEWAY_MAX_BODY_BYTES`.
const DEFAULT_BODY_LIMIT: usize = 6 * 1024 * 1024;

/// What every request of one router shares; the state of [`request_scope`], which puts it into
/// each request's extensions for the extractors.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// The calling function (`invoke`, `count`, ...): the `Function` metric dimension and the
    /// log span's name.
    pub function: &'static str,
    /// The largest JSON body the routes take (`GATEWAY_MAX_BODY_BYTES`, or the admin's own).
    pub body_limit: usize,
    /// Refuse requests not addressed to a loopback host or sent by a web page of another
    /// origin (`GATEWAY_LOOPBACK_ONLY`, the local stack: [`crate::loopback`]).
    pub loopback_only: bool,
}

impl Scope {
    /// A scope for `function` with `body_limit` (`loopback_only` from the environment).
    pub fn new(function: &'static str, body_limit: usize) -> Scope {
        Scope {
            function,
            body_limit,
            loopback_only: crate::loopback::enabled_by_env(),
        }
    }

    /// The same scope with the loopback guard on or off (tests).
    pub fn with_loopback_only(mut self, on: bool) -> Scope {
        self.loopback_only = on;
        self
    }
}

/// The request ID [`request_scope`] fixed, in the request's and the response's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Extractor: the request's [`CallContext`]. Never fails.
///
/// The request ID is the one [`request_scope`] fixed, the function name comes from its
/// [`Scope`], the caller from the API-key layer (`auth::authenticate`), the deadline from the
/// Lambda context and the cache directive from `x-gateway-cache`.
#[derive(Debug, Clone)]
pub struct Ctx(pub CallContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx(call_context(parts)))
    }
}

/// The [`CallContext`] of a request (see [`Ctx`]).
pub fn call_context(parts: &Parts) -> CallContext {
    let ext = &parts.extensions;
    CallContext {
        request_id: ext
            .get::<RequestId>()
            .map_or_else(|| request_id(parts), |r| r.0.clone()),
        deadline: ext
            .lambda_context_ref()
            .and_then(|c| deadline_from_epoch_ms(c.deadline)),
        // Outside a scoped router (a test driving a bare handler): the metric still has a name.
        function: ext.get::<Scope>().map_or("gateway", |s| s.function),
        // Put there by `auth::authenticate`.
        caller: ext.get::<Arc<crate::auth::Caller>>().cloned(),
        cache: crate::cache::CacheDirective::parse(
            parts
                .headers
                .get(crate::cache::HEADER)
                .map(|v| v.to_str().unwrap_or("<not text>")),
        ),
    }
}

/// The request ID of a request that has none fixed yet: the Lambda request ID, else the
/// caller's `x-request-id`, else a fresh UUID (local runs). Only [`request_scope`] and [`Ctx`]
/// (outside a scope) ask; everything else reads the fixed one.
fn request_id(parts: &Parts) -> String {
    parts
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| {
            parts
                .headers
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(new_request_id)
}

/// Extractor: a checked JSON object body, deserialized into `T` (a field that does not fit is
/// a 400 `body: ...`). The checks are [`RawJson`]'s.
#[derive(Debug, Clone)]
pub struct JsonBody<T = Value>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + 'static,
{
    type Rejection = GatewayError;

    async fn from_request(req: Request, state: &S) -> Result<Self, GatewayError> {
        let RawJson { json, .. } = RawJson::from_request(req, state).await?;
        // Most routes take the object as it is: hand it over without a second pass.
        let any: Box<dyn std::any::Any> = Box::new(json);
        let json = match any.downcast::<T>() {
            Ok(same) => return Ok(JsonBody(*same)),
            Err(any) => any.downcast::<Value>().map_or(Value::Null, |v| *v),
        };
        serde_json::from_value(json)
            .map(JsonBody)
            .map_err(|e| GatewayError::invalid_request(format!("body: {e}")))
    }
}

/// Extractor: the checked JSON object body and the bytes as received (routes that pass them on
/// untouched, like InvokeModel's).
///
/// Checks, in the order a caller can act on them: a declared `Content-Length` over the route's
/// limit (413, before reading), the body read up to one byte past it (413), then
/// [`parse_json_body`]: media type (415) and JSON object (400).
#[derive(Debug, Clone)]
pub struct RawJson {
    /// The body as received.
    pub raw: Bytes,
    /// The body, parsed; always a JSON object.
    pub json: Value,
}

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = GatewayError;

    async fn from_request(req: Request, _: &S) -> Result<Self, GatewayError> {
        let limit = req
            .extensions()
            .get::<Scope>()
            .map_or(DEFAULT_BODY_LIMIT, |s| s.body_limit);
        if let Some(len) = declared_length(req.headers())
            && len > limit
        {
            return Err(GatewayError::payload_too_large(len, limit));
        }
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
        // Lambda hands over the whole body at once (its payload limit applies first), so reading
        // one byte past the limit is enough to tell "too large" without buffering more.
        let raw = axum::body::to_bytes(req.into_body(), limit.saturating_add(1))
            .await
            .map_err(|_| GatewayError::payload_too_large(limit.saturating_add(1), limit))?;
        let json = parse_json_body(content_type.as_deref(), &raw, limit)?;
        Ok(RawJson { raw, json })
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Middleware for every route of an HTTP function:
/// `.layer(axum::middleware::from_fn_with_state(Scope::new("invoke", limit), web::request_scope))`.
///
/// Fixes the request ID once (in the request's extensions as [`RequestId`] for [`Ctx`], and in
/// its `x-request-id`, so handlers, error bodies and the response agree even outside Lambda),
/// returns it as the response's `x-request-id`, answers axum's own `text/plain` rejections (a
/// path parameter that is not UTF-8, ...) as the JSON [`GatewayError`], writes the request ID
/// into a [`GatewayError`] answer's body,
/// runs the request in its log span and writes one access line (method, path, status, latency;
/// never bodies).
pub async fn request_scope(
    axum::extract::State(scope): axum::extract::State<Scope>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    use tracing::Instrument;
    let (mut parts, body) = req.into_parts();
    let id = request_id(&parts);
    let header = http::HeaderValue::from_str(&id).ok();
    if let Some(h) = &header {
        parts.headers.insert(REQUEST_ID_HEADER, h.clone());
    }
    parts.extensions.insert(RequestId(id.clone()));
    parts.extensions.insert(scope);
    let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
    let started = Instant::now();
    let span = crate::telemetry::request_span(&id, scope.function);
    let req = Request::from_parts(parts, body);
    let refused = if scope.loopback_only {
        crate::loopback::refusal(req.headers())
    } else {
        None
    };
    let mut response = match refused {
        Some(e) => e.into_response(),
        None => next.run(req).instrument(span.clone()).await,
    };
    if let Some(error) = axum_rejection(&mut response).await {
        response = error.into_response();
    }
    if let Some(error) = response.extensions().get::<Arc<GatewayError>>().cloned() {
        let headers = response.headers_mut();
        headers.remove(http::header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(error.to_body(&id).to_string());
    }
    if let Some(h) = header {
        response.headers_mut().insert(REQUEST_ID_HEADER, h);
    }
    response.extensions_mut().insert(RequestId(id));
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

/// Largest text of an axum rejection read back (they are one line).
const REJECTION_TEXT_LIMIT: usize = 4096;

/// An error answer that axum wrote itself, as `text/plain` (an extractor's rejection: a path
/// parameter that is not valid percent-encoded UTF-8, a body over a limit, ...), as the
/// gateway's JSON error with the same status class; `None` for every other response.
async fn axum_rejection(response: &mut Response) -> Option<GatewayError> {
    use crate::error::ErrorKind;
    let status = response.status();
    let plain = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error())
        || !plain
        || response.extensions().get::<Arc<GatewayError>>().is_some()
    {
        return None;
    }
    let body = std::mem::take(response.body_mut());
    let text = axum::body::to_bytes(body, REJECTION_TEXT_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let kind = match status.as_u16() {
        401 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        405 => ErrorKind::MethodNotAllowed,
        413 => ErrorKind::PayloadTooLarge,
        415 => ErrorKind::UnsupportedMediaType,
        _ if status.is_client_error() => ErrorKind::InvalidRequest,
        _ => ErrorKind::Internal,
    };
    Some(GatewayError::new(kind, format!("request: {text}")))
}

/// What every function's router ends with, written once: 405 for a known path with another
/// method and 404 for an unknown path (both JSON), the API-key layer when `auth` is given, and
/// [`request_scope`] outermost (so refusals carry the request ID and are logged like any answer).
pub fn edge<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    scope: Scope,
    auth: Option<crate::auth::Auth>,
) -> axum::Router<S> {
    let mut router = router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found);
    if let Some(auth) = auth {
        // API keys, per-key budgets and rate limits (`GATEWAY_AUTH`; docs/auth.md).
        router = router.layer(axum::middleware::from_fn_with_state(
            auth,
            crate::auth::authenticate,
        ));
    }
    router.layer(axum::middleware::from_fn_with_state(scope, request_scope))
}

/// Router fallback: 404 `not_found` as JSON.
pub async fn not_found(req: Request) -> GatewayError {
    GatewayError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// Method fallback, once per router (`Router::method_not_allowed_fallback`): 405
/// `method_not_allowed` as JSON.
pub async fn method_not_allowed(req: Request) -> GatewayError {
    GatewayError::method_not_allowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn error_response_has_status_retry_after_and_json() {
        let e = GatewayError::new(crate::error::ErrorKind::Throttled, "slow down");
        let resp = e.into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "2");
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert!(resp.extensions().get::<Arc<GatewayError>>().is_some());
    }

    #[test]
    fn request_id_falls_back() {
        let (parts, ()) = http::Request::builder()
            .header("x-request-id", "abc")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(request_id(&parts), "abc");
        let (parts, ()) = http::Request::builder().body(()).unwrap().into_parts();
        assert_eq!(request_id(&parts).len(), 36);
        assert!(call_context(&parts).deadline.is_none());
    }

    async fn body_of(req: http::Request<Body>) -> Result<Value, GatewayError> {
        JsonBody::<Value>::from_request(req, &()).await.map(|b| b.0)
    }

    #[tokio::test]
    async fn the_body_checks_of_every_route() {
        let req = |ct: Option<&str>, len: Option<&str>, body: &'static str| {
            let mut b = http::Request::builder();
            if let Some(ct) = ct {
                b = b.header("content-type", ct);
            }
            if let Some(len) = len {
                b = b.header("content-length", len);
            }
            let mut r = b.body(Body::from(body)).unwrap();
            r.extensions_mut().insert(Scope::new("t", 10));
            r
        };
        assert!(body_of(req(None, None, "{}")).await.is_ok());
        let e = body_of(req(None, Some("99"), "{}")).await.unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.message().contains("99")),
            (413, true)
        );
        let e = body_of(req(None, None, "{\"a\": \"long\"}"))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 413);
        let e = body_of(req(Some("text/plain"), None, "{}"))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 415);
        let e = body_of(req(None, None, "[1]")).await.unwrap_err();
        assert_eq!(e.status(), 400);
        #[derive(Debug, serde::Deserialize)]
        struct Typed {
            #[allow(dead_code)]
            n: u8,
        }
        let e = JsonBody::<Typed>::from_request(req(None, None, "{\"n\":\"x\"}"), &())
            .await
            .unwrap_err();
        assert!(e.message().starts_with("body: "), "{e}");
    }

    /// With the loopback guard on (the local stack), a web page's cross-origin request and a
    /// request for another host (DNS rebinding) get the JSON 400 before any handler runs.
    #[tokio::test]
    async fn the_loopback_guard_refuses_web_pages_and_other_hosts() {
        use tower::ServiceExt;
        let app = |on: bool| {
            let routes =
                axum::Router::new().route("/v1/x", axum::routing::post(|| async { "ran" }));
            edge(routes, Scope::new("t", 100).with_loopback_only(on), None)
        };
        let send = |app: axum::Router, host: &'static str, origin: Option<&'static str>| async move {
            let mut b = http::Request::post("/v1/x").header("host", host);
            if let Some(o) = origin {
                b = b.header("origin", o);
            }
            let r = app.oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
            let status = r.status().as_u16();
            let ct = r.headers().get("content-type").cloned();
            let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
            (status, ct, String::from_utf8_lossy(&body).into_owned())
        };
        let (s, _, body) = send(app(true), "127.0.0.1:9000", None).await;
        assert_eq!((s, body.as_str()), (200, "ran"));
        let (s, _, _) = send(app(true), "localhost:9000", Some("http://localhost:3000")).await;
        assert_eq!(s, 200);
        for (host, origin) in [
            ("127.0.0.1:9000", Some("https://evil.example")),
            ("rebound.evil.example:9000", None),
        ] {
            let (s, ct, body) = send(app(true), host, origin).await;
            assert_eq!(s, 400, "{host} {origin:?}: {body}");
            assert_eq!(ct.unwrap(), "application/json");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("GATEWAY_LOOPBACK_ONLY"),
                "{v}"
            );
        }
        // Off (on AWS): the front decides, nothing is refused here.
        let (s, _, _) = send(
            app(false),
            "abc.execute-api.us-east-1.amazonaws.com",
            Some("https://app.example"),
        )
        .await;
        assert_eq!(s, 200);
    }
}
