//! The response cache and `model: "auto"` routing end to end through the real SDK against
//! `bedrock-local`: hits are free and identical, anything that changes the answer misses, errors,
//! interventions and cut streams are never stored, TTL, bypass and refresh, and streams replay
//! the stored events. The emulator's request counters prove which calls reached the model.

mod support;

use std::time::Duration;

use inference_core::cache::{CacheDirective, ResponseCache};
use inference_core::{CallContext, Gateway};
use serde_json::{Value, json};
use support::{Emulator, gateway, start};

fn cached_gateway(emu: &Emulator, vars: &[(&str, &str)]) -> Gateway {
    let gw = gateway(&emu.url, vars);
    let settings = gw.config().cache.clone();
    gw.with_cache(ResponseCache::new(settings))
}

fn ctx(d: CacheDirective) -> CallContext {
    CallContext::new("test").with_cache(d)
}

fn body(text: &str) -> Value {
    json!({"model": "nova-lite", "messages": [{"role": "user", "content": [{"text": text}]}]})
}

fn converse_calls(emu: &Emulator) -> u64 {
    emu.stats()["requests"]["Converse"].as_u64().unwrap_or(0)
}

fn stream_calls(emu: &Emulator) -> u64 {
    emu.stats()["requests"]["ConverseStream"]
        .as_u64()
        .unwrap_or(0)
}

async fn converse(gw: &Gateway, b: Value, d: CacheDirective) -> Value {
    gw.converse(b, &ctx(d)).await.expect("converse")
}

#[tokio::test]
async fn repeated_request_is_a_free_identical_hit_and_changes_miss() {
    let emu = start(&[]);
    let gw = cached_gateway(&emu, &[("GATEWAY_CACHE", "on")]);
    let first = converse(&gw, body("What is a cache?"), CacheDirective::Default).await;
    assert_eq!(first["cache"]["status"], "miss");
    assert_eq!(first["cache"]["stored"], true);
    assert_ne!(first["cost"]["total"], "0.000000");
    let second = converse(&gw, body("What is a cache?"), CacheDirective::Default).await;
    assert_eq!(converse_calls(&emu), 1, "the hit did not reach the model");
    assert_eq!(second["cache"]["status"], "hit");
    assert_eq!(second["cache"]["tier"], "memory");
    assert_eq!(second["cache"]["saved_usd"], first["cost"]["total"]);
    assert_eq!(second["cost"]["total"], "0.000000");
    assert_eq!(second["output"], first["output"]);
    assert_eq!(second["stopReason"], first["stopReason"]);
    assert_eq!(second["model"], first["model"]);
    assert_ne!(second["request_id"], Value::Null);

    // Anything that changes the answer is another key.
    let mut b = body("What is a cache?");
    b["inferenceConfig"] = json!({"temperature": 0.1});
    let changed = converse(&gw, b, CacheDirective::Default).await;
    assert_eq!(changed["cache"]["status"], "miss");
    let mut b = body("What is a cache?");
    b["system"] = json!([{"text": "Answer in French."}]);
    assert_eq!(
        converse(&gw, b, CacheDirective::Default).await["cache"]["status"],
        "miss"
    );
    let mut b = body("What is a cache?");
    b["model"] = json!("nova-pro");
    assert_eq!(
        converse(&gw, b, CacheDirective::Default).await["cache"]["status"],
        "miss"
    );
    assert_eq!(converse_calls(&emu), 4);
    // requestMetadata labels the call; it does not change the answer.
    let mut b = body("What is a cache?");
    b["requestMetadata"] = json!({"team": "blue"});
    assert_eq!(
        converse(&gw, b, CacheDirective::Default).await["cache"]["status"],
        "hit"
    );
    assert_eq!(converse_calls(&emu), 4);
}

#[tokio::test]
async fn opt_in_bypass_and_refresh() {
    let emu = start(&[]);
    let gw = cached_gateway(&emu, &[("GATEWAY_CACHE", "opt_in")]);
    let b = || body("Tell me about opt-in.");
    // Not asked: no cache at all, no field.
    let v = converse(&gw, b(), CacheDirective::Default).await;
    assert!(v.get("cache").is_none());
    assert_eq!(
        converse(&gw, b(), CacheDirective::Use).await["cache"]["status"],
        "miss"
    );
    assert_eq!(
        converse(&gw, b(), CacheDirective::Use).await["cache"]["status"],
        "hit"
    );
    assert_eq!(converse_calls(&emu), 2);
    // Bypass: to the model, nothing read or written.
    let v = converse(&gw, b(), CacheDirective::Bypass).await;
    assert_eq!(v["cache"], json!({"status": "bypass"}));
    assert_ne!(v["cost"]["total"], "0.000000");
    assert_eq!(converse_calls(&emu), 3);
    // Refresh: to the model, and the fresh answer replaces the stored one.
    let v = converse(&gw, b(), CacheDirective::Refresh).await;
    assert_eq!(v["cache"], json!({"status": "refresh", "stored": true}));
    assert_eq!(converse_calls(&emu), 4);
    let v = converse(&gw, b(), CacheDirective::Use).await;
    assert_eq!(v["cache"]["status"], "hit");
    assert!(v["cache"]["age_ms"].as_u64().unwrap() < 5_000);
    assert_eq!(converse_calls(&emu), 4);
    // A bad header value is a 400, even before anything is sent.
    let e = gw
        .converse(b(), &ctx(CacheDirective::parse(Some("sometimes"))))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.message().contains("x-gateway-cache"), "{}", e.message());
}

#[tokio::test]
async fn ttl_expiry() {
    let emu = start(&[]);
    let gw = cached_gateway(
        &emu,
        &[("GATEWAY_CACHE", "on"), ("GATEWAY_CACHE_TTL_SECONDS", "1")],
    );
    let b = || body("Short-lived answers.");
    assert_eq!(
        converse(&gw, b(), CacheDirective::Default).await["cache"]["status"],
        "miss"
    );
    assert_eq!(
        converse(&gw, b(), CacheDirective::Default).await["cache"]["status"],
        "hit"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        converse(&gw, b(), CacheDirective::Default).await["cache"]["status"],
        "miss"
    );
    assert_eq!(converse_calls(&emu), 2);
}

#[tokio::test]
async fn errors_and_interventions_are_never_stored() {
    let emu = start(&[]);
    let gw = cached_gateway(
        &emu,
        &[
            ("GATEWAY_CACHE", "on"),
            ("GATEWAY_GUARDRAIL_ID", "demo"),
            ("GATEWAY_GUARDRAIL_VERSION", "1"),
        ],
    );
    // An error: the next identical request goes to the model again, and that answer is stored.
    emu.arm("model_error", 1, "Converse");
    let b = || body("Errors are not answers.");
    assert!(
        gw.converse(b(), &ctx(CacheDirective::Default))
            .await
            .is_err()
    );
    let v = converse(&gw, b(), CacheDirective::Default).await;
    assert_eq!(v["cache"]["status"], "miss");
    assert_eq!(
        converse(&gw, b(), CacheDirective::Default).await["cache"]["status"],
        "hit"
    );

    // A Bedrock guardrail intervention (bedrock-local's demo guardrail denies `forbidden`).
    let blocked = || body("Say something forbidden please.");
    let v = converse(&gw, blocked(), CacheDirective::Default).await;
    assert_eq!(v["stopReason"], "guardrail_intervened");
    assert_eq!(v["cache"], json!({"status": "miss", "stored": false}));
    let before = converse_calls(&emu);
    let v = converse(&gw, blocked(), CacheDirective::Default).await;
    assert_eq!(v["cache"]["status"], "miss");
    assert_eq!(converse_calls(&emu), before + 1);

    // The local filter masking the answer is an intervention too (`[[say:WORD]]` makes the
    // model write WORD).
    let gw = cached_gateway(
        &emu,
        &[
            ("GATEWAY_CACHE", "on"),
            ("GATEWAY_PII_POLICY", "email=mask"),
        ],
    );
    let masked = || body("Please [[say:someone@example.com]] now.");
    let v = converse(&gw, masked(), CacheDirective::Default).await;
    assert!(v.get("guardrail").is_some(), "{v}");
    assert_eq!(v["cache"]["stored"], false);
    assert_eq!(
        converse(&gw, masked(), CacheDirective::Default).await["cache"]["status"],
        "miss"
    );
}

/// Every event of a stream (as the gateway hands them out) and the closing summary.
async fn stream(gw: &Gateway, b: Value, d: CacheDirective) -> Result<(Vec<Value>, Value), String> {
    let mut call = gw
        .converse_stream(b, &ctx(d))
        .await
        .map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    loop {
        match call.recv().await {
            Ok(Some((_, v))) => events.push(v),
            Ok(None) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok((events, call.summary()))
}

#[tokio::test]
async fn streams_replay_the_stored_events_and_cut_streams_are_not_stored() {
    let emu = start(&[]);
    let gw = cached_gateway(&emu, &[("GATEWAY_CACHE", "on")]);
    let b = || body("Stream me an answer.");
    // Cut midway: not stored.
    emu.arm("stream_error_after=2", 1, "ConverseStream");
    assert!(stream(&gw, b(), CacheDirective::Default).await.is_err());
    let (events, done) = stream(&gw, b(), CacheDirective::Default).await.unwrap();
    assert_eq!(done["cache"], json!({"status": "miss", "stored": true}));
    assert_eq!(stream_calls(&emu), 2);
    let (replayed, done2) = stream(&gw, b(), CacheDirective::Default).await.unwrap();
    assert_eq!(stream_calls(&emu), 2, "the replay did not reach the model");
    assert_eq!(replayed, events, "same events, same order");
    assert!(
        replayed
            .iter()
            .any(|e| e.get("contentBlockDelta").is_some())
    );
    assert!(replayed.last().unwrap().get("metadata").is_some());
    assert_eq!(done2["cache"]["status"], "hit");
    assert_eq!(done2["cache"]["saved_usd"], done["cost"]["total"]);
    assert_eq!(done2["cost"]["total"], "0.000000");
    assert_eq!(done2["usage"], done["usage"]);
    // The Converse answer to the same body is another entry (another shape).
    let v = converse(&gw, b(), CacheDirective::Default).await;
    assert_eq!(v["cache"]["status"], "miss");
    // Bypass on the stream path.
    let (_, done3) = stream(&gw, b(), CacheDirective::Bypass).await.unwrap();
    assert_eq!(done3["cache"]["status"], "bypass");
    assert_eq!(stream_calls(&emu), 3);
}

#[tokio::test]
async fn auto_routing_answers_with_its_choice_and_reason() {
    let emu = start(&[]);
    let gw = cached_gateway(
        &emu,
        &[
            ("GATEWAY_CACHE", "on"),
            ("GATEWAY_ROUTING_FAST", "nova-micro, nova-lite"),
        ],
    );
    let mut b = body("Route me.");
    b["model"] = json!("auto");
    let v = converse(&gw, b.clone(), CacheDirective::Default).await;
    assert_eq!(v["routing"]["model"], "amazon.nova-micro-v1:0");
    assert_eq!(v["resolved"]["id"], "amazon.nova-micro-v1:0");
    assert!(
        v["routing"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("cheapest")
    );
    // The image block needs vision: nova-micro has none.
    b["messages"][0]["content"]
        .as_array_mut()
        .unwrap()
        .push(json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}));
    b["routing"] = json!({"tier": "fast"});
    let v = converse(&gw, b, CacheDirective::Default).await;
    assert_eq!(v["routing"]["model"], "amazon.nova-lite-v1:0");
    assert_eq!(v["routing"]["skipped"][0]["reason"], "lacks vision");
    // Streams route the same way, and an impossible ceiling is a clear 400.
    let mut b = body("Route me.");
    b["model"] = json!("auto");
    let (_, done) = stream(&gw, b.clone(), CacheDirective::Default)
        .await
        .unwrap();
    assert_eq!(done["routing"]["model"], "amazon.nova-micro-v1:0");
    b["routing"] = json!({"max_cost_usd": 0.0000001});
    let e = gw
        .converse(b, &ctx(CacheDirective::Default))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.message().contains("max_cost_usd"), "{}", e.message());
    // A cached answer to the routed request is a hit too.
    let mut b = body("Route me.");
    b["model"] = json!("auto");
    let v = converse(&gw, b, CacheDirective::Default).await;
    assert_eq!(v["cache"]["status"], "hit");
    assert_eq!(v["routing"]["model"], "amazon.nova-micro-v1:0");
}
