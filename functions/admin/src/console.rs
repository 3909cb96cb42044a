//! The console (docs/console.md): static files embedded in the binary, served under
//! `/console/` with a strict CSP, and `/console/config.json` telling the page where the gateway's
//! inference routes are.
//!
//! The page holds no secret of its own: the admin routes it calls are behind IAM on AWS (or the
//! local admin token, [`crate::access`]), and the playground's API key is typed by the operator
//! and kept in the page's memory only.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use inference_core::GatewayError;
use serde::Serialize;

/// One embedded file: name under `/console/`, media type, content.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    asset(
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    asset(
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
    js("app.js", include_str!("../console/app.js")),
    js("api.js", include_str!("../console/api.js")),
    js("chart.js", include_str!("../console/chart.js")),
    js("money.js", include_str!("../console/money.js")),
    js("spend.js", include_str!("../console/spend.js")),
    js("keys.js", include_str!("../console/keys.js")),
    js("playground.js", include_str!("../console/playground.js")),
    asset(
        "favicon.svg",
        "image/svg+xml",
        include_str!("../console/favicon.svg"),
    ),
];

const fn asset(name: &'static str, media_type: &'static str, body: &'static str) -> Asset {
    Asset {
        name,
        media_type,
        body,
    }
}

const fn js(name: &'static str, body: &'static str) -> Asset {
    asset(name, "text/javascript; charset=utf-8", body)
}

/// Where the page sends inference calls: `None` is this origin (the local stack serves every
/// function under one origin, `/lambda-url/<function>/`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConsoleConfig {
    /// `GATEWAY_CONSOLE_API_URL`: base of invoke and count (`/v1/models`, `/v1/estimate`).
    pub api_url: Option<String>,
    /// `GATEWAY_CONSOLE_STREAM_URL`: base of stream-url (`/v1/chat/completions`).
    pub stream_url: Option<String>,
}

impl ConsoleConfig {
    /// From `GATEWAY_CONSOLE_API_URL` and `GATEWAY_CONSOLE_STREAM_URL` (each must be an
    /// `https://` URL, or `http://` on loopback).
    pub fn from_env() -> Result<Self, GatewayError> {
        let read = |name: &str| -> Result<Option<String>, GatewayError> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => origin_of(v.trim())
                    .map(|_| Some(v.trim().trim_end_matches('/').to_owned()))
                    .ok_or_else(|| {
                        GatewayError::invalid_request(format!(
                            "{name} must be an https:// URL (or http:// on 127.0.0.1/localhost)"
                        ))
                    }),
                _ => Ok(None),
            }
        };
        Ok(Self {
            api_url: read("GATEWAY_CONSOLE_API_URL")?,
            stream_url: read("GATEWAY_CONSOLE_STREAM_URL")?,
        })
    }

    /// The `Content-Security-Policy` of every console answer: this origin only, plus the
    /// configured gateway origins for `fetch`.
    pub fn csp(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        for url in [&self.api_url, &self.stream_url].into_iter().flatten() {
            if let Some(o) = origin_of(url)
                && !connect.contains(&o)
            {
                connect.push(o);
            }
        }
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            connect.join(" ")
        )
    }
}

/// `scheme://host[:port]` of an `https://` URL, or an `http://` one on loopback; else `None`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let ok_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    let loopback = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|h| host == *h || host.starts_with(&format!("{h}:")));
    match scheme {
        "https" if ok_host => Some(format!("https://{host}")),
        "http" if ok_host && loopback => Some(format!("http://{host}")),
        _ => None,
    }
}

/// The console's routes, with their state applied (merged into the admin router).
pub fn routes<S: Clone + Send + Sync + 'static>(config: ConsoleConfig) -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("console/") }),
        )
        .route("/console/", get(index))
        .route("/console/config.json", get(config_json))
        .route("/console/{file}", get(file))
        .with_state(std::sync::Arc::new(config))
}

type Config = State<std::sync::Arc<ConsoleConfig>>;

async fn index(State(c): Config) -> Response {
    serve(&c, &ASSETS[0])
}

async fn file(State(c): Config, Path(name): Path<String>) -> Result<Response, GatewayError> {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| serve(&c, a))
        .ok_or_else(|| GatewayError::not_found(format!("no console file {name:?}")))
}

/// `GET /console/config.json`: behind the admin token like the admin routes.
async fn config_json(State(c): Config) -> Response {
    let mut r = axum::Json(c.as_ref().clone()).into_response();
    security_headers(&c, &mut r, "no-store");
    r
}

fn serve(c: &ConsoleConfig, a: &Asset) -> Response {
    let mut r = (StatusCode::OK, a.body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(a.media_type));
    // Short: the files change with each deployment of the binary, which has no version in
    // their names.
    security_headers(c, &mut r, "no-cache");
    r
}

fn security_headers(c: &ConsoleConfig, r: &mut Response, cache: &'static str) {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&c.csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_adds_only_the_configured_origins() {
        let c = ConsoleConfig {
            api_url: Some("https://abc.execute-api.us-east-1.amazonaws.com/v1".into()),
            stream_url: Some("https://x.lambda-url.us-east-1.on.aws/".into()),
        };
        let csp = c.csp();
        assert!(csp.contains(
            "connect-src 'self' https://abc.execute-api.us-east-1.amazonaws.com https://x.lambda-url.us-east-1.on.aws;"
        ), "{csp}");
        assert!(
            ConsoleConfig::default()
                .csp()
                .contains("connect-src 'self';")
        );
    }

    #[test]
    fn only_https_or_loopback_http_origins_are_accepted() {
        assert_eq!(
            origin_of("http://127.0.0.1:9000/x"),
            Some("http://127.0.0.1:9000".into())
        );
        assert_eq!(origin_of("http://evil.example"), None);
        assert_eq!(origin_of("https://a b"), None);
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a.example;script-src *"), None);
    }
}
