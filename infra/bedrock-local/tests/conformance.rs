//! Conformance: the real `aws-sdk-bedrockruntime` against the spawned binary, for every
//! operation, every error as its typed variant, both streams read to the end, and mid-stream
//! errors surfacing as the SDK's stream errors.

mod common;

use std::time::Duration;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
use aws_sdk_bedrockruntime::operation::RequestId;
use aws_sdk_bedrockruntime::operation::converse::ConverseError;
use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError;
use aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::error::{ConverseStreamOutputError, ResponseStreamError};
use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, CachePointBlock, CachePointType, ContentBlock, ConversationRole,
    ConverseStreamOutput, ConverseTokensRequest, CountTokensInput, GuardrailConfiguration,
    GuardrailContentBlock, GuardrailContentSource, GuardrailTextBlock, GuardrailTrace,
    InferenceConfiguration, InvokeModelTokensRequest, Message, ResponseStream, StopReason,
    SystemContentBlock, Tool, ToolChoice, ToolConfiguration, ToolInputSchema, ToolResultBlock,
    ToolResultContentBlock, ToolSpecification, ToolUseBlock,
};
use common::{HAIKU3, Local, NOVA_LITE, SONNET, doc, to_json};
use serde_json::{Value, json};

fn user(text: &str) -> Message {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(text.into()))
        .build()
        .unwrap()
}

fn weather_tool() -> ToolConfiguration {
    ToolConfiguration::builder()
        .tools(Tool::ToolSpec(
            ToolSpecification::builder()
                .name("get_weather")
                .description("Weather for a city")
                .input_schema(ToolInputSchema::Json(doc(&json!({
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["c", "f"]}},
                    "required": ["city", "days", "unit"],
                }))))
                .build()
                .unwrap(),
        ))
        .build()
        .unwrap()
}

async fn converse_text(
    c: &Client,
    model: &str,
    text: &str,
) -> aws_sdk_bedrockruntime::operation::converse::ConverseOutput {
    c.converse()
        .model_id(model)
        .messages(user(text))
        .send()
        .await
        .expect("converse")
}

fn output_text(out: &aws_sdk_bedrockruntime::operation::converse::ConverseOutput) -> String {
    out.output()
        .and_then(|o| o.as_message().ok())
        .map(|m| {
            m.content()
                .iter()
                .filter_map(|b| b.as_text().ok().cloned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn converse_is_deterministic_with_usage_and_request_id() {
    let local = Local::start(&[]);
    let c = local.client();
    let a = converse_text(&c, SONNET, "Tell me something").await;
    let b = converse_text(&c, SONNET, "Tell me something").await;
    assert!(!output_text(&a).is_empty());
    assert_eq!(output_text(&a), output_text(&b));
    assert_eq!(a.stop_reason(), &StopReason::EndTurn);
    let u = a.usage().unwrap();
    assert!(u.input_tokens() > 0 && u.output_tokens() >= 30);
    assert_eq!(u.total_tokens(), u.input_tokens() + u.output_tokens());
    let rid = a.request_id().expect("request id");
    assert_eq!(rid.len(), 36);
    // Foundation-model and inference-profile ARNs, percent-encoded by the SDK.
    converse_text(
        &c,
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
        "hi",
    )
    .await;
    converse_text(&c, "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0", "hi").await;
    for m in [
        "amazon.titan-text-express-v1",
        "meta.llama3-1-8b-instruct-v1:0",
        "us.meta.llama4-scout-17b-instruct-v1:0",
        "mistral.mistral-large-2402-v1:0",
        "cohere.command-r-plus-v1:0",
        "us.amazon.nova-premier-v1:0",
        HAIKU3,
    ] {
        converse_text(&c, m, "hello").await;
    }
}

#[tokio::test]
async fn converse_honours_max_tokens_stop_sequences_and_length_marker() {
    let local = Local::start(&[]);
    let c = local.client();
    let long = converse_text(&c, NOVA_LITE, "write [[len:200]]").await;
    let out = long.usage().unwrap().output_tokens();
    assert!((200..=203).contains(&out), "{out}");
    let cut = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("write [[len:200]]"))
        .inference_config(InferenceConfiguration::builder().max_tokens(10).build())
        .send()
        .await
        .unwrap();
    assert_eq!(cut.stop_reason(), &StopReason::MaxTokens);
    assert!(cut.usage().unwrap().output_tokens() <= 10);
    let stop = c
        .converse()
        .model_id(SONNET)
        .messages(user("go [[say:HALT]]"))
        .inference_config(
            InferenceConfiguration::builder()
                .stop_sequences("HALT")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stop.stop_reason(), &StopReason::StopSequence);
    assert!(!output_text(&stop).contains("HALT"));
}

#[tokio::test]
async fn converse_tool_use_round_trip_and_reasoning() {
    let local = Local::start(&[]);
    let c = local.client();
    let first = c
        .converse()
        .model_id(SONNET)
        .messages(user("What is the weather? use tool get_weather"))
        .tool_config(weather_tool())
        .send()
        .await
        .unwrap();
    assert_eq!(first.stop_reason(), &StopReason::ToolUse);
    let msg = first.output().unwrap().as_message().unwrap().clone();
    let tu = msg
        .content()
        .iter()
        .find_map(|b| b.as_tool_use().ok())
        .unwrap()
        .clone();
    assert_eq!(tu.name(), "get_weather");
    let input = to_json(tu.input());
    assert!(
        input["city"].is_string() && input["days"].is_i64() && input["unit"] == "c",
        "{input}"
    );
    let result = ToolResultBlock::builder()
        .tool_use_id(tu.tool_use_id())
        .content(ToolResultContentBlock::Text("Sunny, 21C".into()))
        .build()
        .unwrap();
    let second = c
        .converse()
        .model_id(SONNET)
        .messages(user("What is the weather? use tool get_weather"))
        .messages(msg)
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::ToolResult(result))
                .build()
                .unwrap(),
        )
        .tool_config(weather_tool())
        .send()
        .await
        .unwrap();
    assert_eq!(second.stop_reason(), &StopReason::EndTurn);
    assert!(output_text(&second).contains("Sunny, 21C"));
    // toolChoice any forces a tool call without a marker.
    let mut tc = weather_tool();
    tc.tool_choice = Some(ToolChoice::Any(AnyToolChoice::builder().build()));
    let forced = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("hi"))
        .tool_config(tc)
        .send()
        .await
        .unwrap();
    assert_eq!(forced.stop_reason(), &StopReason::ToolUse);
    // Reasoning content when thinking is enabled.
    let r = c
        .converse()
        .model_id(SONNET)
        .messages(user("think"))
        .inference_config(InferenceConfiguration::builder().max_tokens(4000).build())
        .additional_model_request_fields(doc(
            &json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}),
        ))
        .send()
        .await
        .unwrap();
    let blocks = r.output().unwrap().as_message().unwrap().content().to_vec();
    let rc = blocks[0]
        .as_reasoning_content()
        .unwrap()
        .as_reasoning_text()
        .unwrap();
    assert!(!rc.text().is_empty() && rc.signature().is_some());
}

#[tokio::test]
async fn converse_stream_reads_to_the_end() {
    let local = Local::start(&[]);
    let c = local.client();
    let mut out = c
        .converse_stream()
        .model_id(SONNET)
        .messages(user("stream please"))
        .send()
        .await
        .unwrap();
    let mut kinds = Vec::new();
    let mut text = String::new();
    let mut usage = None;
    while let Some(ev) = out.stream.recv().await.unwrap() {
        match &ev {
            ConverseStreamOutput::MessageStart(_) => kinds.push("start"),
            ConverseStreamOutput::ContentBlockDelta(d) => {
                kinds.push("delta");
                text.push_str(d.delta().unwrap().as_text().unwrap());
            }
            ConverseStreamOutput::ContentBlockStop(_) => kinds.push("stop"),
            ConverseStreamOutput::MessageStop(s) => {
                assert_eq!(s.stop_reason(), &StopReason::EndTurn);
                kinds.push("mstop")
            }
            ConverseStreamOutput::Metadata(m) => {
                usage = m.usage().cloned();
                kinds.push("meta")
            }
            _ => kinds.push("other"),
        }
    }
    assert_eq!(kinds.first(), Some(&"start"));
    assert_eq!(&kinds[kinds.len() - 3..], &["stop", "mstop", "meta"]);
    // Same request unstreamed gives the same text and usage.
    let plain = converse_text(&c, SONNET, "stream please").await;
    assert_eq!(output_text(&plain), text);
    assert_eq!(
        usage.unwrap().output_tokens(),
        plain.usage().unwrap().output_tokens()
    );

    // Tool use in a stream: contentBlockStart with the tool, input as partial JSON.
    let mut out = c
        .converse_stream()
        .model_id(SONNET)
        .messages(user("use tool get_weather"))
        .tool_config(weather_tool())
        .send()
        .await
        .unwrap();
    let (mut started, mut input, mut stop) = (None, String::new(), None);
    while let Some(ev) = out.stream.recv().await.unwrap() {
        match ev {
            ConverseStreamOutput::ContentBlockStart(s) => {
                started = Some(s.start().unwrap().as_tool_use().unwrap().name().to_string())
            }
            ConverseStreamOutput::ContentBlockDelta(d) => {
                if let Ok(t) = d.delta().unwrap().as_tool_use() {
                    input.push_str(t.input());
                }
            }
            ConverseStreamOutput::MessageStop(s) => stop = Some(s.stop_reason().clone()),
            _ => {}
        }
    }
    assert_eq!(started.as_deref(), Some("get_weather"));
    assert_eq!(serde_json::from_str::<Value>(&input).unwrap()["unit"], "c");
    assert_eq!(stop, Some(StopReason::ToolUse));
}

#[tokio::test]
async fn stream_errors_mid_way_surface_as_stream_errors() {
    let local = Local::start(&[]);
    let c = local.client();
    let mut out = c
        .converse_stream()
        .model_id(SONNET)
        .messages(user("x [[fault:stream_error_after=3]]"))
        .send()
        .await
        .unwrap();
    let mut events = 0;
    let err = loop {
        match out.stream.recv().await {
            Ok(Some(_)) => events += 1,
            Ok(None) => panic!("stream ended without error"),
            Err(e) => break e,
        }
    };
    assert_eq!(events, 3);
    assert!(matches!(
        err.into_service_error(),
        ConverseStreamOutputError::ModelStreamErrorException(_)
    ));

    let mut out = c
        .converse_stream()
        .model_id(SONNET)
        .messages(user("x [[fault:stream_throttle_after=2]]"))
        .send()
        .await
        .unwrap();
    let err = loop {
        match out.stream.recv().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert!(matches!(
        err.into_service_error(),
        ConverseStreamOutputError::ThrottlingException(_)
    ));

    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
        "messages": [{"role": "user", "content": "x [[fault:stream_error_after=2]]"}]});
    let mut out = c
        .invoke_model_with_response_stream()
        .model_id(SONNET)
        .body(Blob::new(body.to_string()))
        .send()
        .await
        .unwrap();
    let err = loop {
        match out.body.recv().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert!(matches!(
        err.into_service_error(),
        ResponseStreamError::ModelStreamErrorException(_)
    ));
    // A fault before the stream starts is a plain HTTP error.
    let e = c
        .converse_stream()
        .model_id(SONNET)
        .messages(user("[[fault:throttle]]"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        e.into_service_error(),
        ConverseStreamError::ThrottlingException(_)
    ));
}

#[tokio::test]
async fn every_fault_marker_arrives_as_its_typed_error() {
    let local = Local::start(&[]);
    let c = local.client();
    type Check = fn(&ConverseError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("throttle", |e| {
            matches!(e, ConverseError::ThrottlingException(_))
        }),
        ("timeout", |e| {
            matches!(e, ConverseError::ModelTimeoutException(_))
        }),
        (
            "model_error",
            |e| matches!(e, ConverseError::ModelErrorException(m) if m.original_status_code() == Some(500) && m.resource_name().is_some()),
        ),
        ("not_ready", |e| {
            matches!(e, ConverseError::ModelNotReadyException(_))
        }),
        ("unavailable", |e| {
            matches!(e, ConverseError::ServiceUnavailableException(_))
        }),
        ("internal", |e| {
            matches!(e, ConverseError::InternalServerException(_))
        }),
        ("access_denied", |e| {
            matches!(e, ConverseError::AccessDeniedException(_))
        }),
    ];
    for (marker, check) in cases {
        let e = c
            .converse()
            .model_id(SONNET)
            .messages(user(&format!("hi [[fault:{marker}]]")))
            .send()
            .await
            .unwrap_err();
        let raw_status = e.raw_response().map(|r| r.status().as_u16());
        let se = e.into_service_error();
        assert!(check(&se), "{marker}: {se:?}");
        let expected = match *marker {
            "throttle" | "not_ready" => 429,
            "timeout" => 408,
            "model_error" => 424,
            "unavailable" => 503,
            "internal" => 500,
            _ => 403,
        };
        assert_eq!(raw_status, Some(expected), "{marker}");
    }
    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
        "messages": [{"role": "user", "content": "[[fault:quota]]"}]});
    let e = c
        .invoke_model()
        .model_id(SONNET)
        .body(Blob::new(body.to_string()))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        e.into_service_error(),
        InvokeModelError::ServiceQuotaExceededException(_)
    ));
    let stats = local.stats();
    assert_eq!(stats["faults_injected"], 8);
    assert_eq!(stats["requests"]["Converse"], 7);
}

#[tokio::test]
async fn model_access_and_validation_errors() {
    let local = Local::start(&[]);
    let c = local.client();
    let msg = |e: ConverseError| -> String {
        assert!(matches!(e, ConverseError::ValidationException(_)), "{e:?}");
        e.message().unwrap_or_default().to_string()
    };
    let e = c
        .converse()
        .model_id("anthropic.claude-sonnet-4-5-20250929-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        msg(e.into_service_error()),
        "Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn\u{2019}t supported. Retry your request with the ID or ARN of an inference profile that contains this model."
    );
    let e = c
        .converse()
        .model_id("acme.nope-v1")
        .messages(user("hi"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        msg(e.into_service_error()),
        "The provided model identifier is invalid."
    );
    let e = c
        .converse()
        .model_id("amazon.titan-embed-text-v2:0")
        .messages(user("hi"))
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).starts_with("This action doesn't support the model"));
    let e = c
        .converse()
        .model_id("amazon.titan-text-express-v1")
        .messages(user("hi"))
        .tool_config(weather_tool())
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("doesn't support tool use"));
    let e = c
        .converse_stream()
        .model_id("meta.llama3-1-70b-instruct-v1:0")
        .messages(user("hi"))
        .tool_config(weather_tool())
        .send()
        .await
        .unwrap_err();
    match e.into_service_error() {
        ConverseStreamError::ValidationException(v) => {
            assert_eq!(
                v.message(),
                Some("This model doesn't support tool use in streaming mode.")
            )
        }
        other => panic!("{other:?}"),
    }
    let assistant = Message::builder()
        .role(ConversationRole::Assistant)
        .content(ContentBlock::Text("x".into()))
        .build()
        .unwrap();
    let e = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(assistant)
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("must start with a user message"));
    let e = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("a"))
        .messages(user("b"))
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("alternate between user and assistant"));
    let e = c.converse().model_id(NOVA_LITE).send().await.unwrap_err();
    assert!(msg(e.into_service_error()).contains("at least one message"));
    let e = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("a"))
        .inference_config(
            InferenceConfiguration::builder()
                .max_tokens(100_000)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("exceeds the model limit of 10000"));
    let e = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("a"))
        .inference_config(InferenceConfiguration::builder().temperature(1.5).build())
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("inferenceConfig.temperature"));
    let e = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("a"))
        .inference_config(InferenceConfiguration::builder().top_p(-0.5).build())
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("inferenceConfig.topP"));
    let bad_tool = ToolConfiguration::builder()
        .tools(Tool::ToolSpec(
            ToolSpecification::builder()
                .name("t")
                .input_schema(ToolInputSchema::Json(doc(&json!("nope"))))
                .build()
                .unwrap(),
        ))
        .build()
        .unwrap();
    let e = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("a"))
        .tool_config(bad_tool)
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("must be a JSON object"));
    let orphan = ToolResultBlock::builder()
        .tool_use_id("tooluse_missing")
        .content(ToolResultContentBlock::Text("r".into()))
        .build()
        .unwrap();
    let e = c
        .converse()
        .model_id(NOVA_LITE)
        .messages(user("a"))
        .messages(
            Message::builder()
                .role(ConversationRole::Assistant)
                .content(ContentBlock::Text("ok".into()))
                .build()
                .unwrap(),
        )
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::ToolResult(orphan))
                .build()
                .unwrap(),
        )
        .tool_config(weather_tool())
        .send()
        .await
        .unwrap_err();
    assert!(msg(e.into_service_error()).contains("does not match any toolUse"));
    // Unknown content block (raw request: the SDK cannot send one).
    let r = local.raw(
        "POST",
        "/model/amazon.nova-lite-v1%3A0/converse",
        &[("Authorization", "Bearer k")],
        br#"{"messages":[{"role":"user","content":[{"hologram":{}}]}]}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["x-amzn-errortype"], "ValidationException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unknown member \"hologram\"")
    );
    // A tool use we answered but whose toolUse came from us: ok (sanity).
    let _ = ToolUseBlock::builder();
}

#[tokio::test]
async fn invoke_model_native_bodies_per_family() {
    let local = Local::start(&[]);
    let c = local.client();
    let cases = [
        (
            SONNET,
            json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "system": "be brief",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}),
            "/content/0/text",
        ),
        (
            NOVA_LITE,
            json!({"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"max_new_tokens": 50}}),
            "/output/message/content/0/text",
        ),
        (
            "amazon.titan-text-express-v1",
            json!({"inputText": "hi", "textGenerationConfig": {"maxTokenCount": 50}}),
            "/results/0/outputText",
        ),
        (
            "meta.llama3-1-8b-instruct-v1:0",
            json!({"prompt": "<|begin_of_text|>hi", "max_gen_len": 50}),
            "/generation",
        ),
        (
            "mistral.mistral-7b-instruct-v0:2",
            json!({"prompt": "<s>[INST] hi [/INST]", "max_tokens": 50}),
            "/outputs/0/text",
        ),
        (
            "mistral.mistral-large-2402-v1:0",
            json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}),
            "/choices/0/message/content",
        ),
        (
            "cohere.command-r-v1:0",
            json!({"message": "hi", "max_tokens": 50}),
            "/text",
        ),
    ];
    for (model, body, text_ptr) in cases {
        let out = c
            .invoke_model()
            .model_id(model)
            .content_type("application/json")
            .body(Blob::new(body.to_string()))
            .send()
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(out.body().as_ref()).unwrap();
        assert!(
            v.pointer(text_ptr)
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty()),
            "{model}: {v}"
        );
    }
    // Anthropic response shape, and headers carrying the token counts.
    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let r = local.raw(
        "POST",
        &format!("/model/{}/invoke", SONNET.replace(':', "%3A")),
        &[("Authorization", &common::sigv4_header())],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(
        r.headers["x-amzn-bedrock-output-token-count"],
        v["usage"]["output_tokens"].to_string()
    );
    assert_eq!(
        r.headers["x-amzn-bedrock-input-token-count"],
        v["usage"]["input_tokens"].to_string()
    );
    assert!(r.headers.contains_key("x-amzn-bedrock-invocation-latency"));
    assert_eq!(r.headers["x-amzn-requestid"].len(), 36);
    // Embeddings.
    let out = c
        .invoke_model()
        .model_id("amazon.titan-embed-text-v2:0")
        .body(Blob::new(
            json!({"inputText": "hello world", "dimensions": 256}).to_string(),
        ))
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(out.body().as_ref()).unwrap();
    assert_eq!(v["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(v["inputTextTokenCount"], 4);
    let out = c
        .invoke_model()
        .model_id("cohere.embed-english-v3")
        .body(Blob::new(
            json!({"texts": ["a", "b"], "input_type": "search_document"}).to_string(),
        ))
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(out.body().as_ref()).unwrap();
    assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
    // Native validation.
    let e = c
        .invoke_model()
        .model_id(SONNET)
        .body(Blob::new(
            json!({"anthropic_version": "bedrock-2023-05-31", "messages": []}).to_string(),
        ))
        .send()
        .await
        .unwrap_err();
    match e.into_service_error() {
        InvokeModelError::ValidationException(v) => assert_eq!(
            v.message(),
            Some(
                "Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again."
            )
        ),
        other => panic!("{other:?}"),
    }
    let e = c
        .invoke_model()
        .model_id("amazon.titan-text-lite-v1")
        .body(Blob::new(json!({"prompt": "x"}).to_string()))
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error()
            .message()
            .unwrap()
            .contains("extraneous key [prompt]")
    );
}

async fn collect_chunks(c: &Client, model: &str, body: Value) -> Vec<Value> {
    let mut out = c
        .invoke_model_with_response_stream()
        .model_id(model)
        .body(Blob::new(body.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_type(), "application/json");
    let mut chunks = Vec::new();
    while let Some(ev) = out.body.recv().await.unwrap() {
        if let ResponseStream::Chunk(p) = ev {
            chunks.push(serde_json::from_slice(p.bytes().unwrap().as_ref()).unwrap());
        }
    }
    chunks
}

#[tokio::test]
async fn invoke_model_with_response_stream_per_family() {
    let local = Local::start(&[]);
    let c = local.client();
    let chunks = collect_chunks(
        &c,
        SONNET,
        json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let types: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types[0], "message_start");
    assert_eq!(
        &types[types.len() - 2..],
        &["message_delta", "message_stop"]
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["delta"]["type"] == "thinking_delta")
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["delta"]["type"] == "signature_delta")
    );
    assert!(chunks.iter().any(|c| c["delta"]["type"] == "text_delta"));
    let metrics = &chunks.last().unwrap()["amazon-bedrock-invocationMetrics"];
    assert!(metrics["inputTokenCount"].as_u64().unwrap() > 0);
    assert_eq!(
        metrics["outputTokenCount"],
        chunks[chunks.len() - 2]["usage"]["output_tokens"]
    );
    // Tool use in the Anthropic stream: input_json_delta pieces.
    let chunks = collect_chunks(
        &c,
        SONNET,
        json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400, "tool_choice": {"type": "any"},
            "tools": [{"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}],
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let json: String = chunks
        .iter()
        .filter_map(|c| c["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        json!({"q": "sample q"})
    );
    assert_eq!(chunks[chunks.len() - 2]["delta"]["stop_reason"], "tool_use");
    // Nova: Converse-like events plus metrics.
    let chunks = collect_chunks(
        &c,
        NOVA_LITE,
        json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
    )
    .await;
    assert!(chunks[0].get("messageStart").is_some());
    assert!(
        chunks.last().unwrap()["metadata"]["usage"]["outputTokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        chunks
            .last()
            .unwrap()
            .get("amazon-bedrock-invocationMetrics")
            .is_some()
    );
    // Text families.
    for (model, body, field) in [
        (
            "amazon.titan-text-premier-v1:0",
            json!({"inputText": "hi"}),
            "outputText",
        ),
        (
            "us.meta.llama3-2-3b-instruct-v1:0",
            json!({"prompt": "hi"}),
            "generation",
        ),
        ("cohere.command-r-v1:0", json!({"message": "hi"}), "text"),
    ] {
        let chunks = collect_chunks(&c, model, body).await;
        let text: String = chunks.iter().filter_map(|c| c[field].as_str()).collect();
        assert!(!text.is_empty(), "{model}");
        assert!(
            chunks
                .last()
                .unwrap()
                .get("amazon-bedrock-invocationMetrics")
                .is_some(),
            "{model}"
        );
    }
}

#[tokio::test]
async fn count_tokens_agrees_with_usage() {
    let local = Local::start(&[]);
    let c = local.client();
    let bare = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    let prompt = "Count these tokens, please: internationalization!";
    let used = c
        .converse()
        .model_id(SONNET)
        .system(SystemContentBlock::Text("You are terse.".into()))
        .messages(user(prompt))
        .send()
        .await
        .unwrap();
    let counted = c
        .count_tokens()
        .model_id(bare)
        .input(CountTokensInput::Converse(
            ConverseTokensRequest::builder()
                .system(SystemContentBlock::Text("You are terse.".into()))
                .messages(user(prompt))
                .build(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(counted.input_tokens(), used.usage().unwrap().input_tokens());
    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "system": "You are terse.",
        "messages": [{"role": "user", "content": prompt}]});
    let invoked = c
        .invoke_model()
        .model_id(SONNET)
        .body(Blob::new(body.to_string()))
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(invoked.body().as_ref()).unwrap();
    let counted2 = c
        .count_tokens()
        .model_id(bare)
        .input(CountTokensInput::InvokeModel(
            InvokeModelTokensRequest::builder()
                .body(Blob::new(body.to_string()))
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        i64::from(counted2.input_tokens()),
        v["usage"]["input_tokens"].as_i64().unwrap()
    );
    assert_eq!(counted2.input_tokens(), counted.input_tokens());
    let conv =
        CountTokensInput::Converse(ConverseTokensRequest::builder().messages(user("x")).build());
    let e = c
        .count_tokens()
        .model_id(SONNET)
        .input(conv.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("ValidationException"));
    let e = c
        .count_tokens()
        .model_id(NOVA_LITE)
        .input(conv)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.into_service_error().message(),
        Some("The provided model doesn't support counting tokens.")
    );
}

#[tokio::test]
async fn prompt_cache_write_then_read() {
    let local = Local::start(&[]);
    let c = local.client();
    let call = || {
        c.converse()
            .model_id(SONNET)
            .system(SystemContentBlock::Text(
                "A long shared system prompt with many words in it.".into(),
            ))
            .system(SystemContentBlock::CachePoint(
                CachePointBlock::builder()
                    .r#type(CachePointType::Default)
                    .build()
                    .unwrap(),
            ))
            .messages(user("question"))
            .send()
    };
    let first = call().await.unwrap();
    let u1 = first.usage().unwrap();
    assert!(u1.cache_write_input_tokens().unwrap() > 0);
    assert_eq!(u1.cache_read_input_tokens(), Some(0));
    let second = call().await.unwrap();
    let u2 = second.usage().unwrap();
    assert_eq!(u2.cache_read_input_tokens(), u1.cache_write_input_tokens());
    assert_eq!(u2.cache_write_input_tokens(), Some(0));
    assert_eq!(u1.input_tokens(), u2.input_tokens());
    local.control("POST", "/_local/reset", "");
    let third = call().await.unwrap();
    assert!(third.usage().unwrap().cache_write_input_tokens().unwrap() > 0);
}

#[tokio::test]
async fn guardrails_on_converse_stream_invoke_and_apply() {
    let local = Local::start(&[]);
    let c = local.client();
    let gc = GuardrailConfiguration::builder()
        .guardrail_identifier("demo")
        .guardrail_version("1")
        .trace(GuardrailTrace::Enabled)
        .build();
    // Input blocked by a denied word.
    let out = c
        .converse()
        .model_id(SONNET)
        .messages(user("this is forbidden"))
        .guardrail_config(gc.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.stop_reason(), &StopReason::GuardrailIntervened);
    assert_eq!(
        output_text(&out),
        "Sorry, the model cannot answer this question."
    );
    let trace = out.trace().unwrap().guardrail().unwrap();
    let words = trace.input_assessment().unwrap()["demo"]
        .word_policy()
        .unwrap()
        .custom_words();
    assert_eq!(words[0].r#match(), "forbidden");
    // Output blocked: the say marker makes the model write the word.
    let out = c
        .converse()
        .model_id(SONNET)
        .messages(user("hello [[say:forbidden]]"))
        .guardrail_config(gc.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        output_text(&out),
        "Sorry, the model cannot provide this response."
    );
    assert!(
        out.trace()
            .unwrap()
            .guardrail()
            .unwrap()
            .output_assessments()
            .unwrap()["demo"][0]
            .word_policy()
            .is_some()
    );
    // Mid-stream intervention: some deltas, then the blocked message.
    let sgc = aws_sdk_bedrockruntime::types::GuardrailStreamConfiguration::builder()
        .guardrail_identifier("demo")
        .guardrail_version("DRAFT")
        .build();
    let mut s = c
        .converse_stream()
        .model_id(SONNET)
        .messages(user("hello [[say:forbidden]]"))
        .guardrail_config(sgc)
        .send()
        .await
        .unwrap();
    let (mut deltas, mut stop) = (Vec::new(), None);
    while let Some(ev) = s.stream.recv().await.unwrap() {
        match ev {
            ConverseStreamOutput::ContentBlockDelta(d) => {
                deltas.push(d.delta().unwrap().as_text().unwrap().clone())
            }
            ConverseStreamOutput::MessageStop(m) => stop = Some(m.stop_reason().clone()),
            _ => {}
        }
    }
    assert!(deltas.len() > 2);
    assert_eq!(
        deltas.last().unwrap(),
        "Sorry, the model cannot provide this response."
    );
    assert!(!deltas.concat().contains("forbidden"));
    assert_eq!(stop, Some(StopReason::GuardrailIntervened));
    // InvokeModel with guardrail headers: the Anthropic body carries the action.
    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "a stock tip please"}]});
    let out = c
        .invoke_model()
        .model_id(SONNET)
        .guardrail_identifier("demo")
        .guardrail_version("1")
        .trace(aws_sdk_bedrockruntime::types::Trace::Enabled)
        .body(Blob::new(body.to_string()))
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(out.body().as_ref()).unwrap();
    assert_eq!(v["amazon-bedrock-guardrailAction"], "INTERVENED");
    assert_eq!(
        v["content"][0]["text"],
        "Sorry, the model cannot answer this question."
    );
    assert_eq!(
        v["amazon-bedrock-trace"]["guardrail"]["inputAssessment"]["demo"]["topicPolicy"]["topics"]
            [0]["name"],
        "Investment advice"
    );
    // ApplyGuardrail: anonymize, block, none; unknown guardrail.
    let apply = |text: &str| {
        c.apply_guardrail()
            .guardrail_identifier("demo")
            .guardrail_version("1")
            .source(GuardrailContentSource::Input)
            .content(GuardrailContentBlock::Text(
                GuardrailTextBlock::builder().text(text).build().unwrap(),
            ))
            .send()
    };
    let a = apply("mail me at jane@example.com").await.unwrap();
    assert_eq!(a.action().as_str(), "GUARDRAIL_INTERVENED");
    assert_eq!(a.outputs()[0].text(), Some("mail me at {EMAIL}"));
    let pii = &a.assessments()[0]
        .sensitive_information_policy()
        .unwrap()
        .pii_entities()[0];
    assert_eq!(pii.r#type().as_str(), "EMAIL");
    assert_eq!(pii.action().as_str(), "ANONYMIZED");
    let b = apply("my ssn is 123-45-6789").await.unwrap();
    assert_eq!(
        b.outputs()[0].text(),
        Some("Sorry, the model cannot answer this question.")
    );
    let n = apply("hello there").await.unwrap();
    assert_eq!(n.action().as_str(), "NONE");
    assert!(n.outputs().is_empty());
    assert!(n.usage().unwrap().word_policy_units() > 0);
    let e = c
        .apply_guardrail()
        .guardrail_identifier("nope")
        .guardrail_version("1")
        .source(GuardrailContentSource::Output)
        .content(GuardrailContentBlock::Text(
            GuardrailTextBlock::builder().text("x").build().unwrap(),
        ))
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn auth_is_checked_like_aws() {
    let local = Local::start(&[]);
    let body = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
    let r = local.raw("POST", "/model/amazon.nova-lite-v1%3A0/converse", &[], body);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.headers["x-amzn-errortype"],
        "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/"
    );
    assert_eq!(
        r.json(),
        json!({"Message": "Authorization header is missing"})
    );
    assert_eq!(r.headers["x-amzn-requestid"].len(), 36);
    let r = local.raw(
        "POST",
        "/model/amazon.nova-lite-v1%3A0/converse",
        &[("Authorization", "AWS4-HMAC-SHA256 garbage")],
        body,
    );
    assert_eq!(r.status, 403);
    assert!(r.headers["x-amzn-errortype"].starts_with("UnrecognizedClientException"));
    assert_eq!(
        r.json()["message"],
        "The security token included in the request is invalid."
    );
    let r = local.raw(
        "POST",
        "/model/amazon.nova-lite-v1%3A0/converse",
        &[("Authorization", "Bearer my-api-key")],
        body,
    );
    assert_eq!(r.status, 200);
    let r = local.raw(
        "POST",
        "/model/amazon.nova-lite-v1%3A0/converse",
        &[("Authorization", &common::sigv4_header())],
        body,
    );
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn control_api_arms_faults_and_counts() {
    let local = Local::start(&[]);
    let c = local.client();
    assert_eq!(local.control("GET", "/_local/health", "")["status"], "ok");
    local.control(
        "POST",
        "/_local/faults",
        r#"{"fault": "not_ready", "count": 2, "operation": "Converse"}"#,
    );
    for _ in 0..2 {
        let e = c
            .converse()
            .model_id(NOVA_LITE)
            .messages(user("hi"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(
            e.into_service_error(),
            ConverseError::ModelNotReadyException(_)
        ));
    }
    converse_text(&c, NOVA_LITE, "hi").await;
    local.control(
        "POST",
        "/_local/faults",
        r#"{"fault": "throttle", "count": 5, "model": "amazon.nova-pro-v1:0"}"#,
    );
    converse_text(&c, NOVA_LITE, "hi").await;
    local.control("DELETE", "/_local/faults", "");
    converse_text(&c, "amazon.nova-pro-v1:0", "hi").await;
    let s = local.stats();
    assert_eq!(s["requests"]["Converse"], 5);
    assert_eq!(s["faults_injected"], 2);
    local.control("POST", "/_local/reset", "");
    assert_eq!(local.stats()["requests"]["Converse"], 0);
}

#[tokio::test]
async fn seeded_random_throttles_are_reproducible() {
    let run = || async {
        let local = Local::start(&["--fault-rate", "0.3", "--seed", "42"]);
        let c = local.client();
        let mut pattern = Vec::new();
        for _ in 0..20 {
            pattern.push(
                c.converse()
                    .model_id(NOVA_LITE)
                    .messages(user("hi"))
                    .send()
                    .await
                    .is_err(),
            );
        }
        pattern
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
}

#[tokio::test]
async fn cancelled_stream_is_counted_and_stopped() {
    let local = Local::start(&["--tokens-per-sec", "200"]);
    let c = local.client();
    let mut out = c
        .converse_stream()
        .model_id(NOVA_LITE)
        .messages(user("long [[len:2000]]"))
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        out.stream.recv().await.unwrap().unwrap();
    }
    assert_eq!(local.stats()["active_streams"], 1);
    drop(out);
    let mut stats = local.stats();
    for _ in 0..100 {
        if stats["streams_cancelled"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = local.stats();
    }
    assert_eq!(stats["streams_cancelled"], 1, "{stats}");
    assert_eq!(stats["active_streams"], 0);
    assert_eq!(stats["streams_started"], 1);
}

#[tokio::test]
async fn timing_flags_delay_responses() {
    let local = Local::start(&[
        "--latency-ms",
        "150",
        "--ttft-ms",
        "100",
        "--tokens-per-sec",
        "100",
    ]);
    let c = local.client();
    let t = std::time::Instant::now();
    let out = converse_text(&c, NOVA_LITE, "hi [[len:20]]").await;
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(out.metrics().unwrap().latency_ms() >= 400);
    let t = std::time::Instant::now();
    let mut s = c
        .converse_stream()
        .model_id(NOVA_LITE)
        .messages(user("hi [[len:20]]"))
        .send()
        .await
        .unwrap();
    s.stream.recv().await.unwrap().unwrap(); // messageStart
    let first_start = t.elapsed();
    s.stream.recv().await.unwrap().unwrap(); // first delta, after ttft
    eprintln!("first_start {first_start:?} delta {:?}", t.elapsed());
    assert!(t.elapsed() >= first_start + Duration::from_millis(90));
    while s.stream.recv().await.unwrap().is_some() {}
    assert!(t.elapsed() >= Duration::from_millis(400));
}

#[test]
fn help_and_sigterm() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-local"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--latency-ms",
        "--ttft-ms",
        "--tokens-per-sec",
        "--guardrails",
        "--fault-rate",
        "--seed",
        "--async-complete-ms",
        "--region",
        "--log-requests",
        "BEDROCK_LOCAL_PORT",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
    let mut local = Local::start(&[]);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &local.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(local.wait().success());
}

/// A stand-in S3 for the async test: records every PUT (path-style `/bucket/key`).
async fn fake_s3() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::extract::Request;
    let puts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = puts.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let recorded = recorded.clone();
        async move {
            if req.method() == axum::http::Method::PUT {
                recorded.lock().unwrap().push(req.uri().path().to_string());
            }
            ([("ETag", "\"0123\"")], "")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, puts)
}

#[tokio::test]
async fn async_invoke_writes_s3_and_lists() {
    use aws_sdk_bedrockruntime::types::{
        AsyncInvokeOutputDataConfig, AsyncInvokeS3OutputDataConfig, AsyncInvokeStatus, SortOrder,
    };
    let (s3, puts) = fake_s3().await;
    let local = Local::start_with_env(
        &["--async-complete-ms", "200"],
        &[
            ("AWS_ENDPOINT_URL_S3", &s3),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    let c = local.client();
    let out_cfg = || {
        AsyncInvokeOutputDataConfig::S3OutputDataConfig(
            AsyncInvokeS3OutputDataConfig::builder()
                .s3_uri("s3://videos/out")
                .build()
                .unwrap(),
        )
    };
    let input =
        |text: &str| doc(&json!({"taskType": "TEXT_VIDEO", "textToVideoParams": {"text": text}}));
    let start = |text: &str, token: Option<&str>| {
        c.start_async_invoke()
            .model_id("amazon.nova-reel-v1:0")
            .model_input(input(text))
            .output_data_config(out_cfg())
            .set_client_request_token(token.map(str::to_string))
            .send()
    };
    let a = start("a cat", Some("tok-1")).await.unwrap();
    let arn = a.invocation_arn().to_string();
    let re =
        regex::Regex::new(r"^arn:aws:bedrock:us-east-1:123456789012:async-invoke/[a-z0-9]{12}$")
            .unwrap();
    assert!(re.is_match(&arn), "{arn}");
    assert_eq!(
        start("a cat", Some("tok-1"))
            .await
            .unwrap()
            .invocation_arn(),
        arn
    );
    let failing = start("boom [[fault:async_fail]]", None)
        .await
        .unwrap()
        .invocation_arn()
        .to_string();
    let g = c
        .get_async_invoke()
        .invocation_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), &AsyncInvokeStatus::InProgress);
    assert_eq!(g.client_request_token(), Some("tok-1"));
    assert_eq!(
        g.model_arn(),
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-reel-v1:0"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let g = c
        .get_async_invoke()
        .invocation_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        g.status(),
        &AsyncInvokeStatus::Completed,
        "{:?}",
        g.failure_message()
    );
    assert!(g.end_time().is_some());
    let id = arn.rsplit('/').next().unwrap();
    let mut written = puts.lock().unwrap().clone();
    written.sort();
    assert_eq!(
        written,
        vec![
            format!("/videos/out/{id}/manifest.json"),
            format!("/videos/out/{id}/output.mp4")
        ]
    );
    let f = c
        .get_async_invoke()
        .invocation_arn(&failing)
        .send()
        .await
        .unwrap();
    assert_eq!(f.status(), &AsyncInvokeStatus::Failed);
    assert!(f.failure_message().is_some());
    // List: filter, sort, paginate.
    let all = c
        .list_async_invokes()
        .sort_order(SortOrder::Ascending)
        .send()
        .await
        .unwrap();
    assert_eq!(all.async_invoke_summaries().len(), 2);
    assert_eq!(all.async_invoke_summaries()[0].invocation_arn(), arn);
    let done = c
        .list_async_invokes()
        .status_equals(AsyncInvokeStatus::Completed)
        .send()
        .await
        .unwrap();
    assert_eq!(done.async_invoke_summaries().len(), 1);
    let page1 = c.list_async_invokes().max_results(1).send().await.unwrap();
    assert_eq!(page1.async_invoke_summaries().len(), 1);
    let token = page1.next_token().unwrap();
    let page2 = c
        .list_async_invokes()
        .max_results(1)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(page2.async_invoke_summaries().len(), 1);
    assert!(page2.next_token().is_none());
    assert_ne!(
        page1.async_invoke_summaries()[0].invocation_arn(),
        page2.async_invoke_summaries()[0].invocation_arn()
    );
    let future = aws_sdk_bedrockruntime::primitives::DateTime::from_secs(4_000_000_000);
    let none = c
        .list_async_invokes()
        .submit_time_after(future)
        .send()
        .await
        .unwrap();
    assert!(none.async_invoke_summaries().is_empty());
    // Refusals.
    let e = c
        .start_async_invoke()
        .model_id(SONNET)
        .model_input(input("x"))
        .output_data_config(out_cfg())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("ValidationException"));
    let e = c
        .get_async_invoke()
        .invocation_arn("arn:aws:bedrock:us-east-1:123456789012:async-invoke/abcdefabcdef")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("ValidationException"));
}

#[tokio::test]
async fn oversize_body_is_a_validation_exception() {
    let local = Local::start(&[]);
    let mut body = br#"{"inputText": ""#.to_vec();
    body.resize(25_000_010, b'a');
    body.extend_from_slice(br#""}"#);
    let r = local.raw(
        "POST",
        "/model/amazon.titan-text-express-v1/invoke",
        &[("Authorization", "Bearer k")],
        &body,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["x-amzn-errortype"], "ValidationException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("less than or equal to 25000000")
    );
}

#[test]
fn log_requests_names_op_model_status_without_prompt() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-local"))
        .args(["--port", "0"])
        .env("BEDROCK_LOCAL_LOG_REQUESTS", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port: u16 = first.trim().rsplit(':').next().unwrap().parse().unwrap();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::{Read, Write};
    let body = r#"{"messages":[{"role":"user","content":[{"text":"secret prompt"}]}]}"#;
    write!(s, "POST /model/amazon.nova-lite-v1%3A0/converse HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Converse amazon.nova-lite-v1:0 200"), "{log}");
    assert!(!log.contains("secret"));
}
