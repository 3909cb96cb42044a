//! `gateway-admin console`: the console on AWS, through a signing proxy on the operator's own
//! machine (docs/console.md). On AWS the console and the admin routes are on the IAM-only admin
//! API, and a browser cannot sign SigV4: this proxy, bound to 127.0.0.1, takes the page's
//! requests, checks them ([`guard`]), signs them with the operator's credentials ([`signer`])
//! and forwards them to the admin API ([`upstream`]); the answers come back unchanged.
//!
//! It logs method, path and status only: never bodies, headers, the token or credentials.

pub mod guard;
pub mod signer;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gateway_model::GatewayError;
use gateway_model::error::ErrorKind;
use http::{HeaderName, header};

pub use guard::{ProxyToken, TOKEN_HEADER};
pub use signer::Signer;
pub use upstream::Upstream;

/// Largest request body forwarded: the admin routes' own limit (`admin::MAX_BODY_BYTES`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest answer read back (a long usage report fits many times over).
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// One upstream request's time limit (API Gateway's own is 30 s).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(35);

/// Request headers passed on to the admin API; nothing else (no cookie, no token, no origin).
const FORWARDED_REQUEST: &[HeaderName] = &[header::CONTENT_TYPE, header::ACCEPT];

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

/// Everything a running proxy needs.
pub struct Proxy {
    /// `127.0.0.1:PORT`, the `Host` every request must name.
    local: String,
    token: ProxyToken,
    upstream: Upstream,
    signer: Signer,
    client: reqwest::Client,
}

impl Proxy {
    /// A proxy answering at `local` (`127.0.0.1:PORT`, the bound address).
    pub fn new(
        local: std::net::SocketAddr,
        token: ProxyToken,
        upstream: Upstream,
        signer: Signer,
    ) -> Result<Self, GatewayError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(UPSTREAM_TIMEOUT)
            .user_agent("gateway-admin-console/1");
        if let Some(tls) = gateway_model::sdk_http::rustls_config() {
            builder = builder.use_preconfigured_tls(tls);
        }
        let client = builder
            .build()
            .map_err(|e| GatewayError::internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            local: local.to_string(),
            token,
            upstream,
            signer,
            client,
        })
    }

    /// The URL the operator opens: the console with the token in its fragment (never sent to
    /// a server; the page moves it into memory).
    pub fn console_url(&self) -> String {
        format!(
            "http://{}/console/#token={}",
            self.local,
            self.token.expose()
        )
    }

    /// The router: every path goes through [`handle`].
    pub fn router(self) -> Router {
        Router::new().fallback(handle).with_state(Arc::new(self))
    }
}

/// Serves `proxy` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, proxy: Proxy) -> std::io::Result<()> {
    axum::serve(listener, proxy.router()).await
}

async fn handle(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = match forward(&proxy, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    eprintln!("{method} {path} {}", response.status().as_u16());
    response
}

async fn forward(proxy: &Proxy, req: Request) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    if let Some(refused) = guard::refusal(
        &proxy.local,
        &proxy.token,
        &parts.method,
        path,
        &parts.headers,
    ) {
        return Err(refused);
    }
    let body = read_body(&parts.headers, body).await?;
    let path_and_query = parts.uri.path_and_query().map_or(path, |p| p.as_str());
    let mut upstream = http::Request::builder()
        .method(parts.method.clone())
        .uri(proxy.upstream.url(path_and_query))
        .body(())
        .map_err(|_| GatewayError::invalid_request("the request's path cannot be forwarded"))?;
    for name in FORWARDED_REQUEST {
        if let Some(v) = parts.headers.get(name) {
            upstream.headers_mut().insert(name.clone(), v.clone());
        }
    }
    proxy.signer.sign(&mut upstream, &body).await?;
    let (head, ()) = upstream.into_parts();
    let request = http::Request::from_parts(head, body);
    let request = reqwest::Request::try_from(request)
        .map_err(|_| GatewayError::invalid_request("the request cannot be forwarded"))?;
    let answer = proxy.client.execute(request).await.map_err(|e| {
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::ServiceUnavailable
        };
        // reqwest's error names the URL (the admin API's, no secret) and the cause.
        GatewayError::new(kind, format!("the admin API did not answer: {e}"))
    })?;
    back(answer).await
}

/// The request body, at most [`MAX_BODY_BYTES`] (413 above, before reading it when the
/// length is declared).
async fn read_body(headers: &http::HeaderMap, body: Body) -> Result<Bytes, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_BODY_BYTES) {
        return Err(GatewayError::payload_too_large(n, MAX_BODY_BYTES));
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| GatewayError::payload_too_large(MAX_BODY_BYTES + 1, MAX_BODY_BYTES))
}

/// The admin API's answer as it came: status, the listed headers, body.
async fn back(answer: reqwest::Response) -> Result<Response, GatewayError> {
    let status = answer.status();
    let mut headers = http::HeaderMap::new();
    for name in FORWARDED_ANSWER {
        if let Some(v) = answer.headers().get(*name) {
            headers.insert(*name, v.clone());
        }
    }
    if answer
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_long());
    }
    let mut body = Vec::new();
    let mut answer = answer;
    while let Some(chunk) = answer.chunk().await.map_err(|e| {
        GatewayError::new(
            ErrorKind::UpstreamError,
            format!("the admin API's answer broke off: {e}"),
        )
    })? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_long());
        }
        body.extend_from_slice(&chunk);
    }
    let mut response = (status, body).into_response();
    // Only the listed headers (hyper sets the length).
    *response.headers_mut() = headers;
    Ok(response)
}

fn too_long() -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamError,
        format!("the admin API's answer is over {MAX_ANSWER_BYTES} bytes"),
    )
}
