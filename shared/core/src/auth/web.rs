//! The authentication layer of every HTTP function: one axum middleware.
//!
//! `.layer(axum::middleware::from_fn_with_state(gateway.auth().clone(), auth::authenticate))`,
//! inside `web::request_scope` so refusals carry the request ID and are logged like any answer.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue};

use super::{Auth, Caller, KeyHeaders, reset_text};

/// The presented key: `Authorization: Bearer <key>` (OpenAI clients) or `x-api-key: <key>`
/// (Anthropic clients); with [`KeyHeaders::XApiKey`] only the latter (`Authorization` then
/// holds the JWT API Gateway checked). Never logged.
pub fn key_from_headers(headers: &HeaderMap, from: KeyHeaders) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .filter(|_| from == KeyHeaders::Both)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    bearer
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|k| !k.is_empty())
}

/// Middleware: with `GATEWAY_AUTH=api_key`, a missing, unknown or revoked key is a 401 JSON
/// error; a known key is counted against its requests per minute (429 `rate_limited` over it)
/// and becomes the request's [`Caller`] (in its extensions, read by `web::Ctx`).
/// Responses of keys with per-minute limits carry the `x-ratelimit-*` headers.
pub async fn authenticate(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    if auth.keys.is_none() {
        return next.run(req).await;
    }
    let caller = match auth
        .authenticate_key(key_from_headers(req.headers(), auth.key_headers()))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return next.run(req).await,
        Err(e) => {
            // `web::request_scope` (outside) writes the request ID into the body.
            let mut resp = e.into_response();
            if resp.status() == http::StatusCode::UNAUTHORIZED {
                resp.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer"),
                );
            }
            return resp;
        }
    };
    if let Err(e) = caller.count_request().await {
        let mut resp = e.into_response();
        rate_headers(&caller, resp.headers_mut());
        return resp;
    }
    req.extensions_mut().insert(Arc::clone(&caller));
    let mut resp = next.run(req).await;
    rate_headers(&caller, resp.headers_mut());
    resp
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the limits the key has.
fn rate_headers(caller: &Caller, headers: &mut HeaderMap) {
    let snap = caller.rate();
    if !snap.known {
        return;
    }
    let limits = caller.limits();
    let reset = reset_text(snap.reset_seconds);
    for (what, limit, used) in [
        ("requests", limits.requests_per_minute, snap.requests),
        ("tokens", limits.tokens_per_minute, snap.tokens),
    ] {
        let Some(limit) = limit else { continue };
        for (name, value) in [
            ("limit", limit.to_string()),
            ("remaining", limit.saturating_sub(used).to_string()),
            ("reset", reset.clone()),
        ] {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::try_from(format!("x-ratelimit-{name}-{what}")),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(n, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_either_header() {
        let both = KeyHeaders::Both;
        let mut h = HeaderMap::new();
        assert_eq!(key_from_headers(&h, both), None);
        h.insert("x-api-key", HeaderValue::from_static("gwk_b"));
        assert_eq!(key_from_headers(&h, both), Some("gwk_b"));
        h.insert("authorization", HeaderValue::from_static("Bearer gwk_a"));
        assert_eq!(key_from_headers(&h, both), Some("gwk_a"));
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(key_from_headers(&h, both), Some("gwk_b"));
    }

    #[test]
    fn under_jwt_the_bearer_token_is_never_the_key() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer eyJhbGc.jwt.sig"),
        );
        assert_eq!(key_from_headers(&h, KeyHeaders::XApiKey), None);
        h.insert("x-api-key", HeaderValue::from_static("gwk_b"));
        assert_eq!(key_from_headers(&h, KeyHeaders::XApiKey), Some("gwk_b"));
    }
}
