//! The router end to end: a recorded Function URL event in, the streamed SSE body read frame by
//! frame (with arrival times), against `bedrock-local` spawned on a free port.
//! Fails (does not skip) when the emulator binary is missing: `cargo build -p bedrock-local`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use axum::body::Body;
use axum::response::Response;
use http_body_util::BodyExt;
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

// ---------------------------------------------------------------- emulator and gateway

use gateway_tests::Emulator;

fn emulator(extra: &[&str]) -> Emulator {
    Emulator::start(extra)
}

fn gateway(url: &str) -> Gateway {
    gateway_with(url, &[])
}

fn gateway_with(url: &str, extra: &[(&str, &str)]) -> Gateway {
    let vars: HashMap<String, String> = [("AWS_REGION", "us-east-1")]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from_lookup(move |k| vars.get(k).cloned()).expect("config");
    let catalog = Catalog::load(&config).expect("catalog");
    let sdk = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .http_client(inference_core::sdk_http::https_client())
        .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
        // One attempt per call: fault tests count exactly and stay fast.
        .retry_config(RetryConfig::disabled())
        .build();
    Gateway::new(
        config,
        catalog,
        BedrockClient::from_sdk(aws_sdk_bedrockruntime::Client::from_conf(sdk)),
    )
}

/// `GET` on the emulator's control API.
async fn control(url: &str, path: &str) -> Value {
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
    serde_json::from_str(body).expect("stats JSON")
}

// ---------------------------------------------------------------- events in, frames out

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

/// The recorded Function URL event with another method, path and body.
fn event(method: &str, path: &str, body: &Value) -> lambda_http::Request {
    let mut e = fixture("function-url-post-converse.json");
    let text = body.to_string();
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["headers"]["content-length"] = json!(text.len().to_string());
    e["body"] = json!(text);
    lambda_http::request::from_str(&e.to_string()).expect("Function URL event")
}

async fn call(gw: &Gateway, req: lambda_http::Request) -> Response {
    stream_url::router(gw.clone())
        .oneshot(req)
        .await
        .expect("infallible")
}

/// One parsed SSE event and when it reached us.
#[derive(Debug)]
struct Sse {
    name: String,
    data: Value,
    at: Duration,
}

/// Reads the body frame by frame, splitting SSE events and stamping their arrival.
async fn read_events(body: Body, t0: Instant) -> Vec<Sse> {
    let mut body = body;
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("body frame");
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.push_str(std::str::from_utf8(data).expect("utf-8"));
        while let Some((ev, rest)) = buf.split_once("\n\n") {
            out.push(parse(ev, t0.elapsed()));
            buf = rest.to_owned();
        }
    }
    assert!(buf.is_empty(), "trailing partial event: {buf:?}");
    out
}

fn parse(ev: &str, at: Duration) -> Sse {
    let mut name = String::new();
    let mut data = Value::Null;
    for line in ev.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(d) = line.strip_prefix("data: ") {
            data = serde_json::from_str(d).expect("data is JSON");
        }
    }
    Sse { name, data, at }
}

fn names(events: &[Sse]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": [{"text": text}]}])
}

async fn stream(gw: &Gateway, path: &str, body: Value) -> Vec<Sse> {
    let t0 = Instant::now();
    let resp = call(gw, event("POST", path, &body)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    read_events(resp.into_body(), t0).await
}

async fn json_error(resp: Response) -> Value {
    assert_eq!(resp.headers()["content-type"], "application/json");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).expect("JSON error body")
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn converse_fixture_streams_every_event_then_done() {
    let emu = emulator(&[]);
    let gw = gateway(&emu.url);
    let t0 = Instant::now();
    let req =
        lambda_http::request::from_str(&fixture("function-url-post-converse.json").to_string())
            .unwrap();
    let resp = call(&gw, req).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let ev = read_events(resp.into_body(), t0).await;
    let n = names(&ev);
    assert_eq!(n[0], "messageStart");
    assert_eq!(ev[0].data, json!({"role": "assistant"}));
    assert!(n.contains(&"contentBlockDelta"));
    assert_eq!(
        &n[n.len() - 4..],
        ["contentBlockStop", "messageStop", "metadata", "done"]
    );
    let text: String = ev
        .iter()
        .filter_map(|e| e.data.pointer("/delta/text").and_then(Value::as_str))
        .collect();
    assert!(!text.is_empty());
    let metadata = &ev[ev.len() - 2].data;
    let done = &ev[ev.len() - 1].data;
    assert_eq!(done["model"], "us.anthropic.claude-haiku-4-5-20251001-v1:0");
    assert_eq!(done["usage"], metadata["usage"]);
    assert_eq!(done["usage_known"], true);
    assert!(
        done["cost"]["total"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    assert!(done["request_id"].is_string());
    let m = &done["metrics"];
    assert!(m["timeToFirstTokenMs"].as_u64().unwrap() <= m["latencyMs"].as_u64().unwrap());
}

#[tokio::test]
async fn events_arrive_as_produced_not_at_the_end() {
    let emu = emulator(&["--ttft-ms", "200", "--tokens-per-sec", "100"]);
    let gw = gateway(&emu.url);
    let ev = stream(
        &gw,
        "/converse",
        json!({"model": "haiku", "messages": user("Tell me more [[len:60]]")}),
    )
    .await;
    let deltas: Vec<&Sse> = ev
        .iter()
        .filter(|e| e.name == "contentBlockDelta")
        .collect();
    assert!(deltas.len() >= 5, "{:?}", names(&ev));
    let last = ev.last().unwrap();
    assert_eq!(last.name, "done");
    assert!(last.data["metrics"]["timeToFirstTokenMs"].as_u64().unwrap() >= 190);
    // The first event comes before the time to first token; content follows the token rate.
    assert!(ev[0].at < Duration::from_millis(180), "{:?}", ev[0].at);
    assert!(
        deltas[0].at >= Duration::from_millis(190),
        "{:?}",
        deltas[0].at
    );
    assert!(
        last.at - deltas[0].at >= Duration::from_millis(300),
        "deltas bunched: first {:?}, end {:?}",
        deltas[0].at,
        last.at
    );
    let spread = deltas.windows(2).filter(|w| w[1].at > w[0].at).count();
    assert!(
        spread >= deltas.len() / 2,
        "deltas did not arrive one by one"
    );
}

#[tokio::test]
async fn tool_use_and_reasoning_streams() {
    let emu = emulator(&[]);
    let gw = gateway(&emu.url);
    let tools = json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}]});
    let ev = stream(
        &gw,
        "/converse",
        json!({"model": "haiku", "messages": user("use tool get_weather"), "toolConfig": tools}),
    )
    .await;
    let start = ev
        .iter()
        .find(|e| e.name == "contentBlockStart")
        .expect("tool block start");
    assert_eq!(start.data["start"]["toolUse"]["name"], "get_weather");
    let input: String = ev
        .iter()
        .filter_map(|e| {
            e.data
                .pointer("/delta/toolUse/input")
                .and_then(Value::as_str)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap()["city"],
        "sample city"
    );
    let stop = ev.iter().find(|e| e.name == "messageStop").unwrap();
    assert_eq!(stop.data["stopReason"], "tool_use");

    let ev = stream(
        &gw,
        "/converse",
        json!({"model": "sonnet", "messages": user("Think first"),
            "inferenceConfig": {"maxTokens": 2000},
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}),
    )
    .await;
    let reasoning: Vec<&Value> = ev
        .iter()
        .filter_map(|e| e.data.pointer("/delta/reasoningContent"))
        .collect();
    assert!(reasoning.iter().any(|r| r["text"].is_string()));
    assert!(reasoning.iter().any(|r| r["signature"].is_string()));
    assert_eq!(ev.last().unwrap().name, "done");
}

#[tokio::test]
async fn native_anthropic_and_nova_streams() {
    let emu = emulator(&[]);
    let gw = gateway(&emu.url);
    let t0 = Instant::now();
    let req = lambda_http::request::from_str(
        &fixture("function-url-post-invoke-anthropic.json").to_string(),
    )
    .unwrap();
    let resp = call(&gw, req).await;
    assert_eq!(resp.status(), 200);
    let ev = read_events(resp.into_body(), t0).await;
    assert!(ev[..ev.len() - 1].iter().all(|e| e.name == "chunk"));
    assert_eq!(ev[0].data["type"], "message_start");
    assert!(ev.iter().any(|e| e.data["type"] == "content_block_delta"));
    let last_chunk = &ev[ev.len() - 2].data;
    assert_eq!(last_chunk["type"], "message_stop");
    let metrics = &last_chunk["amazon-bedrock-invocationMetrics"];
    let done = &ev[ev.len() - 1];
    assert_eq!(done.name, "done");
    assert_eq!(
        done.data["usage"]["outputTokens"],
        metrics["outputTokenCount"]
    );
    assert_eq!(
        done.data["usage"]["inputTokens"],
        metrics["inputTokenCount"]
    );
    assert_eq!(done.data["max_tokens"]["value"], 200);
    assert!(
        done.data["cost"]["total"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );

    let ev = stream(
        &gw,
        "/invoke/amazon.nova-lite-v1:0",
        json!({"messages": user("Hello nova"), "inferenceConfig": {"maxTokens": 100}}),
    )
    .await;
    assert!(ev[0].data.get("messageStart").is_some());
    assert!(
        ev.iter()
            .any(|e| e.data.pointer("/contentBlockDelta/delta/text").is_some())
    );
    let done = &ev.last().unwrap().data;
    assert!(done["usage"]["inputTokens"].as_u64().unwrap() > 0);
    assert!(done["usage"]["outputTokens"].as_u64().unwrap() > 0);
    assert_eq!(done["usage_known"], true);
}

#[tokio::test]
async fn errors_after_the_start_are_error_events() {
    let emu = emulator(&[]);
    let gw = gateway(&emu.url);
    for (marker, kind) in [
        ("[[fault:stream_error_after=3]]", "model_error"),
        ("[[fault:stream_throttle_after=4]]", "throttled"),
    ] {
        let ev = stream(
            &gw,
            "/converse",
            json!({"model": "haiku", "messages": user(&format!("Hi {marker} [[len:40]]"))}),
        )
        .await;
        let last = ev.last().unwrap();
        assert_eq!(last.name, "error", "{:?}", names(&ev));
        assert_eq!(last.data["error"]["type"], kind);
        assert!(last.data["error"]["request_id"].is_string());
        assert!(ev.len() > 1 && !names(&ev).contains(&"done"));
    }
    let ev = stream(
        &gw,
        "/invoke/haiku",
        json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
            "messages": [{"role": "user", "content": "x [[fault:stream_error_after=2]] [[len:30]]"}]}),
    )
    .await;
    assert_eq!(ev.last().unwrap().name, "error");
}

#[tokio::test]
async fn errors_before_the_stream_are_json_with_status() {
    let emu = emulator(&[]);
    let gw = gateway(&emu.url);
    let cases = [
        (
            "/converse",
            json!({"model": "haiku", "messages": user("[[fault:throttle]]")}),
            429,
            "throttled",
        ),
        (
            "/converse",
            json!({"model": "haiku", "messages": user("[[fault:unavailable]]")}),
            503,
            "service_unavailable",
        ),
        (
            "/converse",
            json!({"model": "no-such-model", "messages": user("hi")}),
            404,
            "model_not_found",
        ),
        (
            "/invoke/no-such-model",
            json!({"inputText": "hi"}),
            404,
            "model_not_found",
        ),
        (
            "/converse",
            json!({"model": "haiku", "messages": user("[[fault:stream_error_after=0]]")}),
            502,
            "model_error",
        ),
        ("/nowhere", json!({}), 404, "not_found"),
    ];
    for (path, body, status, kind) in cases {
        let resp = call(&gw, event("POST", path, &body)).await;
        assert_eq!(resp.status(), status, "{path} {body}");
        assert!(resp.headers().contains_key("x-request-id"));
        let retry = resp.headers().get("retry-after").is_some();
        let v = json_error(resp).await;
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert_eq!(retry, status == 429 || status == 503);
    }
    let resp = call(&gw, event("GET", "/converse", &json!({}))).await;
    assert_eq!(resp.status(), 405);
    assert!(resp.headers().contains_key("x-request-id"));
    let mut e = event("POST", "/converse", &json!({}));
    *e.body_mut() = lambda_http::Body::Text("not json".into());
    let resp = call(&gw, e).await;
    assert_eq!(
        json_error(resp).await["error"]["type"],
        "unsupported_media_type"
    );
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream() {
    let emu = emulator(&["--tokens-per-sec", "50"]);
    let gw = gateway(&emu.url);
    let resp = call(
        &gw,
        event(
            "POST",
            "/converse",
            &json!({"model": "haiku", "messages": user("Long one [[len:500]]")}),
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let _ = body.frame().await.expect("first frame");
    assert_eq!(
        control(&emu.url, "/_local/stats").await["active_streams"],
        1
    );
    let t = Instant::now();
    drop(body); // the client goes away
    loop {
        let stats = control(&emu.url, "/_local/stats").await;
        if stats["streams_cancelled"] == 1 && stats["active_streams"] == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "upstream not cancelled: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        control(&emu.url, "/_local/stats").await["streams_completed"],
        0
    );
}

#[tokio::test]
async fn deployment_guardrail_intervention_arrives_as_events() {
    let emu = emulator(&[]);
    let gw = gateway_with(
        &emu.url,
        &[
            ("GATEWAY_GUARDRAIL_ID", "demo"),
            ("GATEWAY_GUARDRAIL_VERSION", "1"),
        ],
    );
    let ev = stream(
        &gw,
        "/converse",
        json!({"model": "haiku", "messages": user("Say it [[say:forbidden]] [[len:30]]")}),
    )
    .await;
    let stop = ev.iter().find(|e| e.name == "messageStop").unwrap();
    assert_eq!(stop.data["stopReason"], "guardrail_intervened");
    let text: String = ev
        .iter()
        .filter_map(|e| e.data.pointer("/delta/text").and_then(Value::as_str))
        .collect();
    assert!(
        text.ends_with("Sorry, the model cannot provide this response."),
        "{text}"
    );
    assert!(!text.contains("forbidden"));
    assert_eq!(ev.last().unwrap().name, "done");
    assert_eq!(ev[ev.len() - 2].name, "guardrail");
    assert_eq!(ev.last().unwrap().data["guardrail"]["source"], "bedrock");

    let ev = stream(
        &gw,
        "/invoke/haiku",
        json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
            "messages": [{"role": "user", "content": "x [[say:forbidden]] [[len:30]]"}]}),
    )
    .await;
    let last_chunk = &ev.iter().rfind(|e| e.name == "chunk").unwrap().data;
    assert_eq!(last_chunk["amazon-bedrock-guardrailAction"], "INTERVENED");
    // The intervention is reported as a `guardrail` event right before `done`, and in `done`.
    let names: Vec<&str> = ev.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[names.len() - 2..], ["guardrail", "done"], "{names:?}");
    let g = &ev[ev.len() - 2].data;
    assert_eq!(g["action"], "intervened");
    assert_eq!(g["source"], "bedrock");
    assert_eq!(ev.last().unwrap().data["guardrail"], *g);
}
