//! Requests to a function's axum router in-process (`tower::ServiceExt::oneshot`), answers read
//! as JSON: what the HTTP tests of every function send.

use http::HeaderMap;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A JSON answer.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, parsed.
    pub body: Value,
    /// The body as text (to search it, and for assertion messages).
    pub text: String,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.type` of a JSON error ("" otherwise).
    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or("")
    }
}

/// Sends raw bytes with exactly these headers; panics if the answer is not JSON.
pub async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Reply {
    let mut b = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(axum::body::Body::from(body.unwrap_or_default()))
        .expect("a valid request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("a readable body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// Sends a JSON body (with `content-type: application/json`) or none.
pub async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut all = headers.to_vec();
    if body.is_some() {
        all.push(("content-type", "application/json"));
    }
    send(
        app,
        method,
        path,
        &all,
        body.map(|v| v.to_string().into_bytes()),
    )
    .await
}
