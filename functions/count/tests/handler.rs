//! Handler tests: API Gateway v2 events in, against bedrock-local on a free port.

mod common;

use common::{Emulator, EmulatorExt, ask, call, event, fixture, post};
use serde_json::{Value, json};

fn dec(v: &Value) -> f64 {
    v.as_str()
        .expect("decimal string")
        .parse()
        .expect("decimal")
}

#[tokio::test]
async fn recorded_event_counts_with_bedrock_using_the_bare_model_id() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);
    let (status, v) = call(&gw, fixture("apigw-v2-post-count.json")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "bedrock");
    assert_eq!(v["model"], "anthropic.claude-sonnet-4-5-20250929-v1:0");
    // A call would go through the us. profile; CountTokens refuses profiles, so it got the bare
    // ID (the emulator answers a profile ID with ValidationException).
    assert_eq!(
        v["resolved"]["invoked"],
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    );
    assert_eq!(emu.count_tokens_calls().await, 1);
    let input = v["input_tokens"].as_u64().unwrap();
    assert!(input > 0);
    assert_eq!(v["context_window"], 200_000);
    assert_eq!(v["max_output_tokens"], 64_000);
    assert_eq!(v["max_tokens"], json!({"value": 4096, "source": "default"}));
    assert_eq!(v["room_for_output"], 200_000 - input);
    assert_eq!(v["fits"], true);
    assert_eq!(v["reasons"], json!([]));
    assert_eq!(v["not_countable"], json!([]));
    assert!(v.get("estimate_error").is_none() && v.get("fallback").is_none());
    assert!(!v["request_id"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn model_without_count_tokens_is_estimated_with_its_error_stated() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);
    let mut body = ask("nova-pro", "How many tokens is this sentence, roughly?");
    body["inferenceConfig"] = json!({"maxTokens": 500});
    let (status, v) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "estimate");
    assert_eq!(v["model"], "amazon.nova-pro-v1:0");
    assert_eq!(emu.count_tokens_calls().await, 0, "no Bedrock call");
    assert!(v["input_tokens"].as_u64().unwrap() > 5);
    assert_eq!(v["max_tokens"], json!({"value": 500, "source": "request"}));
    let err = &v["estimate_error"];
    assert_eq!(err["family"], "amazon-nova");
    assert!(err["reference"].as_str().unwrap().starts_with("proxy"));
    assert!(err["mean"].as_f64().unwrap() > 0.0);
    assert!(err["worst"].as_f64().unwrap() >= err["mean"].as_f64().unwrap());
}

#[tokio::test]
async fn images_the_estimator_cannot_count_are_listed_not_zeroed() {
    let emu = Emulator::start(&[]);
    // s3Location sources are refused unless the deployment names their bucket (issue 21).
    let gw = emu.gateway(&[("GATEWAY_S3_SOURCE_BUCKETS", "bucket")]);
    let body = json!({"model": "llama-3.2-11b", "messages": [{"role": "user", "content": [
        {"text": "What is in this picture?"},
        {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/cat.png"}}}}
    ]}]});
    let (status, v) = call(&emu.gateway(&[]), post("/v1/count", &body)).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GATEWAY_S3_SOURCE_BUCKETS"),
        "{v}"
    );
    let (status, v) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "estimate");
    let nc = v["not_countable"].as_array().unwrap();
    assert_eq!(nc.len(), 1, "{v}");
    assert_eq!(nc[0]["path"], "messages[0].content[1]");
    assert_eq!(nc[0]["kind"], "image");
}

#[tokio::test]
async fn throttled_count_tokens_falls_back_to_the_estimate_and_says_so() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);
    emu.arm("throttle", 1, "CountTokens");
    let (status, v) = call(&gw, post("/v1/count", &ask("haiku", "count me please"))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "estimate");
    assert_eq!(v["fallback"]["from"], "bedrock");
    assert_eq!(v["fallback"]["error"]["type"], "throttled");
    assert_eq!(v["fallback"]["error"]["upstream"], "ThrottlingException");
    assert_eq!(v["estimate_error"]["family"], "anthropic");
    assert!(v["input_tokens"].as_u64().unwrap() > 0);

    // 5xx is "not now" too.
    emu.arm("unavailable", 1, "CountTokens");
    let (status, v) = call(&gw, post("/v1/count", &ask("haiku", "again"))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fallback"]["error"]["type"], "service_unavailable");

    // The fault is spent: the next count comes from Bedrock again.
    let (_, v) = call(&gw, post("/v1/count", &ask("haiku", "count me please"))).await;
    assert_eq!(v["source"], "bedrock");
    assert!(v.get("fallback").is_none());
}

#[tokio::test]
async fn non_retryable_count_tokens_errors_are_returned() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);
    emu.arm("access_denied", 1, "CountTokens");
    let (status, v) = call(&gw, post("/v1/count", &ask("sonnet", "hello"))).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["type"], "upstream_access_denied");
    assert_eq!(v["error"]["upstream"]["error"], "AccessDeniedException");
}

#[tokio::test]
async fn context_overflow_and_output_limits_are_reported_not_refused() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);
    // Titan Text Lite: a 4,096-token window. ~6,000 words of plain prose overflow it.
    let long = "the quick brown fox jumps over the lazy dog ".repeat(700);
    let (status, v) = call(&gw, post("/v1/count", &ask("titan-lite", &long))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fits"], false);
    assert_eq!(v["room_for_output"], 0);
    assert!(v["input_tokens"].as_u64().unwrap() > 4096, "{v}");
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("context window of 4096"),
        "{v}"
    );

    // Many short messages against a small window also overflow.
    let messages: Vec<Value> = (0..400)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            json!({"role": role, "content": [{"text": format!("message number {i} of the thread")}]})
        })
        .collect();
    let body = json!({"model": "titan-lite", "messages": messages});
    let (_, v) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(v["fits"], false, "{v}");

    // Llama 3.2 1B: a big window but 2,048 output tokens at most.
    let mut body = ask("llama-3.2-1b", "write a long story");
    body["inferenceConfig"] = json!({"maxTokens": 4000});
    let (status, v) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fits"], false);
    assert_eq!(v["max_tokens"], json!({"value": 4000, "source": "request"}));
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("maximum output of 2048"),
        "{v}"
    );
}

#[tokio::test]
async fn estimate_prices_the_count_and_compares_models_cheapest_first() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);

    // One model: the count plus cost, output priced at maxTokens (the worst case).
    let (status, v) = call(&gw, post("/v1/estimate", &ask("sonnet", "price this"))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "bedrock");
    assert_eq!(
        v["expected_output_tokens"],
        json!({"value": 4096, "source": "max_tokens"})
    );
    let c = &v["cost"];
    assert_eq!(c["pricing"], "regional");
    assert_eq!(c["estimate"], true);
    let input = v["input_tokens"].as_u64().unwrap() as f64;
    // Sonnet 4.5 through a us. profile: $3.30 / $16.50 per million.
    assert!((dec(&c["input"]) - input * 3.3e-6).abs() < 1e-12, "{c}");
    assert!((dec(&c["output"]) - 4096.0 * 16.5e-6).abs() < 1e-12, "{c}");
    assert!((dec(&c["total"]) - dec(&c["input"]) - dec(&c["output"])).abs() < 1e-12);

    // Several models, from the recorded event: sorted by total cost, each with a verdict.
    let mut e = fixture("apigw-v2-post-estimate.json");
    assert_eq!(e["rawPath"], "/v1/estimate");
    let (status, v) = call(&gw, e.take()).await;
    assert_eq!(status, 200, "{v}");
    let list = v["estimates"].as_array().expect("estimates");
    assert_eq!(list.len(), 5);
    let totals: Vec<f64> = list.iter().map(|m| dec(&m["cost"]["total"])).collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
    for m in list {
        assert_eq!(m["expected_output_tokens"]["value"], 400);
        assert!(m["fits"].is_boolean() && m.get("request_id").is_none());
        let want = if m["model"].as_str().unwrap().starts_with("anthropic.") {
            "bedrock"
        } else {
            "estimate"
        };
        assert_eq!(m["source"], want, "{m}");
    }
    // Llama 3.2 1B ($0.10 / $0.10 per million) beats Nova Micro ($0.035 / $0.14) at 400 output.
    assert_eq!(list[0]["model"], "meta.llama3-2-1b-instruct-v1:0");
    assert_eq!(list[1]["model"], "amazon.nova-micro-v1:0");
    assert_eq!(
        list[4]["model"],
        "anthropic.claude-sonnet-4-5-20250929-v1:0"
    );
    assert_eq!(v["cheapest"], "meta.llama3-2-1b-instruct-v1:0");
    assert!(!v["request_id"].as_str().unwrap().is_empty());

    // A candidate that doesn't fit is still listed, with its reason; cheapest skips it.
    let long = "lorem ipsum dolor sit amet ".repeat(900);
    let mut body = ask("titan-lite", &long);
    body["models"] = json!(["nova-micro"]);
    body["expected_output_tokens"] = json!(100);
    let (_, v) = call(&gw, post("/v1/estimate", &body)).await;
    let list = v["estimates"].as_array().unwrap();
    let lite = list
        .iter()
        .find(|m| m["model"] == "amazon.titan-text-lite-v1")
        .unwrap();
    assert_eq!(lite["fits"], false);
    assert!(!lite["reasons"].as_array().unwrap().is_empty());
    assert_eq!(v["cheapest"], "amazon.nova-micro-v1:0");
}

#[tokio::test]
async fn native_bodies_are_counted_for_their_family() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);
    let body = json!({"model": "sonnet", "native": {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 300,
        "messages": [{"role": "user", "content": "count this native body"}]}});
    let (status, v) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "bedrock");
    assert_eq!(v["max_tokens"], json!({"value": 300, "source": "request"}));

    let body =
        json!({"model": "llama-3.1-8b", "native": {"prompt": "hello llama", "max_gen_len": 128}});
    let (status, v) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "estimate");
    assert_eq!(v["max_tokens"]["value"], 128);

    // One native body cannot be priced for two families.
    let body = json!({"model": "llama-3.1-8b", "models": ["nova-pro"], "native": {"prompt": "x"}});
    let (status, v) = call(&gw, post("/v1/estimate", &body)).await;
    assert_eq!(status, 400, "{v}");
    // Converse fields next to a native body would be ignored: refused.
    let body = json!({"model": "llama-3.1-8b", "native": {"prompt": "x"}, "messages": []});
    let (status, _) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bad_input_gets_json_errors_with_the_right_status() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[("GATEWAY_MAX_BODY_BYTES", "2000")]);

    let (status, v) = call(&gw, post("/v1/count", &ask("sonet-4.5", "hi"))).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["type"], "model_not_found");
    assert!(
        v["error"]["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "sonnet-4.5"),
        "{v}"
    );
    let body = json!({"models": ["haiku", "gpt-4o"], "messages": [{"role": "user", "content": [{"text": "x"}]}]});
    let (status, _) = call(&gw, post("/v1/estimate", &body)).await;
    assert_eq!(status, 404, "an unknown candidate fails the comparison");

    let (status, v) = call(
        &gw,
        post("/v1/count", &json!({"model": "haiku", "messages": []})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("messages"));

    let big = ask("haiku", &"x".repeat(3000));
    let (status, v) = call(&gw, post("/v1/count", &big)).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["type"], "payload_too_large");

    let (status, _) = call(
        &gw,
        event("POST", "/v1/count", "model=haiku", Some("text/plain")),
    )
    .await;
    assert_eq!(status, 415);
    let (status, v) = call(
        &gw,
        event("POST", "/v1/count", "{\"model\": \"haiku\",", None),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1 column"),
        "{v}"
    );

    let mut body = ask("haiku", "hi");
    body["maxTokens"] = json!(10);
    let (status, v) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 400, "unknown top-level field: {v}");
    let mut body = ask("haiku", "hi");
    body["models"] = json!(["sonnet"]);
    let (status, _) = call(&gw, post("/v1/count", &body)).await;
    assert_eq!(status, 400, "`models` belongs to /v1/estimate");
    let mut body = ask("haiku", "hi");
    body["expected_output_tokens"] = json!(-1);
    let (status, _) = call(&gw, post("/v1/estimate", &body)).await;
    assert_eq!(status, 400);

    let (status, v) = call(&gw, event("GET", "/v1/count", "", None)).await;
    assert_eq!(status, 405, "{v}");
    assert_eq!(v["error"]["type"], "method_not_allowed");
    let (status, v) = call(&gw, event("POST", "/v1/counts", "{}", None)).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["type"], "not_found");
    assert_eq!(emu.count_tokens_calls().await, 0, "nothing reached Bedrock");
}

#[tokio::test]
async fn allowlist_applies_to_counts() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[("GATEWAY_ALLOWED_MODELS", "nova-*")]);
    let (status, v) = call(&gw, post("/v1/count", &ask("sonnet", "hi"))).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["type"], "model_not_allowed");
}

/// `models` is merged without repeats and limited to 20 different names; the merge is linear and
/// stops past the limit, so a long list cannot pin the function (it compared every name with
/// every other: 200,000 names took minutes). The timeout bounds a hang, it is no speed target.
#[tokio::test]
async fn a_long_models_list_is_refused_without_pinning_the_function() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[("GATEWAY_MAX_BODY_BYTES", "8000000")]);
    let messages = json!([{"role": "user", "content": [{"text": "x"}]}]);
    let mut repeated = vec![json!("haiku"); 50];
    repeated.push(json!("HAIKU"));
    let body = json!({"models": repeated, "messages": messages});
    let (status, v) = call(&gw, post("/v1/estimate", &body)).await;
    assert_eq!(status, 200, "repeats are merged: {v}");

    let names: Vec<Value> = (0..200_000).map(|i| json!(format!("m-{i}"))).collect();
    let body = json!({"models": names, "messages": messages});
    let (status, v) = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        call(&gw, post("/v1/estimate", &body)),
    )
    .await
    .expect("answered, not pinned");
    assert_eq!(status, 400, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("at most 20 different models"), "{message}");
}

#[tokio::test]
async fn estimates_price_the_requested_tier_and_refuse_one_the_model_lacks() {
    let emu = Emulator::start(&[]);
    let gw = emu.gateway(&[]);
    let with_tier = |model: &str, tier: &str| {
        let mut b = ask(model, "price this at a tier");
        b["serviceTier"] = json!({"type": tier});
        b["expected_output_tokens"] = json!(1000);
        b
    };
    let mut totals = Vec::new();
    for tier in ["default", "flex", "priority"] {
        let (status, v) = call(&gw, post("/v1/estimate", &with_tier("nova-pro", tier))).await;
        assert_eq!(status, 200, "{v}");
        let input = v["input_tokens"].as_u64().unwrap() as f64;
        // Nova Pro: $0.80 / $3.20 per million; flex x0.5, priority x1.75 (catalog data).
        let factor = match tier {
            "flex" => 0.5,
            "priority" => 1.75,
            _ => 1.0,
        };
        let c = &v["cost"];
        assert!(
            (dec(&c["output"]) - 1000.0 * 3.2e-6 * factor).abs() < 1e-12,
            "{c}"
        );
        assert!(
            (dec(&c["input"]) - input * 0.8e-6 * factor).abs() < 1e-12,
            "{c}"
        );
        if tier != "default" {
            assert_eq!(c["tier"], tier);
        }
        totals.push(dec(&c["total"]));
    }
    assert!(totals[1] < totals[0] && totals[0] < totals[2], "{totals:?}");

    let (status, v) = call(
        &gw,
        post("/v1/estimate", &with_tier("nova-lite", "priority")),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("priority") && message.contains("amazon.nova-lite-v1:0"),
        "{message}"
    );
}
