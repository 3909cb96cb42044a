//! Handler tests: recorded API Gateway HTTP API (payload 2.0) events in, responses checked.

use std::sync::Arc;

use http_body_util::BodyExt;
use inference_core::{Catalog, Config};
use invoke::{AppState, router};
use tower::ServiceExt;

fn state() -> Arc<AppState> {
    let config = Config::from_lookup(|name| match name {
        "AWS_REGION" => Some("us-east-1".to_string()),
        _ => None,
    })
    .expect("default configuration is valid");
    let catalog = Catalog::load(&config).expect("embedded catalog loads");
    Arc::new(AppState { config, catalog })
}

fn event(name: &str) -> lambda_http::Request {
    let path = format!("{}/../../tests/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn call(name: &str) -> (http::StatusCode, serde_json::Value) {
    let response = router(state()).oneshot(event(name)).await.unwrap();
    let status = response.status();
    let content_type = response.headers()[http::header::CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "{name}: content-type {content_type}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).expect("body is JSON"))
}

#[tokio::test]
async fn lists_the_catalog() {
    let (status, body) = call("apigw-v2-get-models.json").await;
    assert_eq!(status, 200);
    let models = body["models"].as_array().expect("models array");
    assert!(models.len() >= 20, "catalog lists {} models", models.len());
    assert!(
        models.iter().any(|m| m["id"] == "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        "Sonnet 4.5 is listed"
    );
}

#[tokio::test]
async fn describes_a_model_by_alias() {
    let (status, body) = call("apigw-v2-get-model-sonnet.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "anthropic.claude-sonnet-4-5-20250929-v1:0");
    // In us-east-1 Sonnet 4.5 must be called through an inference profile.
    let resolved = body["invoked"].as_str().expect("invoked: the ID called here");
    assert!(resolved.ends_with("anthropic.claude-sonnet-4-5-20250929-v1:0"));
    assert_ne!(resolved, "anthropic.claude-sonnet-4-5-20250929-v1:0", "a profile, not the bare ID");
}

#[tokio::test]
async fn unknown_model_is_a_json_404_with_suggestions() {
    let (status, body) = call("apigw-v2-get-model-unknown.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["request_id"].as_str().map(str::is_empty), Some(false));
    assert!(body["error"]["message"].as_str().unwrap().contains("gpt-4"));
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let (status, body) = call("apigw-v2-get-unknown-route.json").await;
    assert_eq!(status, 404);
    assert!(body["error"]["type"].is_string());
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let (status, body) = call("apigw-v2-delete-models.json").await;
    assert_eq!(status, 405);
    assert!(body["error"]["message"].as_str().unwrap().contains("DELETE"));
}
