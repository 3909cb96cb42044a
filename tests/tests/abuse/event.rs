//! Requests as Lambda delivers them: an API Gateway HTTP API v2 (or Function URL) event, as JSON
//! text, read by `lambda_http` exactly as the runtime reads it (`LambdaRequest` →
//! `http::Request`), with a Lambda context (request ID, deadline) attached, then sent through a
//! function's axum router.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine;
use http::HeaderMap;
use http_body_util::BodyExt;
use lambda_http::RequestExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// In a header value: tenant A's key, filled in when the request is sent.
pub const KEY_A: &str = "{key:a}";
/// In a header value: tenant B's key.
pub const KEY_B: &str = "{key:b}";

/// Who a request presents itself as (the keys are issued once by the world).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// No key header at all.
    Nobody,
    /// Tenant A's key (`x-api-key`).
    A,
    /// Tenant B's key (`x-api-key`).
    B,
    /// An admin key.
    Admin,
    /// The key with a tiny daily budget.
    Budget,
    /// The key with a small tokens-per-minute limit.
    Tpm,
    /// The key that may hold 2 streams open at once.
    Streams,
}

/// One HTTP request, before it becomes an event.
#[derive(Debug, Clone)]
pub struct Req {
    /// Method.
    pub method: String,
    /// The raw path as API Gateway passes it (`rawPath`; may hold percent-encoding).
    pub path: String,
    /// `rawQueryString`, without `?`.
    pub query: String,
    /// Headers as the event carries them (duplicates already joined with commas, as API Gateway
    /// and Function URLs do). `content-type` is added for bodies unless set here.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Option<Vec<u8>>,
    /// Send the body base64-encoded (`isBase64Encoded: true`): any bytes, not only UTF-8.
    pub base64: bool,
    /// The key header to add.
    pub who: Who,
    /// Leave `content-length` out of the event.
    pub no_length: bool,
}

/// A request to `path` with `method`, as tenant A, no body.
pub fn req(method: &str, path: &str) -> Req {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    Req {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: vec![],
        body: None,
        base64: false,
        who: Who::A,
        no_length: false,
    }
}

/// `GET path`.
pub fn get(path: &str) -> Req {
    req("GET", path)
}

/// `POST path`.
pub fn post(path: &str) -> Req {
    req("POST", path)
}

impl Req {
    /// A JSON body.
    pub fn json(self, v: Value) -> Req {
        self.raw(v.to_string())
    }

    /// A body as text or bytes (sent as a plain string unless it is not UTF-8).
    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Req {
        let body = body.into();
        self.base64 |= std::str::from_utf8(&body).is_err();
        self.body = Some(body);
        self
    }

    /// The body base64-encoded in the event.
    pub fn b64(mut self) -> Req {
        self.base64 = true;
        self
    }

    /// One more header (replaces an earlier one of the same name).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    /// Presented as `who`.
    pub fn who(mut self, who: Who) -> Req {
        self.who = who;
        self
    }

    /// No `content-length` in the event.
    pub fn no_length(mut self) -> Req {
        self.no_length = true;
        self
    }
}

/// The event's shape: an HTTP API v2 route or a Function URL.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// API Gateway HTTP API, payload format 2.0 (invoke, count, admin).
    HttpApi,
    /// Lambda Function URL (stream-url); the same payload format, another request context.
    FunctionUrl,
}

/// The event for `r`, as the JSON text Lambda would deliver.
pub fn event_json(origin: Origin, r: &Req, key: Option<&str>, keys: [&str; 2]) -> String {
    let fixture = match origin {
        Origin::HttpApi => "apigw-v2-post-converse.json",
        Origin::FunctionUrl => "function-url-post-converse.json",
    };
    // Through the AWS-maintained type first: the event is one that type accepts.
    let typed: ApiGatewayV2httpRequest =
        serde_json::from_value(gateway_tests::fixture(fixture)).expect("fixture event");
    let mut e = serde_json::to_value(typed).expect("event JSON");
    e["rawPath"] = json!(r.path);
    e["rawQueryString"] = json!(r.query);
    e["requestContext"]["http"]["method"] = json!(r.method);
    e["requestContext"]["http"]["path"] = json!(r.path);
    e["routeKey"] = json!("$default");
    e["pathParameters"] = json!({});
    e["queryStringParameters"] = json!({});
    let headers = e["headers"].as_object_mut().expect("headers");
    headers.retain(|k, _| !matches!(k.as_str(), "content-length" | "content-type"));
    if let Some(key) = key {
        headers.insert("x-api-key".into(), json!(key));
    }
    if let Some(b) = &r.body {
        headers.insert("content-type".into(), json!("application/json"));
        if !r.no_length {
            headers.insert("content-length".into(), json!(b.len().to_string()));
        }
    }
    for (k, v) in &r.headers {
        let v = v.replace(KEY_A, keys[0]).replace(KEY_B, keys[1]);
        headers.insert(k.clone(), json!(v));
    }
    match &r.body {
        None => {
            e["body"] = Value::Null;
            e["isBase64Encoded"] = json!(false);
        }
        Some(b) if r.base64 => {
            e["body"] = json!(base64::engine::general_purpose::STANDARD.encode(b));
            e["isBase64Encoded"] = json!(true);
        }
        Some(b) => {
            e["body"] = json!(String::from_utf8(b.clone()).expect("UTF-8 body"));
            e["isBase64Encoded"] = json!(false);
        }
    }
    e.to_string()
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub bytes: Vec<u8>,
}

impl Reply {
    /// A header as text ("" when absent or not text).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// The body as text, cut for messages.
    pub fn text(&self) -> String {
        let t = String::from_utf8_lossy(&self.bytes);
        t.chars().take(400).collect()
    }
}

/// Reads the event as the runtime does and sends it through `app` with a Lambda context whose
/// deadline is 30 s away. `Err`: `lambda_http` could not read the event.
pub async fn deliver(app: &axum::Router, event: &str) -> Result<Reply, String> {
    let request = lambda_http::request::from_str(event).map_err(|e| format!("event: {e}"))?;
    let mut context = lambda_http::Context::default();
    context.request_id = format!("abuse-{}", request_counter());
    context.deadline = u64::try_from(
        (SystemTime::now() + Duration::from_secs(30))
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let request = request.with_lambda_context(context);
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Reply {
        status,
        headers,
        bytes,
    })
}

fn request_counter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
