//! Errors in the shapes the OpenAI and Anthropic clients parse.
//!
//! OpenAI: `{"error": {"message", "type", "param", "code"}}`; Anthropic:
//! `{"type": "error", "error": {"type", "message"}, "request_id"}`. The status is the gateway's
//! (it already follows HTTP the way both APIs do); `code` (OpenAI) keeps the gateway's stable
//! error type so callers can still tell `throttled` from `quota_exceeded`.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use inference_core::GatewayError;
use inference_core::web::RequestId;
use serde_json::{Value, json};

/// Which API a route imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI (chat completions, responses, embeddings, models).
    OpenAi,
    /// Anthropic (messages, count_tokens).
    Anthropic,
}

/// A gateway error plus the request field it is about (OpenAI's `param`).
#[derive(Debug, Clone)]
pub struct CompatError {
    /// The error (decides status and message).
    pub error: GatewayError,
    /// The request field at fault, when known (`messages[1].content[0].image_url`).
    pub param: Option<String>,
}

impl From<GatewayError> for CompatError {
    fn from(error: GatewayError) -> Self {
        CompatError { error, param: None }
    }
}

/// A 400 about one request field: `param: message`. The path is built from the caller's keys,
/// so it is clipped: a megabyte-long key must not come back whole in `param`.
pub fn refuse(param: impl Into<String>, message: impl std::fmt::Display) -> CompatError {
    let param = inference_core::error::clip(&param.into());
    CompatError {
        error: GatewayError::invalid_request(format!("{param}: {message}")),
        param: Some(param),
    }
}

/// Result of the translation code.
pub type CResult<T> = Result<T, CompatError>;

/// OpenAI's `error.type` for a status.
pub fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Anthropic's `error.type` for a status.
pub fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// The error body for `provider`.
pub fn body(
    provider: Provider,
    status: StatusCode,
    gateway_type: &str,
    message: &str,
    param: Option<&str>,
    request_id: &str,
) -> Value {
    match provider {
        Provider::OpenAi => json!({"error": {
            "message": message,
            "type": openai_type(status),
            "param": param,
            "code": gateway_type,
        }}),
        Provider::Anthropic => json!({
            "type": "error",
            "error": {"type": anthropic_type(status), "message": message},
            "request_id": request_id,
        }),
    }
}

impl CompatError {
    /// The body for `provider`.
    pub fn to_body(&self, provider: Provider, request_id: &str) -> Value {
        body(
            provider,
            self.error.status(),
            self.error.error_type(),
            self.error.message(),
            self.param.as_deref(),
            request_id,
        )
    }

    /// The HTTP response (status, JSON, `Retry-After`).
    pub fn into_response(self, provider: Provider, request_id: &str) -> Response {
        let mut resp = Response::new(Body::from(self.to_body(provider, request_id).to_string()));
        *resp.status_mut() = self.error.status();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(s) = self.error.retry_after()
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Which provider a path belongs to (`None`: not a compat route).
pub fn provider_of(path: &str) -> Option<Provider> {
    if path.starts_with("/v1/messages") {
        Some(Provider::Anthropic)
    } else if path.starts_with("/v1/chat/")
        || path.starts_with("/v1/embeddings")
        || path.starts_with("/v1/responses")
        || path.starts_with("/v1/files")
        || path.starts_with("/v1/batches")
    {
        Some(Provider::OpenAi)
    } else {
        None
    }
}

/// A response carrying its [`GatewayError`] (as `impl IntoResponse for GatewayError` leaves it:
/// the API-key layer's 401/429, the 404/405 fallbacks) rendered again in `provider`'s shape,
/// from the error itself; status and headers (`Retry-After`, `WWW-Authenticate`,
/// `x-ratelimit-*`, `x-request-id`) stay. Responses without one (successes, errors a compat
/// handler already shaped) pass untouched.
pub fn reshape(provider: Provider, mut resp: Response) -> Response {
    let Some(error) = resp.extensions_mut().remove::<Arc<GatewayError>>() else {
        return resp;
    };
    let request_id = resp
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let body = CompatError::from(GatewayError::clone(&error)).to_body(provider, &request_id);
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    *resp.body_mut() = Body::from(body.to_string());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = refuse("n", "only 1 is supported");
        let o = e.to_body(Provider::OpenAi, "r");
        assert_eq!(o["error"]["type"], "invalid_request_error");
        assert_eq!(o["error"]["param"], "n");
        assert_eq!(o["error"]["code"], "invalid_request");
        let a = e.to_body(Provider::Anthropic, "r");
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "invalid_request_error");
        let t = CompatError::from(GatewayError::new(
            inference_core::error::ErrorKind::Throttled,
            "slow",
        ));
        assert_eq!(
            t.to_body(Provider::OpenAi, "r")["error"]["type"],
            "rate_limit_error"
        );
        assert_eq!(
            t.to_body(Provider::Anthropic, "r")["error"]["type"],
            "rate_limit_error"
        );
    }

    #[tokio::test]
    async fn gateway_errors_are_rewritten_once() {
        use axum::response::IntoResponse;
        let json = |r: Response| async {
            let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            serde_json::from_slice::<Value>(&b).unwrap()
        };
        let gateway = || {
            let mut r = GatewayError::unauthorized("bad key").into_response();
            r.extensions_mut().insert(RequestId("r".into()));
            r
        };
        let o = reshape(Provider::OpenAi, gateway());
        assert_eq!(o.status(), StatusCode::UNAUTHORIZED);
        let again = reshape(Provider::OpenAi, o);
        let o = json(again).await;
        assert_eq!(o["error"]["type"], "authentication_error");
        assert_eq!(o["error"]["code"], "unauthorized");
        let mut nf = GatewayError::not_found("no route").into_response();
        nf.extensions_mut().insert(RequestId("r".into()));
        let a = json(reshape(Provider::Anthropic, nf)).await;
        assert_eq!(a["error"]["type"], "not_found_error");
        assert_eq!(a["request_id"], "r");
        // A compat handler's own answer is already in the provider's shape: untouched.
        let shaped = refuse("n", "x").into_response(Provider::OpenAi, "r");
        assert_eq!(
            json(reshape(Provider::OpenAi, shaped)).await["error"]["param"],
            "n"
        );
    }
}
