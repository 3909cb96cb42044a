//! The crate's one error type, [`GatewayError`], and its single mapping to HTTP.
//!
//! Every failure a caller can see (bad input, policy refusals, Bedrock errors, timeouts) is a
//! `GatewayError` with a [`ErrorKind`]; the kind alone decides the status code and the `type`
//! string, so the HTTP contract lives in [`ErrorKind::status`] and nowhere else.

mod sdk;

use serde::Serialize;
use serde_json::Value;

pub use sdk::{
    BedrockServiceError, RawResponseInfo, Resource, UpstreamErrorCode, UpstreamFault, from_fault,
    from_sdk_error,
};

/// What went wrong, as the caller should act on it. Decides status and `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400: the request is malformed or asks for something impossible (fix it, don't retry).
    InvalidRequest,
    /// 400: the model exists but this deployment does not allow it. A 400 rather than 403
    /// (the contract has no 403) and not 404, so callers are not told to fix a spelling.
    ModelNotAllowed,
    /// 400: the deployment's content policy blocks something in the request (the message names
    /// the entity kind and where it was, never the text).
    GuardrailBlocked,
    /// 401: no API key, or an unknown or revoked one (deployments with `GATEWAY_AUTH=api_key`).
    Unauthorized,
    /// 404: no model by that name (the body lists close matches).
    ModelNotFound,
    /// 404: some other resource (a route, a job, an async invocation) does not exist.
    NotFound,
    /// 405: the route exists but not for this method.
    MethodNotAllowed,
    /// 409: the request conflicts with what already exists (an idempotency key reused with a
    /// different body).
    Conflict,
    /// 413: the body exceeds `GATEWAY_MAX_BODY_BYTES`.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 429: Bedrock throttled the call (retry after `Retry-After`).
    Throttled,
    /// 429: a Bedrock service quota was exceeded.
    QuotaExceeded,
    /// 429: the API key's requests or tokens per minute are used up (retry after `Retry-After`).
    RateLimited,
    /// 429: the API key's daily or monthly budget is spent (the message names the reset time;
    /// `Retry-After` counts down to it).
    BudgetExceeded,
    /// 429: the API key already holds as many open streams as it may (`max_concurrent_streams`):
    /// retry once one of them has ended.
    TooManyStreams,
    /// 502: the model itself failed (ModelErrorException, ModelStreamErrorException).
    UpstreamModelError,
    /// 502: Bedrock refused our credentials or model access (AccessDeniedException): an
    /// operator problem, not the caller's.
    UpstreamAccessDenied,
    /// 502: Bedrock failed internally (InternalServerException) or answered something we could
    /// not read. The SDK has already retried it.
    UpstreamError,
    /// 503: the model is not ready (ModelNotReadyException): retry after `Retry-After`.
    ModelNotReady,
    /// 503: Bedrock is unavailable (ServiceUnavailableException), or the connection failed.
    ServiceUnavailable,
    /// 504: the model or the SDK timed out, or the Lambda deadline was reached.
    Timeout,
    /// 500: a bug or a misconfigured deployment (bad catalog, bad configuration).
    Internal,
}

impl ErrorKind {
    /// The HTTP status for this kind: the one place the error contract is written down.
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::ModelNotAllowed
            | ErrorKind::GuardrailBlocked => S::BAD_REQUEST,
            ErrorKind::Unauthorized => S::UNAUTHORIZED,
            ErrorKind::ModelNotFound | ErrorKind::NotFound => S::NOT_FOUND,
            ErrorKind::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => S::CONFLICT,
            ErrorKind::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => S::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Throttled
            | ErrorKind::QuotaExceeded
            | ErrorKind::RateLimited
            | ErrorKind::BudgetExceeded
            | ErrorKind::TooManyStreams => S::TOO_MANY_REQUESTS,
            ErrorKind::UpstreamModelError
            | ErrorKind::UpstreamAccessDenied
            | ErrorKind::UpstreamError => S::BAD_GATEWAY,
            ErrorKind::ModelNotReady | ErrorKind::ServiceUnavailable => S::SERVICE_UNAVAILABLE,
            ErrorKind::Timeout => S::GATEWAY_TIMEOUT,
            ErrorKind::Internal => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error.type` string of the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::ModelNotAllowed => "model_not_allowed",
            ErrorKind::GuardrailBlocked => "guardrail_blocked",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::Throttled => "throttled",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::TooManyStreams => "too_many_streams",
            ErrorKind::UpstreamModelError => "model_error",
            ErrorKind::UpstreamAccessDenied => "upstream_access_denied",
            ErrorKind::UpstreamError => "upstream_error",
            ErrorKind::ModelNotReady => "model_not_ready",
            ErrorKind::ServiceUnavailable => "service_unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal_error",
        }
    }

    /// Whether the same request may succeed later (used by fallback and by async job retries).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled
                | ErrorKind::QuotaExceeded
                | ErrorKind::RateLimited
                | ErrorKind::UpstreamError
                | ErrorKind::ModelNotReady
                | ErrorKind::ServiceUnavailable
                | ErrorKind::Timeout
        )
    }

    /// The default `Retry-After` (seconds) for kinds that carry one.
    pub fn default_retry_after(self) -> Option<u64> {
        match self {
            ErrorKind::Throttled => Some(2),
            ErrorKind::QuotaExceeded => Some(10),
            ErrorKind::RateLimited => Some(1),
            // A slot frees when one of the key's streams ends, which nothing here can predict.
            ErrorKind::TooManyStreams => Some(5),
            ErrorKind::ModelNotReady => Some(5),
            ErrorKind::ServiceUnavailable => Some(3),
            _ => None,
        }
    }
}

/// The Bedrock error behind a gateway error, named in the body as `upstream`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upstream {
    /// Bedrock's error name (`ThrottlingException`), or the SDK failure kind
    /// (`DispatchFailure`, `TimeoutError`, `ResponseError`).
    pub error: String,
    /// Bedrock's message, with AWS resource names replaced (`caller_safe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP status Bedrock answered with, when there was an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bedrock's request ID, for AWS support cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The one error type of `inference-core`. Boxed inside, so `Result<T, GatewayError>` stays
/// one pointer wide on the happy path.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {}", self.inner.kind.as_str(), self.inner.message)]
pub struct GatewayError {
    inner: Box<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    retry_after: Option<u64>,
    upstream: Option<Upstream>,
    suggestions: Vec<String>,
}

/// Longest message an error carries: refusals quote caller input, and a megabyte of it must not
/// come back (nor grow past what a compat layer will re-render).
const MAX_MESSAGE: usize = 2_000;

/// An error message as a caller may see it: AWS resource ARNs and AWS endpoint URLs (which name
/// the account, its roles, tables and queues) replaced, and cut to `MAX_MESSAGE`. Every message
/// passes through here when the error is built, so no path can forget it; the full cause goes to
/// the logs where it is raised (`dynamo::store_error`).
fn caller_safe(message: String) -> String {
    static AWS_NAMES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"arn:aws[a-z-]*:[^\s"'<>,;()\]\[]+|https?://[^\s"'<>]*amazonaws\.com[^\s"'<>]*"#,
        )
        .expect("a valid pattern")
    });
    let message = if AWS_NAMES.is_match(&message) {
        AWS_NAMES
            .replace_all(&message, "<aws resource>")
            .into_owned()
    } else {
        message
    };
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let mut cut = MAX_MESSAGE;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… (message cut at {MAX_MESSAGE} of {} bytes)",
        &message[..cut],
        message.len()
    )
}

/// Caller text echoed in an error message, cut to its first 120 characters (with the full
/// length said): a refusal must not copy a megabyte of input back.
pub fn clip(text: &str) -> String {
    const KEEP: usize = 120;
    match text.char_indices().nth(KEEP) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
    }
}

impl GatewayError {
    /// An error of `kind` with a caller-facing message (no secrets, no prompt text).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GatewayError {
            inner: Box::new(Inner {
                kind,
                message: caller_safe(message.into()),
                retry_after: kind.default_retry_after(),
                upstream: None,
                suggestions: Vec::new(),
            }),
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// 404 `model_not_found`, with close matches to offer.
    pub fn model_not_found(name: &str, suggestions: Vec<String>) -> Self {
        let mut message = format!("unknown model {:?}", clip(name));
        if !suggestions.is_empty() {
            message.push_str(&format!("; did you mean: {}?", suggestions.join(", ")));
        }
        let mut e = Self::new(ErrorKind::ModelNotFound, message);
        e.inner.suggestions = suggestions;
        e
    }

    /// 400 `model_not_allowed`.
    pub fn model_not_allowed(model: &str) -> Self {
        Self::new(
            ErrorKind::ModelNotAllowed,
            format!("model {model:?} is not allowed by this deployment (GATEWAY_ALLOWED_MODELS)"),
        )
    }

    /// 400 `guardrail_blocked`.
    pub fn guardrail_blocked(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::GuardrailBlocked, message)
    }

    /// 401 `unauthorized` (the message never repeats the presented key).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }

    /// 429 `rate_limited`, retry after `retry_after` seconds (the window's reset).
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Self {
        Self::new(ErrorKind::RateLimited, message).with_retry_after(Some(retry_after.max(1)))
    }

    /// 429 `budget_exceeded`, retry after `retry_after` seconds (the budget's reset).
    pub fn budget_exceeded(message: impl Into<String>, retry_after: u64) -> Self {
        Self::new(ErrorKind::BudgetExceeded, message).with_retry_after(Some(retry_after.max(1)))
    }

    /// 429 `too_many_streams`: the key's `limit` of concurrent streams is reached.
    pub fn too_many_streams(limit: u32) -> Self {
        Self::new(
            ErrorKind::TooManyStreams,
            format!(
                "this API key has reached its limit of {limit} concurrent streams \
                 (max_concurrent_streams); retry when one of its streams has ended"
            ),
        )
    }

    /// 503 `service_unavailable`, retry after 1 s: a stream's lease could not be written
    /// because other streams of the same key kept being admitted or ending at the same moment.
    /// Not `too_many_streams`: the key was below its limit, and saying otherwise would send the
    /// caller looking for streams it does not have.
    pub fn stream_admission_contended(attempts: u32) -> Self {
        Self::new(
            ErrorKind::ServiceUnavailable,
            format!(
                "could not record this stream's admission: other streams of this API key were \
                 admitted or ended at the same time, {attempts} times in a row; retry"
            ),
        )
        .with_retry_after(Some(1))
    }

    /// 404 `not_found` for non-model resources.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MethodNotAllowed, message)
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(size: usize, limit: usize) -> Self {
        Self::new(
            ErrorKind::PayloadTooLarge,
            format!("request body is {size} bytes; the limit is {limit} bytes"),
        )
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnsupportedMediaType, message)
    }

    /// 504 `timeout`.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// 500 `internal_error`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Attaches the Bedrock error that caused this one.
    pub fn with_upstream(mut self, mut upstream: Upstream) -> Self {
        upstream.message = upstream.message.map(caller_safe);
        self.inner.upstream = Some(upstream);
        self
    }

    /// Overrides `Retry-After` (seconds).
    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        self.inner.retry_after = seconds;
        self
    }

    /// Prefixes the message with context (e.g. the field path).
    pub fn context(mut self, prefix: &str) -> Self {
        self.inner.message = caller_safe(format!("{prefix}: {}", self.inner.message));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> http::StatusCode {
        self.inner.kind.status()
    }

    /// The `error.type` string.
    pub fn error_type(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    /// The caller-facing message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Seconds for the `Retry-After` header, for 429 and 503.
    pub fn retry_after(&self) -> Option<u64> {
        self.inner.retry_after
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.inner.kind.is_retryable()
    }

    /// The Bedrock error behind this one, if any.
    pub fn upstream(&self) -> Option<&Upstream> {
        self.inner.upstream.as_ref()
    }

    /// Close matches offered for `model_not_found`.
    pub fn suggestions(&self) -> &[String] {
        &self.inner.suggestions
    }

    /// The typed body.
    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                error_type: self.error_type().to_owned(),
                message: self.inner.message.clone(),
                request_id: request_id.to_owned(),
                upstream: self.inner.upstream.clone(),
                suggestions: self.inner.suggestions.clone(),
                retry_after: self.inner.retry_after,
            },
        }
    }

    /// The JSON body: `{"error": {"type", "message", "request_id", "upstream"?}}`.
    pub fn to_body(&self, request_id: &str) -> Value {
        serde_json::to_value(self.body(request_id)).unwrap_or_else(|_| {
            serde_json::json!({"error": {"type": self.error_type(), "message": self.inner.message, "request_id": request_id}})
        })
    }

    /// A complete HTTP response (JSON body, `Content-Type`, `Retry-After`), for functions that
    /// want the whole answer from one place.
    pub fn to_http_response(&self, request_id: &str) -> http::Response<String> {
        let mut builder = http::Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(secs) = self.inner.retry_after {
            builder = builder.header(http::header::RETRY_AFTER, secs.to_string());
        }
        let body = self.to_body(request_id).to_string();
        builder
            .body(body.clone())
            .unwrap_or_else(|_| http::Response::new(body))
    }
}

/// The gateway's JSON error (`{"error": {"type", "message", "request_id", ...}}`) with its
/// status and `Retry-After`. The body's `request_id` is filled in by `web::request_scope` (inference-core), which
/// finds the error in the response's extensions (as `Arc<GatewayError>`); so can any outer layer
/// that renders it in another API's shape.
#[cfg(feature = "axum")]
impl axum::response::IntoResponse for GatewayError {
    fn into_response(self) -> axum::response::Response {
        let (parts, body) = self.to_http_response("").into_parts();
        let mut response =
            axum::response::Response::from_parts(parts, axum::body::Body::from(body));
        response.extensions_mut().insert(std::sync::Arc::new(self));
        response
    }
}

impl From<crate::config::ConfigError> for GatewayError {
    fn from(e: crate::config::ConfigError) -> Self {
        GatewayError::internal(format!("configuration: {e}"))
    }
}

/// The JSON error body, typed.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// The single `error` member.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDetail {
    /// The stable error type (`throttled`, `model_not_found`, ...).
    #[serde(rename = "type")]
    pub error_type: String,
    /// Human-readable explanation.
    pub message: String,
    /// The gateway request ID (the Lambda request ID).
    pub request_id: String,
    /// The Bedrock error behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,
    /// Close matches, for `model_not_found`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// Mirrors the `Retry-After` header, for clients that only read bodies (SSE errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contended_stream_admission_is_a_retryable_503_not_the_limit() {
        let e = GatewayError::stream_admission_contended(12);
        assert_eq!(e.kind().status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.kind().as_str(), "service_unavailable");
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(1));
        assert!(e.message().contains("12 times in a row"), "{}", e.message());
        assert!(!e.message().contains("limit"), "{}", e.message());
    }

    #[test]
    fn messages_carry_no_aws_resource_names_and_are_bounded() {
        let e = GatewayError::new(
            ErrorKind::ServiceUnavailable,
            "keys table: GetItem failed: User: arn:aws:sts::123456789012:assumed-role/gw-InvokeRole-X/fn is not authorized on resource: arn:aws:dynamodb:us-east-1:123456789012:table/gw-keys (queue https://sqs.us-east-1.amazonaws.com/123456789012/gw-jobs)",
        );
        assert!(!e.message().contains("123456789012"), "{}", e.message());
        assert!(
            e.message().contains("keys table: GetItem failed"),
            "{}",
            e.message()
        );
        let up =
            GatewayError::new(ErrorKind::UpstreamAccessDenied, "denied").with_upstream(Upstream {
                error: "AccessDeniedException".into(),
                message: Some(
                    "User: arn:aws-us-gov:iam::123456789012:role/r is not authorized".into(),
                ),
                status: Some(403),
                request_id: None,
            });
        let body = up.to_body("r").to_string();
        assert!(!body.contains("123456789012"), "{body}");
        let long = GatewayError::invalid_request("x".repeat(1_000_000));
        assert!(long.message().len() < MAX_MESSAGE + 100);
        assert!(long.message().contains("of 1000000 bytes"));
    }
}
