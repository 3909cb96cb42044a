//! `gateway-admin console`: the console on AWS, through a signing proxy on the operator's own
//! machine (docs/console.md). On AWS the console and the admin routes are on the IAM-only admin
//! API, and a browser cannot sign SigV4: this proxy, bound to 127.0.0.1, takes the page's
//! requests, checks them ([`guard`]), signs them with the operator's credentials ([`signer`])
//! and forwards them to the admin API ([`upstream`]); the answers come back unchanged
//! ([`answer`]). The playground's three calls go through it too, to the inference API and the
//! streaming Function URL ([`playground`]), with `/console/config.json` pointing the page here.
//!
//! It logs method, path and status only: never bodies, headers, the token or credentials.

pub mod answer;
pub mod guard;
pub mod playground;
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
use http::{HeaderMap, HeaderName, Method, StatusCode, header};

pub use guard::{ProxyToken, TOKEN_HEADER};
pub use playground::{StreamAuth, Targets};
pub use signer::{Service, Signer};
pub use upstream::{Peer, Upstream};

use playground::{CONFIG_PATH, Route};

/// Largest request body forwarded: the admin routes' own limit (`admin::MAX_BODY_BYTES`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One upstream request's time limit (API Gateway's own is 30 s).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(35);

/// A stream has no total limit (stream-url's own timeout ends it); a silence this long does.
const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Request headers passed on to the admin API; nothing else (no cookie, no token, no origin).
const FORWARDED_REQUEST: &[HeaderName] = &[header::CONTENT_TYPE, header::ACCEPT];

/// Everything a running proxy needs.
pub struct Proxy {
    /// `127.0.0.1:PORT`, the `Host` every request must name.
    local: String,
    token: ProxyToken,
    upstream: Upstream,
    signer: Signer,
    /// The playground's inference API and Function URL.
    targets: Targets,
    client: reqwest::Client,
    /// For the playground's stream: no total time limit.
    stream_client: reqwest::Client,
}

impl Proxy {
    /// A proxy answering at `local` (`127.0.0.1:PORT`, the bound address).
    pub fn new(
        local: std::net::SocketAddr,
        token: ProxyToken,
        upstream: Upstream,
        signer: Signer,
    ) -> Result<Self, GatewayError> {
        let client = http_client(reqwest::Client::builder().timeout(UPSTREAM_TIMEOUT))?;
        let stream_client = http_client(
            reqwest::Client::builder()
                .connect_timeout(UPSTREAM_TIMEOUT)
                .read_timeout(STREAM_IDLE_TIMEOUT),
        )?;
        Ok(Self {
            local: local.to_string(),
            token,
            upstream,
            signer,
            targets: Targets::default(),
            client,
            stream_client,
        })
    }

    /// The playground's targets (default: the URLs the admin API's config.json names, the
    /// Function URL signed).
    pub fn with_targets(mut self, targets: Targets) -> Self {
        self.targets = targets;
        self
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

/// The upstream client: no redirects, no system proxy, the SDK's rustls configuration.
fn http_client(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, GatewayError> {
    let mut builder = builder
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent("gateway-admin-console/1");
    if let Some(tls) = gateway_model::sdk_http::rustls_config() {
        builder = builder.use_preconfigured_tls(tls);
    }
    builder
        .build()
        .map_err(|e| GatewayError::internal(format!("HTTP client: {e}")))
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
    if let Some(route) = Route::of(&parts.method, path) {
        return play(proxy, route?, &parts, body).await;
    }
    let body = read_body(&parts.headers, body, MAX_BODY_BYTES).await?;
    let path_and_query = parts.uri.path_and_query().map_or(path, |p| p.as_str());
    let mut headers = HeaderMap::new();
    for name in FORWARDED_REQUEST {
        if let Some(v) = parts.headers.get(name) {
            headers.insert(name.clone(), v.clone());
        }
    }
    let answer = proxy
        .admin(parts.method.clone(), path_and_query, headers, body)
        .await?;
    if parts.method == Method::GET && path == CONFIG_PATH {
        return proxy.config(answer).await;
    }
    answer::buffered(answer, Peer::Admin, answer::nothing_more).await
}

/// One of the playground's calls: to the inference API or the Function URL, signed (the key
/// moved to `x-api-key`) or, for an `AuthType: NONE` Function URL, as the page sent it.
async fn play(
    proxy: &Proxy,
    route: Route,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Response, GatewayError> {
    let body = read_body(&parts.headers, body, playground::MAX_BODY_BYTES).await?;
    if !proxy.targets.knows_config() {
        // The page reads config.json first; a call before it (a reload of the proxy) learns it.
        let answer = proxy
            .admin(Method::GET, CONFIG_PATH, HeaderMap::new(), Bytes::new())
            .await?;
        let status = answer.status();
        if status != StatusCode::OK {
            return Err(GatewayError::new(
                ErrorKind::UpstreamError,
                format!("the admin API answered {status} to {CONFIG_PATH}"),
            ));
        }
        proxy.config(answer).await?;
    }
    let (upstream, signing) = proxy.targets.target(route)?;
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = upstream.url(&format!("{}{query}", route.upstream_path()));
    let headers = playground::request_headers(&parts.headers, signing.is_some());
    let peer = route.peer();
    let outgoing = Outgoing {
        peer,
        method: parts.method.clone(),
        url,
        headers,
        body,
        signing,
    };
    if route == Route::ChatCompletions {
        let answer = proxy.send(outgoing, &proxy.stream_client).await?;
        return Ok(answer::streamed(answer, playground::passes_back));
    }
    let answer = proxy.send(outgoing, &proxy.client).await?;
    answer::buffered(answer, peer, playground::passes_back).await
}

/// A request to an upstream, before signing.
struct Outgoing {
    peer: Peer,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Bytes,
    /// `None`: sent unsigned.
    signing: Option<Service>,
}

impl Proxy {
    /// A request to the admin API, signed.
    async fn admin(
        &self,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<reqwest::Response, GatewayError> {
        let outgoing = Outgoing {
            peer: Peer::Admin,
            method,
            url: self.upstream.url(path_and_query),
            headers,
            body,
            signing: Some(Service::ExecuteApi),
        };
        self.send(outgoing, &self.client).await
    }

    /// The admin API's config.json, its URLs remembered and replaced by the proxy's own.
    async fn config(&self, answer: reqwest::Response) -> Result<Response, GatewayError> {
        let status = answer.status();
        if status != StatusCode::OK {
            return answer::buffered(answer, Peer::Admin, answer::nothing_more).await;
        }
        let headers = answer::headers(&answer, answer::nothing_more);
        let body = answer::read(answer, Peer::Admin).await?;
        let config = serde_json::from_slice(&body).map_err(|_| {
            GatewayError::new(
                ErrorKind::UpstreamError,
                format!("the admin API's {CONFIG_PATH} is not JSON"),
            )
        })?;
        let config = self.targets.rewrite(&self.local, config)?;
        let body = serde_json::to_vec(&config)
            .map_err(|e| GatewayError::internal(format!("config.json: {e}")))?;
        Ok(answer::respond(status, headers, Body::from(body)))
    }

    /// Signs (unless unsigned) and sends; the answer's head once it arrives.
    async fn send(
        &self,
        out: Outgoing,
        client: &reqwest::Client,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut request = http::Request::builder()
            .method(out.method)
            .uri(out.url)
            .body(())
            .map_err(|_| GatewayError::invalid_request("the request's path cannot be forwarded"))?;
        *request.headers_mut() = out.headers;
        if let Some(service) = out.signing {
            self.signer.sign(&mut request, &out.body, service).await?;
        }
        let (head, ()) = request.into_parts();
        let request = reqwest::Request::try_from(http::Request::from_parts(head, out.body))
            .map_err(|_| GatewayError::invalid_request("the request cannot be forwarded"))?;
        client.execute(request).await.map_err(|e| {
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::ServiceUnavailable
            };
            // reqwest's error names the URL (no secret: the key is in a header) and the cause.
            GatewayError::new(kind, format!("{} did not answer: {e}", out.peer.name()))
        })
    }
}

/// The request body, at most `cap` bytes (413 above, before reading it when the length is
/// declared).
async fn read_body(headers: &HeaderMap, body: Body, cap: usize) -> Result<Bytes, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > cap) {
        return Err(GatewayError::payload_too_large(n, cap));
    }
    axum::body::to_bytes(body, cap)
        .await
        .map_err(|_| GatewayError::payload_too_large(cap + 1, cap))
}
