//! The `Gateway` facade end to end through the real SDK against `bedrock-local`: resolution,
//! policy, cost and the response shape on Converse, ConverseStream, InvokeModel and CountTokens.
//! Fails (does not skip) when the emulator binary is missing; see resolve_against_emulator.rs.

mod support;

use bytes::Bytes;
use inference_core::CallContext;
use rust_decimal::Decimal;
use serde_json::json;
use support::{gateway, start};

fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str()
        .expect("decimal string")
        .parse()
        .expect("decimal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_paths() {
    let emu = start(&[]);
    let gw = gateway(
        &emu.url,
        &[
            ("AWS_REGION", "eu-west-1"),
            ("GATEWAY_MAX_TOKENS_CAP", "8000"),
        ],
    );
    let ctx = CallContext::new("test").with_request_id("req-1");

    // Converse: resolved to the eu profile, default maxTokens reported, cost consistent.
    let v = gw
        .converse(json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "Hello there"}]}]}), &ctx)
        .await
        .expect("converse");
    assert_eq!(v["model"], "eu.anthropic.claude-haiku-4-5-20251001-v1:0");
    assert_eq!(v["max_tokens"], json!({"value": 4096, "source": "default"}));
    assert_eq!(v["request_id"], "req-1");
    assert_eq!(v["cost"]["pricing"], "regional");
    let c = &v["cost"];
    assert_eq!(
        dec(&c["input"]) + dec(&c["output"]) + dec(&c["cache_read"]) + dec(&c["cache_write"]),
        dec(&c["total"])
    );
    let input = v["usage"]["inputTokens"].as_u64().unwrap();
    assert!(input > 0);
    assert_eq!(
        dec(&c["input"]),
        Decimal::from(input) * Decimal::new(110, 2) / Decimal::from(1_000_000)
    );
    assert!(v["output"]["message"]["content"][0]["text"].is_string());

    // Policy errors before any call.
    let e = gw
        .converse(json!({"model": "sonet", "messages": []}), &ctx)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = gw
        .converse(json!({"model": "sonnet", "messages": [{"role": "user", "content": [{"text": "x"}]}], "inferenceConfig": {"maxTokens": 9000}}), &ctx)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.message().contains("GATEWAY_MAX_TOKENS_CAP"));
    let e = gw
        .converse(json!({"model": "titan-embed", "messages": []}), &ctx)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);

    // Streaming: events in boto3 shape, summary with usage and cost.
    let mut s = gw
        .converse_stream(json!({"model": "nova-pro", "messages": [{"role": "user", "content": [{"text": "Stream please"}]}]}), &ctx)
        .await
        .expect("stream");
    let mut names = Vec::new();
    while let Some((name, event)) = s.recv().await.expect("event") {
        assert!(event.get(&name).is_some(), "{event}");
        names.push(name);
    }
    assert_eq!(names.first().map(String::as_str), Some("messageStart"));
    assert!(names.contains(&"contentBlockDelta".to_owned()));
    assert_eq!(names.last().map(String::as_str), Some("metadata"));
    let summary = s.summary();
    assert_eq!(summary["model"], "amazon.nova-pro-v1:0");
    assert_eq!(summary["usage_known"], true);
    assert!(dec(&summary["cost"]["total"]) > Decimal::ZERO);

    // Native InvokeModel: usage read from the body per family.
    let r = gw
        .invoke_native(
            "titan-embed",
            Bytes::from_static(br#"{"inputText": "hello world"}"#),
            &ctx,
        )
        .await
        .expect("invoke");
    assert_eq!(r.model.invoked, "amazon.titan-embed-text-v2:0");
    assert!(r.usage.input_tokens > 0, "{:?}", r.usage);
    let r = gw
        .invoke_native(
            "sonnet",
            Bytes::from(serde_json::to_vec(&json!({"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "hi"}]})).unwrap()),
            &ctx,
        )
        .await
        .expect("invoke claude");
    assert_eq!(
        r.model.invoked,
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    );
    assert_eq!(r.max_tokens.map(|m| m.value), Some(4096));
    assert!(r.usage.output_tokens > 0, "{:?}", r.usage);
    // Mistral and Cohere Embed bodies carry no counts: Bedrock's token-count headers do.
    let r = gw
        .invoke_native(
            "mistral.mistral-7b-instruct-v0:2",
            Bytes::from_static(br#"{"prompt": "<s>[INST] hello there [/INST]", "max_tokens": 20}"#),
            &ctx,
        )
        .await
        .expect("invoke mistral");
    assert!(
        r.usage.input_tokens > 0 && r.usage.output_tokens > 0,
        "{:?}",
        r.usage
    );
    assert!(r.cost.total() > Decimal::ZERO);
    let r = gw
        .invoke_native(
            "cohere.embed-english-v3",
            Bytes::from_static(br#"{"texts": ["hello world"], "input_type": "search_document"}"#),
            &ctx,
        )
        .await
        .expect("invoke cohere embed");
    assert!(r.usage.input_tokens > 0, "{:?}", r.usage);

    // CountTokens takes the bare model ID.
    let v = gw
        .count_tokens(json!({"model": "sonnet", "messages": [{"role": "user", "content": [{"text": "count these words"}]}]}), &ctx)
        .await
        .expect("count");
    assert!(v["inputTokens"].as_u64().unwrap() > 0);
    assert_eq!(v["estimate"]["estimate"], true);
    let e = gw
        .count_tokens(json!({"model": "nova-pro", "messages": []}), &ctx)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_maps_to_429_with_retry_after_even_after_fallback() {
    let emu = start(&["--fault-rate", "1"]);
    let gw = gateway(
        &emu.url,
        &[
            ("GATEWAY_MAX_ATTEMPTS", "1"),
            ("GATEWAY_FALLBACK_MODELS", "nova-lite"),
        ],
    );
    let ctx = CallContext::new("test");
    let e = gw
        .converse(json!({"model": "nova-pro", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}), &ctx)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 429);
    assert_eq!(e.error_type(), "throttled");
    assert_eq!(e.upstream().unwrap().error, "ThrottlingException");
    assert!(e.retry_after().is_some());
}

/// An application inference profile's ARN works as a fallback (`GATEWAY_FALLBACK_MODELS`): the
/// gateway learns it with GetInferenceProfile when the loop reaches it, and the call goes to
/// the ARN, priced by its model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_profile_is_a_fallback_like_any_model() {
    let emu = start(&[]);
    let control = support::control_client(&emu.url);
    let created = control
        .create_inference_profile()
        .inference_profile_name("fallback-micro")
        .model_source(
            aws_sdk_bedrock::types::InferenceProfileModelSource::CopyFrom(
                "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0".into(),
            ),
        )
        .send()
        .await
        .expect("CreateInferenceProfile");
    let arn = created.inference_profile_arn().to_owned();
    let gw = gateway(
        &emu.url,
        &[
            ("AWS_REGION", "us-east-1"),
            ("GATEWAY_FALLBACK_MODELS", arn.as_str()),
        ],
    )
    .with_control_plane(inference_core::control::ControlPlane::from_sdk(control));
    // The test client retries as the SDK does by default (3 attempts): throttle them all.
    support::arm_fault(
        &emu.url,
        json!({"fault": "throttle", "count": 3, "model": "amazon.nova-lite-v1:0"}),
    )
    .await;
    let ctx = CallContext::new("test");
    let v = gw
        .converse(
            json!({"model": "nova-lite", "messages": [{"role": "user", "content": [{"text": "Hello"}]}]}),
            &ctx,
        )
        .await
        .expect("answered by the fallback");
    assert_eq!(v["model"], arn.as_str(), "{v}");
    assert_eq!(v["fallback"][0]["error"], "throttled");
    assert!(dec(&v["cost"]["total"]) > Decimal::ZERO);
}
