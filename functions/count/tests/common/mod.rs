//! Test support: bedrock-local on a free port, a `Gateway` pointed at it, API Gateway v2 events.

#![allow(dead_code)]

use std::collections::HashMap;

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use http_body_util::BodyExt;
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use serde_json::{Value, json};
use tower::ServiceExt;

pub use gateway_tests::Emulator;

/// Count-specific helpers on the shared emulator guard.
pub trait EmulatorExt {
    fn count_tokens_calls(&self) -> impl std::future::Future<Output = u64>;
    fn gateway(&self, vars: &[(&str, &str)]) -> Gateway;
}

impl EmulatorExt for Emulator {
    /// CountTokens calls the emulator has served.
    async fn count_tokens_calls(&self) -> u64 {
        self.stats()["requests"]["CountTokens"]
            .as_u64()
            .unwrap_or(0)
    }

    /// A gateway in us-east-1 pointed at this emulator, with extra settings. One SDK attempt
    /// per call, so an armed fault is seen exactly once.
    fn gateway(&self, vars: &[(&str, &str)]) -> Gateway {
        let mut map: HashMap<String, String> = HashMap::from([
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("GATEWAY_MAX_ATTEMPTS".to_owned(), "1".to_owned()),
            ("GATEWAY_METRICS".to_owned(), "false".to_owned()),
        ]);
        map.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_lookup(move |k| map.get(k).cloned()).expect("config");
        let catalog = Catalog::load(&config).expect("catalog");
        let sdk = aws_sdk_bedrockruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.as_str().to_owned()))
            .endpoint_url(&self.url)
            .http_client(inference_core::sdk_http::https_client())
            .retry_config(aws_sdk_bedrockruntime::config::retry::RetryConfig::disabled())
            .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
            .build();
        Gateway::new(
            config,
            catalog,
            BedrockClient::from_sdk(aws_sdk_bedrockruntime::Client::from_conf(sdk)),
        )
    }
}

/// The recorded event `name` from `tests/fixtures/events/`, as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The recorded `POST /v1/count` event with another method, path, body and content type.
pub fn event(method: &str, path: &str, body: &str, content_type: Option<&str>) -> Value {
    let mut e = fixture("apigw-v2-post-count.json");
    e["routeKey"] = json!(format!("{method} {path}"));
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    e["requestContext"]["routeKey"] = json!(format!("{method} {path}"));
    e["body"] = json!(body);
    e["headers"]["content-length"] = json!(body.len().to_string());
    match content_type {
        Some(ct) => e["headers"]["content-type"] = json!(ct),
        None => {
            e["headers"].as_object_mut().unwrap().remove("content-type");
        }
    }
    e
}

/// `POST path` with a JSON body.
pub fn post(path: &str, body: &Value) -> Value {
    event("POST", path, &body.to_string(), Some("application/json"))
}

/// Runs one event through the router: status and JSON body (every answer must be JSON).
pub async fn call(gateway: &Gateway, event: Value) -> (u16, Value) {
    let req = lambda_http::request::from_str(&event.to_string()).expect("event parses");
    let resp = count::router(gateway.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status().as_u16();
    let ct = resp.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let header = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("JSON body");
    let in_body = body
        .get("request_id")
        .or_else(|| body.pointer("/error/request_id"));
    assert_eq!(
        in_body,
        Some(&json!(header)),
        "x-request-id matches the body"
    );
    (status, body)
}

/// A Converse body with one user message.
pub fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": [{"text": text}]}]})
}
