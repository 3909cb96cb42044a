//! `gateway-admin console`'s proxy against a fake admin API on loopback that checks every
//! SigV4 signature it receives independently (the canonical request rebuilt here from the
//! request as received, with HMAC-SHA256 from `hmac`/`sha2`, not with aws-sigv4) and answers
//! JSON: what is forwarded, signed how, what comes back, and what is refused before signing.

use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use gateway_admin::console_proxy::{
    Peer, Proxy, ProxyToken, Signer, StreamAuth, Targets, Upstream,
};
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const AKID: &str = "AKIDCONSOLETEST";
const SECRET: &str = "console/test/secret/key/0123456789abcdef";
const SESSION: &str = "console-session-token";
const REGION: &str = "eu-west-1";
const TOKEN: &str = "consoleproxytesttoken0123456789";

/// What the fake admin API received.
#[derive(Clone, Debug)]
struct Seen {
    at: At,
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
    /// `Ok(service)` when the signature was right.
    verdict: Result<String, String>,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 encoding as SigV4 wants it (unreserved kept, the rest `%XX` upper case).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Checks the request's SigV4 signature from scratch; `Ok(service)` or why not.
fn verify(
    method: &str,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, String> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("no authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        rest.split(", ")
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .ok_or(format!("no {name}"))
    };
    let credential = field("Credential")?;
    let signed = field("SignedHeaders")?;
    let signature = field("Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, day, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(format!("bad scope {credential}"));
    };
    if *akid != AKID {
        return Err(format!("access key {akid}"));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("no x-amz-date")?;
    if !amz_date.starts_with(day) {
        return Err("date and scope disagree".into());
    }
    let names: Vec<&str> = signed.split(';').collect();
    for must in ["host", "x-amz-date", "x-amz-security-token"] {
        if !names.contains(&must) {
            return Err(format!("{must} not signed"));
        }
    }
    let mut query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut canonical_headers = String::new();
    for name in &names {
        let v = headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("signed header {name} missing"))?;
        canonical_headers.push_str(&format!("{name}:{}\n", v.trim()));
    }
    // Non-S3 services encode the (already encoded) path once more.
    let path = encode(uri.path()).replace("%2F", "/");
    let canonical = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{signed}\n{}",
        query.join("&"),
        sha256_hex(body)
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{day}/{region}/{service}/aws4_request\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let mut key = hmac(format!("AWS4{SECRET}").as_bytes(), day);
    for part in [*region, *service, "aws4_request"] {
        key = hmac(&key, part);
    }
    if hex::encode(hmac(&key, &to_sign)) != signature {
        return Err(format!(
            "signature mismatch; canonical request:\n{canonical}"
        ));
    }
    if *region != REGION {
        return Err(format!("region {region}"));
    }
    if headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        != Some(SESSION)
    {
        return Err("session token".into());
    }
    Ok((*service).to_owned())
}

/// Which fake received a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Admin,
    Inference,
    Stream,
}

/// The fakes' shared state: what they received, the config.json the admin API serves, and the
/// gate the Function URL's stream waits on before its last chunk.
struct Fakes {
    log: Mutex<Vec<Seen>>,
    config: Value,
    /// The fake Function URL's `AuthType`: `true` for NONE.
    stream_unsigned: bool,
    gate: tokio::sync::Notify,
}

type Shared = Arc<Fakes>;

fn record(fakes: &Fakes, at: At, parts: &http::request::Parts, body: &Bytes) -> Seen {
    let verdict = verify(parts.method.as_str(), &parts.uri, &parts.headers, body);
    let seen = Seen {
        at,
        method: parts.method.to_string(),
        path_and_query: parts.uri.path_and_query().unwrap().to_string(),
        headers: parts.headers.clone(),
        body: body.clone(),
        verdict,
    };
    fakes.log.lock().unwrap().push(seen.clone());
    seen
}

/// The fake admin API: 403 (as API Gateway) when the signature is wrong; `config.json` as set
/// up; else 201 with JSON naming what it got, a request ID and a CSP header to pass back.
async fn fake_admin(State(fakes): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let seen = record(&fakes, At::Admin, &parts, &body);
    if let Err(why) = seen.verdict {
        return (StatusCode::FORBIDDEN, axum::Json(json!({"message": why}))).into_response();
    }
    if parts.uri.path() == "/console/config.json" {
        return (
            [("cache-control", "no-store")],
            axum::Json(fakes.config.clone()),
        )
            .into_response();
    }
    let answer = json!({"object": "api_key", "path": parts.uri.path(), "bytes": body.len()});
    (
        StatusCode::CREATED,
        [
            ("x-request-id", "req-upstream-1"),
            ("content-security-policy", "default-src 'none'"),
            ("set-cookie", "upstream=1"),
        ],
        axum::Json(answer),
    )
        .into_response()
}

/// The fake inference HTTP API (`AuthMode=AWS_IAM`): 403 unless signed for execute-api; else
/// 200 with JSON naming the path and the key it got in `x-api-key`.
async fn fake_inference(State(fakes): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 2 << 20).await.unwrap();
    let seen = record(&fakes, At::Inference, &parts, &body);
    if seen.verdict.as_deref() != Ok("execute-api") {
        let why = format!("{:?}", seen.verdict);
        return (StatusCode::FORBIDDEN, axum::Json(json!({"message": why}))).into_response();
    }
    let key = parts.headers.get("x-api-key").map(|v| v.to_str().unwrap());
    (
        [
            ("x-gateway-cost-usd", "0.000123"),
            ("x-request-id", "req-inference-1"),
            ("set-cookie", "upstream=1"),
        ],
        axum::Json(json!({"path": parts.uri.path(), "key": key, "bytes": body.len()})),
    )
        .into_response()
}

/// The fake Function URL: with `AuthType: AWS_IAM` 403 unless signed for lambda; then an SSE
/// stream whose last chunk waits for the test to open the gate.
async fn fake_stream(State(fakes): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 2 << 20).await.unwrap();
    let seen = record(&fakes, At::Stream, &parts, &body);
    if !fakes.stream_unsigned && seen.verdict.as_deref() != Ok("lambda") {
        let why = format!("{:?}", seen.verdict);
        return (StatusCode::FORBIDDEN, axum::Json(json!({"message": why}))).into_response();
    }
    let chunks = futures_util::stream::unfold(0, move |step| {
        let fakes = fakes.clone();
        async move {
            let chunk = match step {
                0 => "data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n",
                1 => {
                    fakes.gate.notified().await;
                    "data: {\"choices\":[{\"delta\":{\"content\":\"last\"}}]}\n\ndata: [DONE]\n\n"
                }
                _ => return None,
            };
            Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), step + 1))
        }
    });
    (
        [
            ("content-type", "text/event-stream"),
            ("x-request-id", "req-stream-1"),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

struct Running {
    proxy: String,
    upstream: String,
    inference: String,
    stream: String,
    fakes: Shared,
    http: reqwest::Client,
}

/// How a test sets the proxy and its fakes up.
#[derive(Default)]
struct Setup {
    /// config.json's URLs are null (the admin function without `GATEWAY_CONSOLE_*`).
    config_without_urls: bool,
    /// Pass the fakes' URLs as `--inference-url` / `--stream-url`.
    flags: bool,
    /// `--stream-unsigned` (and the fake Function URL's `AuthType: NONE`).
    stream_unsigned: bool,
}

async fn bind() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

async fn start() -> Running {
    start_with(Setup::default()).await
}

async fn start_with(setup: Setup) -> Running {
    let (admin_l, upstream) = bind().await;
    let (inference_l, inference) = bind().await;
    let (stream_l, stream) = bind().await;
    let config = if setup.config_without_urls {
        json!({"api_url": null, "stream_url": null})
    } else {
        // As the template sets them: the stage-less API URL, the Function URL with its slash.
        json!({"api_url": inference, "stream_url": format!("{stream}/")})
    };
    let fakes = Arc::new(Fakes {
        log: Mutex::default(),
        config,
        stream_unsigned: setup.stream_unsigned,
        gate: tokio::sync::Notify::new(),
    });
    let serve = |listener: tokio::net::TcpListener, app: Router<Shared>| {
        let app = app.with_state(fakes.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    };
    serve(admin_l, Router::new().fallback(fake_admin));
    serve(inference_l, Router::new().fallback(fake_inference));
    serve(stream_l, Router::new().fallback(fake_stream));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let credentials = Credentials::new(AKID, SECRET, Some(SESSION.into()), None, "test");
    let signer = Signer::new(SharedCredentialsProvider::new(credentials), REGION);
    let flag = |peer: Peer, url: &str| {
        setup
            .flags
            .then(|| Upstream::parse_for(peer, url, true).unwrap())
    };
    let auth = if setup.stream_unsigned {
        StreamAuth::None
    } else {
        StreamAuth::Iam
    };
    let targets = Targets::new(
        flag(Peer::Inference, &inference),
        flag(Peer::Stream, &stream),
        auth,
    )
    .allowing_loopback_http();
    let proxy = Proxy::new(
        local,
        ProxyToken::new(TOKEN).unwrap(),
        Upstream::parse_allowing_loopback_http(&upstream).unwrap(),
        signer,
    )
    .unwrap()
    .with_targets(targets);
    assert_eq!(
        proxy.console_url(),
        format!("http://{local}/console/#token={TOKEN}")
    );
    tokio::spawn(gateway_admin::console_proxy::serve(listener, proxy));
    Running {
        proxy: format!("http://{local}"),
        upstream,
        inference,
        stream,
        fakes,
        http: test_client(),
    }
}

/// The browser's stand-in (plain HTTP; reqwest is built without a default TLS provider, so one
/// is named, as the proxy does).
fn test_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

impl Running {
    fn seen(&self) -> Vec<Seen> {
        self.fakes.log.lock().unwrap().clone()
    }

    /// What the fake at `at` received.
    fn seen_at(&self, at: At) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.at == at).collect()
    }
}

async fn json_of(r: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = r.status();
    let headers = r.headers().clone();
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    (status, headers, body)
}

#[tokio::test]
async fn a_request_with_the_token_is_forwarded_signed_and_its_answer_comes_back_unchanged() {
    let t = start().await;
    let body = r#"{"owner":"team a","models":["claude-*"]}"#;
    let r = t
        .http
        .post(format!("{}/v1/admin/keys?b=2&a=x%20y", t.proxy))
        .header("x-gateway-admin-token", TOKEN)
        .header("content-type", "application/json")
        .header("cookie", "session=browser")
        .header("origin", &t.proxy)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, headers, answer) = json_of(r).await;
    let seen = t.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.verdict.as_deref(), Ok("execute-api"), "{:?}", s.verdict);
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        answer,
        json!({"object": "api_key", "path": "/v1/admin/keys", "bytes": body.len()})
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-request-id"], "req-upstream-1");
    assert_eq!(headers["content-security-policy"], "default-src 'none'");
    assert!(headers.get("set-cookie").is_none());
    assert_eq!(s.method, "POST");
    assert_eq!(s.path_and_query, "/v1/admin/keys?b=2&a=x%20y");
    assert_eq!(s.body, body.as_bytes());
    assert_eq!(s.headers["content-type"], "application/json");
    assert_eq!(s.headers["host"], t.upstream.trim_start_matches("http://"));
    for private in ["x-gateway-admin-token", "cookie", "origin"] {
        assert!(s.headers.get(private).is_none(), "{private} was forwarded");
    }

    // A GET with a query, and a DELETE: each signed for its own method and path.
    let r = t
        .http
        .get(format!(
            "{}/v1/admin/usage?to=2026-12-31&from=2026-12-01",
            t.proxy
        ))
        .header("x-gateway-admin-token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = t
        .http
        .delete(format!("{}/v1/admin/keys/key_abc", t.proxy))
        .header("x-gateway-admin-token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let seen = t.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.verdict.as_deref(), Ok("execute-api"), "{:?}", s.verdict);
    }
    assert_eq!(seen[2].method, "DELETE");
}

#[tokio::test]
async fn the_fake_admin_api_refuses_a_wrong_signature() {
    // The check above can fail: a request signed with another secret is refused.
    let t = start().await;
    let r = t
        .http
        .get(format!("{}/v1/admin/keys", t.upstream))
        .header("x-amz-date", "20261206T140000Z")
        .header("x-amz-security-token", SESSION)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={AKID}/20261206/{REGION}/execute-api/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-amz-security-token, Signature={}",
                "0".repeat(64)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        t.seen()[0]
            .verdict
            .as_ref()
            .unwrap_err()
            .contains("mismatch")
    );
}

#[tokio::test]
async fn without_the_token_or_with_a_wrong_one_nothing_is_forwarded() {
    let t = start().await;
    for token in [None, Some("wrongwrongwrongwrongwrong"), Some("")] {
        for (method, path) in [
            ("GET", "/v1/admin/keys"),
            ("POST", "/v1/admin/keys"),
            ("GET", "/console/config.json"),
        ] {
            let mut req = t
                .http
                .request(method.parse().unwrap(), format!("{}{path}", t.proxy));
            if let Some(v) = token {
                req = req.header("x-gateway-admin-token", v);
            }
            let (status, _, body) = json_of(req.send().await.unwrap()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_eq!(body["error"]["type"], "unauthorized");
        }
    }
    assert_eq!(
        t.seen().len(),
        0,
        "a request without the token was forwarded"
    );

    // The console's static files hold no data: a browser's navigation (no header) gets them.
    let r = t
        .http
        .get(format!("{}/console/", t.proxy))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(t.seen().len(), 1);
    // Other paths are not the admin API's: never signed.
    let r = t
        .http
        .get(format!("{}/v1/models", t.proxy))
        .header("x-gateway-admin-token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(t.seen().len(), 1);
}

#[tokio::test]
async fn a_foreign_host_or_a_cross_site_origin_is_refused() {
    let t = start().await;
    let port = t.proxy.rsplit(':').next().unwrap();
    let cases = [
        (Some(format!("evil.example:{port}")), None),
        (Some(format!("localhost.evil.example:{port}")), None),
        (Some("127.0.0.1:1".to_owned()), None),
        (None, Some("http://evil.example".to_owned())),
        (None, Some(format!("http://evil.example:{port}"))),
        (None, Some("null".to_owned())),
    ];
    for (host, origin) in cases {
        let mut req = t
            .http
            .get(format!("{}/v1/admin/keys", t.proxy))
            .header("x-gateway-admin-token", TOKEN);
        if let Some(h) = &host {
            req = req.header("host", h);
        }
        if let Some(o) = &origin {
            req = req.header("origin", o);
        }
        let (status, _, body) = json_of(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host:?} {origin:?}");
        assert_eq!(body["error"]["type"], "invalid_request");
    }
    // Static files too: a rebinding page must not read anything through the proxy.
    let r = t
        .http
        .get(format!("{}/console/", t.proxy))
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(t.seen().len(), 0, "a refused request was forwarded");
}

#[tokio::test]
async fn a_body_over_the_cap_is_413_and_not_forwarded() {
    let t = start().await;
    let big = vec![b'x'; 64 * 1024 + 1];
    let r = t
        .http
        .post(format!("{}/v1/admin/keys", t.proxy))
        .header("x-gateway-admin-token", TOKEN)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["type"], "payload_too_large");
    // Without a declared length (chunked): cut off while reading.
    let chunks = futures_chunks(big);
    let r = t
        .http
        .post(format!("{}/v1/admin/keys", t.proxy))
        .header("x-gateway-admin-token", TOKEN)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(t.seen().len(), 0);
    // At the cap exactly: forwarded.
    let r = t
        .http
        .post(format!("{}/v1/admin/keys", t.proxy))
        .header("x-gateway-admin-token", TOKEN)
        .body(vec![b'x'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

fn futures_chunks(
    body: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}

// ---- the playground ------------------------------------------------------------------------

const KEY: &str = "gwk_playgroundtestkey0123456789abcdefghijklmnopq";

impl Running {
    /// A playground call as the page makes it: the token, the key as a bearer, its own origin.
    fn play(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.proxy))
            .header("x-gateway-admin-token", TOKEN)
            .header("authorization", format!("Bearer {KEY}"))
            .header("origin", &self.proxy)
            .header("cookie", "session=browser")
    }

    async fn config(&self) -> (StatusCode, HeaderMap, Value) {
        let r = self
            .http
            .get(format!("{}/console/config.json", self.proxy))
            .header("x-gateway-admin-token", TOKEN)
            .send()
            .await
            .unwrap();
        json_of(r).await
    }
}

/// The signed request carries the key in `x-api-key` only, and nothing of the page's own.
fn assert_key_moved(s: &Seen) {
    assert_eq!(s.headers["x-api-key"], KEY, "{:?}", s.at);
    let auth = s.headers["authorization"].to_str().unwrap();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 "), "{auth}");
    assert!(!auth.contains(KEY));
    for private in ["x-gateway-admin-token", "cookie", "origin"] {
        assert!(s.headers.get(private).is_none(), "{private} was forwarded");
    }
}

#[tokio::test]
async fn config_json_points_the_page_at_the_proxy() {
    let t = start().await;
    let (status, headers, config) = t.config().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        config,
        json!({
            "api_url": format!("{}/inference", t.proxy),
            "stream_url": format!("{}/stream", t.proxy),
            "proxied": true,
        })
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    let seen = t.seen_at(At::Admin);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].verdict.as_deref(), Ok("execute-api"));

    // The page's bases, as api.js joins them, reach the fakes the admin config named.
    let r = t
        .play(reqwest::Method::GET, "/inference/v1/models")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(t.seen_at(At::Inference).len(), 1);
}

#[tokio::test]
async fn models_and_estimate_are_signed_for_execute_api_with_the_key_in_x_api_key() {
    let t = start().await;
    t.config().await;
    let (status, headers, answer) = json_of(
        t.play(reqwest::Method::GET, "/inference/v1/models")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"path": "/v1/models", "key": KEY, "bytes": 0})
    );
    assert_eq!(headers["x-gateway-cost-usd"], "0.000123");
    assert_eq!(headers["x-request-id"], "req-inference-1");
    assert!(headers.get("set-cookie").is_none());

    let body = r#"{"model":"claude-haiku","messages":[{"role":"user","content":"hi"}]}"#;
    let r = t
        .play(reqwest::Method::POST, "/inference/v1/estimate")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seen = t.seen_at(At::Inference);
    assert_eq!(seen.len(), 2);
    for s in &seen {
        // `verify` checks the region and the session token too.
        assert_eq!(s.verdict.as_deref(), Ok("execute-api"), "{:?}", s.verdict);
        assert_key_moved(s);
    }
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path_and_query, "/v1/models");
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path_and_query, "/v1/estimate");
    assert_eq!(seen[1].body, body.as_bytes());
    assert_eq!(seen[1].headers["content-type"], "application/json");
    assert_eq!(
        seen[1].headers["host"],
        t.inference.trim_start_matches("http://")
    );
}

#[tokio::test]
async fn the_chat_stream_is_signed_for_lambda_and_passed_on_as_it_arrives() {
    let t = start().await;
    t.config().await;
    let body =
        r#"{"model":"claude-haiku","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let wait = std::time::Duration::from_secs(10);
    let buffered = "the stream's head and first chunk did not arrive while it was open (buffered?)";
    let send = t
        .play(reqwest::Method::POST, "/stream/v1/chat/completions")
        .header("content-type", "application/json")
        .body(body)
        .send();
    let mut r = tokio::time::timeout(wait, send)
        .await
        .expect(buffered)
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["x-request-id"], "req-stream-1");
    // The fake holds its last chunk until the gate opens: the first must arrive before.
    let first = tokio::time::timeout(wait, r.chunk())
        .await
        .expect(buffered)
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("first"));
    assert!(!String::from_utf8_lossy(&first).contains("last"));
    t.fakes.gate.notify_one();
    let mut rest = Vec::new();
    while let Some(c) = r.chunk().await.unwrap() {
        rest.extend_from_slice(&c);
    }
    let rest = String::from_utf8(rest).unwrap();
    assert!(
        rest.contains("last") && rest.ends_with("data: [DONE]\n\n"),
        "{rest}"
    );

    let seen = t.seen_at(At::Stream);
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.verdict.as_deref(), Ok("lambda"), "{:?}", s.verdict);
    assert_key_moved(s);
    assert_eq!(s.path_and_query, "/v1/chat/completions");
    assert_eq!(s.body, body.as_bytes());
    assert_eq!(s.headers["host"], t.stream.trim_start_matches("http://"));
}

#[tokio::test]
async fn unsigned_stream_passes_the_bearer_as_sent() {
    let t = start_with(Setup {
        stream_unsigned: true,
        ..Setup::default()
    })
    .await;
    t.config().await;
    // Not the streaming test: the stream ends at once.
    t.fakes.gate.notify_one();
    let mut r = t
        .play(reqwest::Method::POST, "/stream/v1/chat/completions")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    while r.chunk().await.unwrap().is_some() {}
    let seen = t.seen_at(At::Stream);
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.headers["authorization"], format!("Bearer {KEY}"));
    for absent in ["x-api-key", "x-amz-date", "x-amz-security-token", "cookie"] {
        assert!(s.headers.get(absent).is_none(), "{absent} was sent");
    }
    // The inference API is still signed.
    let r = t
        .play(reqwest::Method::GET, "/inference/v1/models")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_key_moved(&t.seen_at(At::Inference)[0]);
}

#[tokio::test]
async fn other_paths_under_the_prefixes_are_refused_and_not_forwarded() {
    let t = start().await;
    t.config().await;
    use reqwest::Method;
    for (method, path, status) in [
        (Method::GET, "/inference", StatusCode::NOT_FOUND),
        (Method::GET, "/inference/", StatusCode::NOT_FOUND),
        (
            Method::POST,
            "/inference/v1/chat/completions",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/inference/v1/converse",
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/inference/v1/models/x", StatusCode::NOT_FOUND),
        (Method::GET, "/stream/v1/models", StatusCode::NOT_FOUND),
        (Method::POST, "/stream/v1/converse", StatusCode::NOT_FOUND),
        (
            Method::POST,
            "/stream/v1/chat/completions/",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/inference/v1/estimate",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::POST,
            "/inference/v1/models",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            "/stream/v1/chat/completions",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let (got, _, body) = json_of(t.play(method.clone(), path).send().await.unwrap()).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert!(body["error"]["message"].is_string());
    }
    // Without the token, or from another origin: refused before anything is signed.
    let r = t
        .http
        .get(format!("{}/inference/v1/models", t.proxy))
        .header("authorization", format!("Bearer {KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = t
        .http
        .post(format!("{}/stream/v1/chat/completions", t.proxy))
        .header("x-gateway-admin-token", TOKEN)
        .header("authorization", format!("Bearer {KEY}"))
        .header("origin", "http://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A foreign `Origin` after the proxy's own one counts too.
    let r = t
        .play(reqwest::Method::POST, "/stream/v1/chat/completions")
        .header("origin", "http://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Over the playground's 1 MiB: 413.
    let r = t
        .play(reqwest::Method::POST, "/inference/v1/estimate")
        .body(vec![b'x'; 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(t.seen_at(At::Inference).is_empty());
    assert!(t.seen_at(At::Stream).is_empty());
}

#[tokio::test]
async fn without_a_url_the_prefixes_name_the_flag_to_pass() {
    let t = start_with(Setup {
        config_without_urls: true,
        ..Setup::default()
    })
    .await;
    /// A 404 whose message names the flag and the stack output to pass.
    async fn names_the_flag(req: reqwest::RequestBuilder, flag: &str, output: &str) {
        let (status, _, body) = json_of(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(flag) && message.contains(output),
            "{message}"
        );
    }
    // Before the page read config.json: the proxy reads it itself.
    names_the_flag(
        t.play(reqwest::Method::GET, "/inference/v1/models"),
        "--inference-url",
        "ApiUrl",
    )
    .await;
    assert_eq!(
        t.seen_at(At::Admin)[0].path_and_query,
        "/console/config.json"
    );
    names_the_flag(
        t.play(reqwest::Method::POST, "/stream/v1/chat/completions")
            .body("{}"),
        "--stream-url",
        "StreamUrl",
    )
    .await;
    // The page still gets the proxy's bases (so it sees these errors, not a CSP refusal).
    let (_, _, config) = t.config().await;
    assert_eq!(config["api_url"], format!("{}/inference", t.proxy));
    assert!(t.seen_at(At::Inference).is_empty());
}

#[tokio::test]
async fn the_flags_give_the_urls_when_the_config_has_none() {
    let t = start_with(Setup {
        config_without_urls: true,
        flags: true,
        ..Setup::default()
    })
    .await;
    let r = t
        .play(reqwest::Method::GET, "/inference/v1/models")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Not the streaming test: the stream ends at once.
    t.fakes.gate.notify_one();
    let mut r = t
        .play(reqwest::Method::POST, "/stream/v1/chat/completions")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    while r.chunk().await.unwrap().is_some() {}
    assert_eq!(t.seen_at(At::Stream)[0].verdict.as_deref(), Ok("lambda"));
    // Both flags given: config.json is not needed for the playground.
    assert!(t.seen_at(At::Admin).is_empty());
}
