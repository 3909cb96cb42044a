//! Handler tests that never reach Bedrock: recorded API Gateway HTTP API (payload 2.0) events in,
//! routing, catalog answers and the request checks (404, 405, 413, 415, 400) out.

mod common;

use common::{fixture, offline_app, send, with_body};
use serde_json::{Value, json};

async fn call(name: &str) -> common::Reply {
    send(offline_app(), &fixture(name)).await
}

#[tokio::test]
async fn lists_the_catalog() {
    let r = call("apigw-v2-get-models.json").await;
    assert_eq!(r.status, 200);
    let models = r.body["models"].as_array().expect("models array");
    assert!(models.len() >= 20, "catalog lists {} models", models.len());
    assert!(
        models
            .iter()
            .any(|m| m["id"] == "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        "Sonnet 4.5 is listed"
    );
    assert!(!r.header("x-request-id").is_empty());
}

#[tokio::test]
async fn describes_a_model_by_alias() {
    let r = call("apigw-v2-get-model-sonnet.json").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], "anthropic.claude-sonnet-4-5-20250929-v1:0");
    // In us-east-1 Sonnet 4.5 must be called through an inference profile.
    let resolved = r.body["invoked"]
        .as_str()
        .expect("invoked: the ID called here");
    assert!(resolved.ends_with("anthropic.claude-sonnet-4-5-20250929-v1:0"));
    assert_ne!(
        resolved, "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "a profile, not the bare ID"
    );
}

#[tokio::test]
async fn unknown_model_is_a_json_404_with_suggestions() {
    let r = call("apigw-v2-get-model-unknown.json").await;
    let e = r.assert_error(404, "model_not_found");
    assert!(e["message"].as_str().unwrap().contains("gpt-4"));
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    call("apigw-v2-get-unknown-route.json")
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let r = call("apigw-v2-delete-models.json").await;
    let e = r.assert_error(405, "method_not_allowed");
    assert!(e["message"].as_str().unwrap().contains("DELETE"));
}

#[tokio::test]
async fn get_on_a_post_route_is_405() {
    let mut event = fixture("apigw-v2-get-models.json");
    event["rawPath"] = json!("/v1/converse");
    event["requestContext"]["http"]["path"] = json!("/v1/converse");
    send(offline_app(), &event)
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn a_caller_request_id_is_echoed() {
    let mut event = fixture("apigw-v2-get-models.json");
    event["headers"]["x-request-id"] = json!("caller-chosen-id");
    let r = send(offline_app(), &event).await;
    assert_eq!(r.header("x-request-id"), "caller-chosen-id");
}

#[tokio::test]
async fn non_json_is_415() {
    let r = call("apigw-v2-post-converse-text-plain.json").await;
    let e = r.assert_error(415, "unsupported_media_type");
    assert!(e["message"].as_str().unwrap().contains("text/plain"));
}

#[tokio::test]
async fn malformed_json_is_400_with_the_position() {
    for path in [
        "/v1/converse",
        "/v1/invoke/amazon.nova-lite-v1:0",
        "/v1/guardrail/check",
    ] {
        let mut event = fixture("apigw-v2-post-converse.json");
        event["rawPath"] = json!(path);
        event["body"] = json!("{\"model\": \"haiku\", \"messages\": [}");
        let r = send(offline_app(), &event).await;
        let e = r.assert_error(400, "invalid_request");
        assert!(
            e["message"].as_str().unwrap().contains("line 1 column 33"),
            "{path}: {e}"
        );
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400() {
    let mut event = fixture("apigw-v2-post-invoke-nova.json");
    event["body"] = json!("[1, 2, 3]");
    send(offline_app(), &event)
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn oversize_body_is_413() {
    let app = common::app("http://127.0.0.1:9", &[("GATEWAY_MAX_BODY_BYTES", "1000")]);
    let big = "x".repeat(2000);
    let event = common::converse_event("haiku", &big);
    let e = send(app, &event)
        .await
        .assert_error(413, "payload_too_large")
        .clone();
    assert!(e["message"].as_str().unwrap().contains("1000"));
}

#[tokio::test]
async fn oversize_without_content_length_is_413() {
    let app = common::app("http://127.0.0.1:9", &[("GATEWAY_MAX_BODY_BYTES", "1000")]);
    let mut event = with_body(
        fixture("apigw-v2-post-guardrail-check.json"),
        &json!({"text": "y".repeat(5000)}),
    );
    if let Value::Object(h) = &mut event["headers"] {
        h.remove("content-length");
    }
    send(app, &event)
        .await
        .assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn guardrail_check_without_a_guardrail_is_404() {
    let r = call("apigw-v2-post-guardrail-check.json").await;
    let e = r.assert_error(404, "not_found");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("GATEWAY_GUARDRAIL_ID")
    );
}

#[tokio::test]
async fn converse_without_model_or_default_is_400() {
    let event = with_body(
        fixture("apigw-v2-post-converse.json"),
        &json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
    );
    let e = send(offline_app(), &event)
        .await
        .assert_error(400, "invalid_request")
        .clone();
    assert!(e["message"].as_str().unwrap().contains("model"));
}

#[tokio::test]
async fn disallowed_model_is_400_model_not_allowed() {
    let app = common::app(
        "http://127.0.0.1:9",
        &[("GATEWAY_ALLOWED_MODELS", "nova-*")],
    );
    send(app, &common::converse_event("haiku", "hi"))
        .await
        .assert_error(400, "model_not_allowed");
}

#[tokio::test]
async fn max_tokens_over_the_cap_is_400() {
    let app = common::app("http://127.0.0.1:9", &[("GATEWAY_MAX_TOKENS_CAP", "100")]);
    let event = with_body(
        fixture("apigw-v2-post-converse.json"),
        &json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "hi"}]}],
                "inferenceConfig": {"maxTokens": 500}}),
    );
    send(app, &event).await.assert_error(400, "invalid_request");
}

/// Path parameters that are not valid percent-encoded UTF-8 (`{model}`, `{modelId}`, `{id}`)
/// are the gateway's 400 JSON error, not axum's text/plain rejection.
#[tokio::test]
async fn bad_path_encoding_is_a_json_400() {
    let app = offline_app();
    for (method, path) in [
        ("GET", "/v1/models/%FF"),
        ("POST", "/v1/invoke/%FF"),
        ("POST", "/v1/invoke/anthropic.%C3%28"),
        ("GET", "/v1/jobs/%FF%FE"),
    ] {
        let body = (method == "POST").then(|| json!({"prompt": "x"}));
        let r = gateway_tests::router::call(&app, method, path, &[], body).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert_eq!(r.error_type(), "invalid_request", "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.body["error"]["request_id"].is_string(), "{}", r.text);
        assert!(r.text.contains("UTF-8"), "{}", r.text);
    }
}
