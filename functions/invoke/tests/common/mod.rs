//! Shared by the handler tests: recorded API Gateway v2 events, the router with a gateway
//! configured from a variable list, and `bedrock-local` spawned on a free port.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use http_body_util::BodyExt;
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use invoke::{AppState, router};
use serde_json::Value;
use tower::ServiceExt;

pub use gateway_tests::Emulator;

/// Starts `bedrock-local` on a free port (see `gateway_tests::emulator`).
pub fn emulator() -> Emulator {
    Emulator::start(&[])
}

/// A router whose gateway reads `vars` (plus `AWS_REGION=us-east-1`) and calls `endpoint`.
pub fn app(endpoint: &str, vars: &[(&str, &str)]) -> axum::Router {
    let mut map: HashMap<String, String> = HashMap::from([
        ("AWS_REGION".into(), "us-east-1".into()),
        // EMF lines go to stdout, which the test harness does not capture.
        ("GATEWAY_METRICS".into(), "false".into()),
    ]);
    map.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_lookup(move |k| map.get(k).cloned()).expect("configuration");
    let catalog = Catalog::load(&config).expect("catalog");
    let client = BedrockClient::for_endpoint(&config, endpoint);
    router(Arc::new(AppState::new(Gateway::new(
        config, catalog, client,
    ))))
}

/// A router for tests that never reach Bedrock.
pub fn offline_app() -> axum::Router {
    app("http://127.0.0.1:9", &[])
}

/// A recorded event under `tests/fixtures/events/`, as JSON (to vary before sending).
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixture with another JSON body (content-length kept consistent).
pub fn with_body(mut event: Value, body: &Value) -> Value {
    let text = body.to_string();
    event["headers"]["content-length"] = Value::String(text.len().to_string());
    event["body"] = Value::String(text);
    event["isBase64Encoded"] = Value::Bool(false);
    event
}

/// A converse event with one user message of `text`.
pub fn converse_event(model: &str, text: &str) -> Value {
    with_body(
        fixture("apigw-v2-post-converse.json"),
        &serde_json::json!({"model": model, "messages": [{"role": "user", "content": [{"text": text}]}]}),
    )
}

/// What came back.
pub struct Reply {
    pub status: http::StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header; have {:?}", self.headers))
            .to_str()
            .expect("ASCII header")
    }

    /// Asserts the error contract: status, JSON `{"error": {type, message, request_id}}`, and
    /// the request ID of the body equal to the `x-request-id` header.
    pub fn assert_error(&self, status: u16, error_type: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        let e = &self.body["error"];
        assert_eq!(e["type"], error_type, "{}", self.body);
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(e["request_id"].as_str(), Some(self.header("x-request-id")));
        assert!(
            self.header("content-type").starts_with("application/json"),
            "error content type"
        );
        if matches!(status, 429 | 503) {
            let secs: u64 = self
                .header("retry-after")
                .parse()
                .expect("Retry-After seconds");
            assert!(secs > 0);
        }
        e
    }
}

/// Sends one event through the router.
pub async fn send(app: axum::Router, event: &Value) -> Reply {
    let request = lambda_http::request::from_str(&event.to_string()).expect("API Gateway v2 event");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Reply {
        status,
        headers,
        body,
    }
}
