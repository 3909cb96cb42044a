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
use gateway_admin::console_proxy::{Proxy, ProxyToken, Signer, Upstream};
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
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
    /// `Ok(service)` when the signature was right.
    verdict: Result<String, String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

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

/// The fake admin API: 403 (as API Gateway) when the signature is wrong, else 201 with JSON
/// naming what it got, a request ID and a CSP header to pass back.
async fn fake_admin(State(log): State<Log>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let verdict = verify(parts.method.as_str(), &parts.uri, &parts.headers, &body);
    log.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path_and_query: parts.uri.path_and_query().unwrap().to_string(),
        headers: parts.headers.clone(),
        body: body.clone(),
        verdict: verdict.clone(),
    });
    if let Err(why) = verdict {
        return (StatusCode::FORBIDDEN, axum::Json(json!({"message": why}))).into_response();
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

struct Running {
    proxy: String,
    upstream: String,
    log: Log,
    http: reqwest::Client,
}

async fn start() -> Running {
    let log: Log = Arc::default();
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", up.local_addr().unwrap());
    let app = Router::new().fallback(fake_admin).with_state(log.clone());
    tokio::spawn(async move { axum::serve(up, app).await.unwrap() });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let credentials = Credentials::new(AKID, SECRET, Some(SESSION.into()), None, "test");
    let signer = Signer::new(SharedCredentialsProvider::new(credentials), REGION);
    let proxy = Proxy::new(
        local,
        ProxyToken::new(TOKEN).unwrap(),
        Upstream::parse_allowing_loopback_http(&upstream).unwrap(),
        signer,
    )
    .unwrap();
    assert_eq!(
        proxy.console_url(),
        format!("http://{local}/console/#token={TOKEN}")
    );
    tokio::spawn(gateway_admin::console_proxy::serve(listener, proxy));
    Running {
        proxy: format!("http://{local}"),
        upstream,
        log,
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
        self.log.lock().unwrap().clone()
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
