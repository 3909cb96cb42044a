//! What the proxy lets through before it signs anything with the operator's credentials.
//!
//! The proxy listens on 127.0.0.1 only, but any process of this machine and any web page the
//! operator opens can reach loopback. So: the `Host` must be this proxy's own address (a
//! hostile name resolving to 127.0.0.1, DNS rebinding, names itself), a browser's `Origin`, when
//! sent, must be this proxy's origin (no cross-site request), and every request but the
//! console's static files (which hold no data) must carry the per-run token in
//! `x-gateway-admin-token`, the header the console already sends (its `#token=` fragment).

use gateway_model::GatewayError;
use gateway_stores::auth::constant_time_eq;
use http::{HeaderMap, Method, header};

use super::playground::{INFERENCE_PREFIX, STREAM_PREFIX};

/// The header the console sends the token in (as to the local stack's admin function).
pub const TOKEN_HEADER: &str = "x-gateway-admin-token";

/// The per-run token the browser must present.
#[derive(Clone)]
pub struct ProxyToken(String);

impl ProxyToken {
    /// A fresh random token (244 random bits; URL-safe, so it fits the `#token=` fragment).
    pub fn random() -> Self {
        Self(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// A given token (tests); at least 16 characters, like `GATEWAY_ADMIN_TOKEN`.
    pub fn new(token: impl Into<String>) -> Result<Self, GatewayError> {
        let token = token.into();
        if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(GatewayError::invalid_request(
                "the console token must be at least 16 letters or digits",
            ));
        }
        Ok(Self(token))
    }

    /// The token, for the URL printed to the operator only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        headers
            .get(TOKEN_HEADER)
            .is_some_and(|got| constant_time_eq(got.as_bytes(), self.0.as_bytes()))
    }
}

/// The paths the admin API serves, and the playground's prefixes: nothing else is signed and
/// forwarded.
fn is_forwarded_path(path: &str) -> bool {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under("/console")
        || path.starts_with("/v1/admin/")
        || under(INFERENCE_PREFIX)
        || under(STREAM_PREFIX)
}

/// The console's static files: open without the token (a browser's navigation to the page
/// cannot carry a header), for `GET` and `HEAD` only. `config.json` is data, not a file.
fn is_static_asset(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && (path == "/console" || path.starts_with("/console/"))
        && path != "/console/config.json"
}

/// `None` when the request may be signed and forwarded; otherwise the error to answer.
pub fn refusal(
    local: &str,
    token: &ProxyToken,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<GatewayError> {
    // 400, not 403: the gateway's error contract has no 403 (as the local stack's loopback
    // guard).
    // Every value counts: a second `Host` or `Origin` must not slip past behind a good first.
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next().and_then(|h| h.to_str().ok());
    if host != Some(local) || hosts.next().is_some() {
        return Some(GatewayError::invalid_request(format!(
            "Host must be {local}: the console proxy answers only requests addressed to it"
        )));
    }
    let own = format!("http://{local}");
    if headers
        .get_all(header::ORIGIN)
        .iter()
        .any(|origin| origin.to_str().ok() != Some(own.as_str()))
    {
        return Some(GatewayError::invalid_request(
            "cross-origin request: the console proxy answers only its own page",
        ));
    }
    if !is_forwarded_path(path) {
        return Some(GatewayError::not_found(format!(
            "the console proxy forwards only /console/, /v1/admin/, {INFERENCE_PREFIX}/ and \
             {STREAM_PREFIX}/ (no route {path})"
        )));
    }
    if !is_static_asset(method, path) && !token.admits(headers) {
        return Some(GatewayError::unauthorized(format!(
            "the console proxy needs its token in `{TOKEN_HEADER}` (open the URL it printed)"
        )));
    }
    None
}
