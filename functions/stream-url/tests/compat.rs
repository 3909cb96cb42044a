//! The OpenAI/Anthropic-compatible routes through the function's router, against `bedrock-local`
//! on a free port: wire formats (OpenAI chunks ending `data: [DONE]`, Anthropic events), errors
//! in each provider's shape, the cost header. The Python tests drive the same routes with the
//! real client libraries.

use std::collections::HashMap;

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use axum::body::Body;
use axum::response::Response;
use gateway_tests::Emulator;
use http_body_util::BodyExt;
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use serde_json::{Value, json};
use tower::ServiceExt;

fn gateway(url: &str) -> Gateway {
    gateway_with(url, &[])
}

fn gateway_with(url: &str, extra: &[(&str, &str)]) -> Gateway {
    let mut vars: HashMap<String, String> =
        HashMap::from([("AWS_REGION".into(), "us-east-1".into())]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_lookup(move |k| vars.get(k).cloned()).expect("config");
    let catalog = Catalog::load(&config).expect("catalog");
    let sdk = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .http_client(inference_core::sdk_http::https_client())
        .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Gateway::new(
        config,
        catalog,
        BedrockClient::from_sdk(aws_sdk_bedrockruntime::Client::from_conf(sdk)),
    )
}

async fn call(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> Response {
    let mut req = http::Request::builder().method(method).uri(path);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    stream_url::router(gw.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .expect("infallible")
}

async fn text(resp: Response) -> String {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn openai_chat_plain_and_streamed() {
    let emu = Emulator::start(&[]);
    let gw = gateway(&emu.url);
    let body = json!({"model": "haiku", "messages": [{"role": "user", "content": "Hello"}]});
    let resp = call(&gw, "POST", "/v1/chat/completions", Some(body.clone())).await;
    assert_eq!(resp.status(), 200);
    let cost: f64 = resp.headers()["x-gateway-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(cost > 0.0);
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let mut streamed = body;
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let resp = call(&gw, "POST", "/v1/chat/completions", Some(streamed)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let body = text(resp).await;
    let frames: Vec<&str> = body.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert!(frames.iter().all(|f| f.starts_with("data: ")), "{frames:?}");
    assert_eq!(frames.last(), Some(&"data: [DONE]"));
    let usage: Value =
        serde_json::from_str(frames[frames.len() - 2].trim_start_matches("data: ")).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn anthropic_messages_stream_events() {
    let emu = Emulator::start(&[]);
    let gw = gateway(&emu.url);
    let body = json!({"model": "haiku", "max_tokens": 100, "stream": true,
                      "messages": [{"role": "user", "content": "Hello"}]});
    let resp = call(&gw, "POST", "/v1/messages", Some(body)).await;
    assert_eq!(resp.status(), 200);
    let body = text(resp).await;
    let names: Vec<&str> = body
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("event: "))
        .map(|f| f.split('\n').next().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    assert!(names.contains(&"content_block_delta"));
}

#[tokio::test]
async fn errors_are_in_the_provider_shape() {
    let emu = Emulator::start(&[]);
    let gw = gateway(&emu.url);
    // Refused parameter: OpenAI shape with `param`.
    let body = json!({"model": "haiku", "messages": [{"role": "user", "content": "x"}], "seed": 1});
    let resp = call(&gw, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(resp.status(), 400);
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    assert_eq!(v["error"]["param"], "seed");
    // Wrong method: the router's gateway-shaped 405, rewritten per provider.
    let resp = call(&gw, "GET", "/v1/chat/completions", None).await;
    assert_eq!(resp.status(), 405);
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "method_not_allowed");
    let resp = call(&gw, "GET", "/v1/messages", None).await;
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    assert_eq!(v["type"], "error");
    // Not a compat path: the gateway's own shape is untouched.
    let resp = call(&gw, "GET", "/converse", None).await;
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    assert_eq!(v["error"]["type"], "method_not_allowed");
    assert!(v["error"]["request_id"].is_string());
    // Unknown model: 404 in Anthropic's shape.
    let body =
        json!({"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    let resp = call(&gw, "POST", "/v1/messages", Some(body)).await;
    assert_eq!(resp.status(), 404);
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    assert_eq!(v["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn embeddings_titan_with_cost() {
    let emu = Emulator::start(&[]);
    let gw = gateway(&emu.url);
    let body = json!({"model": "titan-embed", "input": ["a", "b c"], "dimensions": 512});
    let resp = call(&gw, "POST", "/v1/embeddings", Some(body)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-gateway-cost-usd"));
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["embedding"].as_array().unwrap().len(), 512);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

/// The local filter over the model's tool calls on the OpenAI route: `tool_calls[].function
/// .arguments` come from the Converse answer, filtered before translation (whole and streamed).
#[tokio::test]
async fn openai_tool_call_arguments_are_filtered() {
    let emu = Emulator::start(&[]);
    let gw = gateway_with(&emu.url, &[("GATEWAY_PII_POLICY", "email=mask")]);
    // `\u0040` keeps the prompt free of an address; the model's arguments hold one.
    let prompt = r#"use tool send_mail [[tool_input:{"to":"jane.doe\u0040example.com"}]]"#;
    let tools = json!([{"type": "function", "function": {"name": "send_mail",
        "parameters": {"type": "object", "properties": {"to": {"type": "string"}}}}}]);
    let body = json!({"model": "haiku", "messages": [{"role": "user", "content": prompt}],
        "tools": tools});
    let resp = call(&gw, "POST", "/v1/chat/completions", Some(body.clone())).await;
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_str(&text(resp).await).unwrap();
    let args = v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap_or_else(|| panic!("a tool call: {v}"));
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap()["to"],
        "[EMAIL]"
    );

    let mut streamed = body;
    streamed["stream"] = json!(true);
    let resp = call(&gw, "POST", "/v1/chat/completions", Some(streamed)).await;
    assert_eq!(resp.status(), 200);
    let body = text(resp).await;
    assert!(!body.contains('@'), "{body}");
    let args: String = body
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap()["to"],
        "[EMAIL]"
    );
}

/// A path parameter that is not valid percent-encoded UTF-8 is a 400 JSON error (axum's own
/// rejection is text/plain), on the gateway's routes and in the provider's shape on compat.
#[tokio::test]
async fn bad_path_encoding_is_a_json_400() {
    let gw = gateway("http://127.0.0.1:9");
    for (method, path) in [("POST", "/invoke/%FF"), ("GET", "/v1/models/%FF%FE")] {
        let body = (method == "POST").then(|| json!({"prompt": "x"}));
        let resp = call(&gw, method, path, body).await;
        assert_eq!(resp.status(), 400, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/json", "{path}");
        let v: Value = serde_json::from_str(&text(resp).await).expect("JSON");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("UTF-8"),
            "{v}"
        );
    }
}

/// Every route resolves the requested model once per call: the compat routes hand the
/// resolution they translate with to the pipeline (`CallBody`, `Known`), and the pipeline's own
/// steps (the filter's family, the cache key, the first candidate's admission) reuse it. With
/// the response cache and the local filter on, the paths that used to look the name up again.
#[tokio::test]
async fn each_call_resolves_its_model_once() {
    let emu = Emulator::start(&[]);
    let gw = gateway_with(
        &emu.url,
        &[
            ("GATEWAY_CACHE", "on"),
            ("GATEWAY_PII_POLICY", "email=mask"),
        ],
    );
    let chat = json!({"model": "haiku", "messages": [{"role": "user", "content": "Hello"}]});
    let streamed = |mut b: Value| {
        b["stream"] = json!(true);
        b
    };
    let responses = json!({"model": "haiku", "input": "Hello"});
    let messages = json!({"model": "haiku", "max_tokens": 100,
                          "messages": [{"role": "user", "content": "Hello"}]});
    let native = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                        "messages": [{"role": "user", "content": "Hello"}]});
    let converse = json!({"model": "haiku",
                          "messages": [{"role": "user", "content": [{"text": "Hello"}]}]});
    let calls = [
        ("/v1/chat/completions", chat.clone()),
        ("/v1/chat/completions", streamed(chat)),
        ("/v1/responses", responses.clone()),
        ("/v1/responses", streamed(responses)),
        ("/v1/messages", messages.clone()),
        ("/v1/messages", streamed(messages)),
        (
            "/v1/messages/count_tokens",
            json!({"model": "haiku", "messages": [{"role": "user", "content": "Hello"}]}),
        ),
        (
            "/v1/embeddings",
            json!({"model": "titan-embed", "input": ["a", "b c"]}),
        ),
        ("/converse", converse.clone()),
        ("/invoke/haiku", native),
    ];
    for (path, body) in calls {
        let before = gw.resolutions();
        let resp = call(&gw, "POST", path, Some(body)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let _ = text(resp).await;
        assert_eq!(gw.resolutions() - before, 1, "{path}");
    }
    // `model: "auto"`: the router resolves each configured model to score it, and admission
    // takes the chosen one's resolution from the decision: no lookup after the router's.
    let mut auto = converse;
    auto["model"] = json!("auto");
    let before = gw.resolutions();
    let resp = call(&gw, "POST", "/converse", Some(auto)).await;
    assert_eq!(resp.status(), 200);
    assert!(text(resp).await.contains("\"routing\""));
    assert_eq!(gw.resolutions() - before, 0, "auto");
}
