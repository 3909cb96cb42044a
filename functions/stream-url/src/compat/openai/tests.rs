use super::*;
use inference_core::Catalog;

fn model(name: &str) -> ModelEntry {
    Catalog::embedded()
        .unwrap()
        .by_name(name)
        .unwrap_or_else(|| panic!("{name} in the catalog"))
        .clone()
}

fn tr(body: Value, name: &str) -> CResult<ChatRequest> {
    translate(&body, Some(&model(name)))
}

fn param(body: Value, name: &str) -> String {
    tr(body, name).unwrap_err().param.unwrap_or_default()
}

#[test]
fn roles_parameters_and_tools_map_to_converse() {
    let body = json!({
        "model": "haiku",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "no lists"}]},
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "cold"},
            {"role": "user", "content": "thanks"},
        ],
        "max_completion_tokens": 50, "temperature": 0.2, "top_p": 0.9, "stop": "END",
        "tools": [{"type": "function", "function": {"name": "get", "description": "d",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required", "stream": true, "stream_options": {"include_usage": true},
        "user": "u-1", "n": 1, "parallel_tool_calls": true, "logprobs": false,
    });
    let r = tr(body, "haiku").unwrap();
    assert!(r.stream && r.include_usage && r.json_tool.is_none());
    let c = &r.converse;
    assert_eq!(
        c["system"],
        json!([{"text": "be brief"}, {"text": "no lists"}])
    );
    assert_eq!(
        c["inferenceConfig"],
        json!({"maxTokens": 50, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]})
    );
    let m = c["messages"].as_array().unwrap();
    assert_eq!(
        m.len(),
        3,
        "tool result and the next user turn merge: {m:?}"
    );
    assert_eq!(
        m[1]["content"][0]["toolUse"],
        json!({"toolUseId": "call_1", "name": "get", "input": {"city": "Oslo"}})
    );
    assert_eq!(
        m[2]["content"][0]["toolResult"]["content"],
        json!([{"text": "cold"}])
    );
    assert_eq!(m[2]["content"][1], json!({"text": "thanks"}));
    assert_eq!(c["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(c["toolConfig"]["tools"][0]["toolSpec"]["name"], "get");
    assert_eq!(c["requestMetadata"], json!({"user": "u-1"}));
    // The result is a body the gateway's own parser accepts.
    inference_core::convert::ConverseParts::from_json(c, &["model"]).unwrap();
}

#[test]
fn images_as_data_urls() {
    let body = json!({"model": "haiku", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}}]}]});
    let r = tr(body, "haiku").unwrap();
    assert_eq!(
        r.converse["messages"][0]["content"][1],
        json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}})
    );
    let url = json!({"model": "haiku", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
    assert_eq!(param(url, "haiku"), "messages[0].content[0].image_url.url");
    let no_vision = json!({"model": "nova-micro", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]});
    assert_eq!(
        param(no_vision, "amazon.nova-micro-v1:0"),
        "messages[0].content[0]"
    );
}

#[test]
fn reasoning_effort_maps_to_thinking_where_the_catalog_has_it() {
    let body = json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "medium"});
    let r = tr(body.clone(), "haiku").unwrap();
    assert_eq!(
        r.converse["additionalModelRequestFields"]["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert_eq!(r.converse["inferenceConfig"]["maxTokens"], 4096 + 4096);
    let mut small = body.clone();
    small["max_tokens"] = json!(100);
    assert_eq!(param(small, "haiku"), "max_tokens");
    assert_eq!(
        param(body.clone(), "amazon.nova-lite-v1:0"),
        "reasoning_effort"
    );
    let mut none = body;
    none["reasoning_effort"] = json!("none");
    assert!(
        tr(none, "amazon.nova-lite-v1:0")
            .unwrap()
            .converse
            .get("additionalModelRequestFields")
            .is_none()
    );
}

/// A model with tool use but no native structured output in the catalog.
const NO_NATIVE: &str = "nova-pro";

#[test]
fn response_format_is_a_forced_tool_without_native_structured_output() {
    let body = json!({"model": NO_NATIVE, "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer",
            "schema": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}});
    let r = tr(body.clone(), NO_NATIVE).unwrap();
    assert_eq!(r.json_tool.as_deref(), Some("answer"));
    assert!(r.converse.get("outputConfig").is_none());
    assert_eq!(
        r.converse["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "answer"}})
    );
    assert_eq!(
        param(body.clone(), "amazon.titan-text-express-v1"),
        "response_format"
    );
    // Unresolved (e.g. routed) models get the forced tool too.
    assert_eq!(
        translate(&body, None).unwrap().json_tool.as_deref(),
        Some("answer")
    );
    let mut with_tools = body;
    with_tools["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    assert_eq!(param(with_tools, NO_NATIVE), "response_format");
    // json_object has no schema, so it is a forced tool even where native output exists.
    let obj = json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}],
                     "response_format": {"type": "json_object"}});
    assert_eq!(
        tr(obj, "haiku").unwrap().json_tool.as_deref(),
        Some(JSON_OBJECT_TOOL)
    );
}

#[test]
fn unsupported_parameters_are_refused_by_name() {
    let base = json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}]});
    for (k, v, p) in [
        ("n", json!(2), "n"),
        ("seed", json!(1), "seed"),
        ("logprobs", json!(true), "logprobs"),
        ("frequency_penalty", json!(0.5), "frequency_penalty"),
        ("logit_bias", json!({"1": 2}), "logit_bias"),
        ("audio", json!({}), "audio"),
        ("parallel_tool_calls", json!(false), "parallel_tool_calls"),
        ("store", json!(true), "store"),
        ("stream_options", json!({"foo": 1}), "stream_options.foo"),
        ("modalities", json!(["text", "audio"]), "modalities"),
        ("service_tier", json!("scale"), "service_tier"),
    ] {
        let mut b = base.clone();
        b[k] = v;
        assert_eq!(param(b, "haiku"), p, "{k}");
    }
    // Nulls are absent, not refused; zero penalties are honoured as they are.
    let mut b = base.clone();
    b["seed"] = Value::Null;
    b["presence_penalty"] = json!(0);
    b["frequency_penalty"] = json!(0.0);
    assert!(tr(b, "haiku").is_ok());
    let bad_role = json!({"model": "haiku", "messages": [{"role": "function", "content": "x"}]});
    assert_eq!(param(bad_role, "haiku"), "messages[0].role");
    let named =
        json!({"model": "haiku", "messages": [{"role": "user", "content": "x", "name": "bob"}]});
    assert_eq!(param(named, "haiku"), "messages[0].name");
    let args = json!({"model": "haiku", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]});
    assert_eq!(
        param(args, "haiku"),
        "messages[0].tool_calls[0].function.arguments"
    );
    let none = json!({"model": "haiku", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"});
    assert_eq!(param(none, "haiku"), "tool_choice");
}

#[test]
fn answers_map_back() {
    let out = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "t1", "name": "get", "input": {"city": "Oslo"}}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "cacheReadInputTokens": 2},
        "model": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "cost": {"total": "0.000031"},
    });
    let v = to_openai(&out, None, "r1");
    assert_eq!(v["id"], "chatcmpl-r1");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
               "prompt_tokens_details": {"cached_tokens": 2}})
    );
    assert_eq!(v["cost"]["total"], "0.000031");
    let j = to_openai(&out, Some("get"), "r1");
    assert_eq!(j["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        j["choices"][0]["message"]["content"],
        "Checking.{\"city\":\"Oslo\"}"
    );
    for (s, f) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
    ] {
        assert_eq!(finish_reason(s, false), f);
    }
}

fn frames(b: &Bytes) -> Vec<String> {
    std::str::from_utf8(b)
        .unwrap()
        .split("\n\n")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn stream_chunks_tool_calls_usage_and_done() {
    let mut f = OpenAiStream::new("r", "m".into(), true, false);
    let ev = |n: &str, v: Value| (n.to_owned(), v);
    let first = f.event(&ev("messageStart", json!({"role": "assistant"})));
    assert!(frames(&first)[0].starts_with("data: {"));
    assert!(
        !f.event(&ev(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}})
        ))
        .is_empty()
    );
    let start = f.event(&ev(
        "contentBlockStart",
        json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "get"}}}),
    ));
    let s: Value = serde_json::from_str(frames(&start)[0].trim_start_matches("data: ")).unwrap();
    assert_eq!(s["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
    assert_eq!(s["choices"][0]["delta"]["tool_calls"][0]["id"], "t");
    let d = f.event(&ev(
        "contentBlockDelta",
        json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\""}}}),
    ));
    let d: Value = serde_json::from_str(frames(&d)[0].trim_start_matches("data: ")).unwrap();
    assert_eq!(
        d["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"a\""
    );
    assert!(
        f.event(&ev("contentBlockStop", json!({"contentBlockIndex": 1})))
            .is_empty()
    );
    assert!(
        f.event(&ev("messageStop", json!({"stopReason": "tool_use"})))
            .is_empty()
    );
    assert!(f.event(&ev("metadata", json!({"usage": {}}))).is_empty());
    let done = frames(
        &f.done(json!({"usage": {"inputTokens": 3, "outputTokens": 4}, "cost": {"total": "1"}})),
    );
    assert_eq!(done.len(), 3);
    let fin: Value = serde_json::from_str(done[0].trim_start_matches("data: ")).unwrap();
    assert_eq!(fin["choices"][0]["finish_reason"], "tool_calls");
    let u: Value = serde_json::from_str(done[1].trim_start_matches("data: ")).unwrap();
    assert_eq!(u["choices"], json!([]));
    assert_eq!(u["usage"]["total_tokens"], 7);
    assert_eq!(u["cost"]["total"], "1");
    assert_eq!(done[2], "data: [DONE]");
    let err = f.error(&GatewayError::timeout("late"), "r");
    let e: Value = serde_json::from_str(frames(&err)[0].trim_start_matches("data: ")).unwrap();
    assert_eq!(e["error"]["type"], "api_error");
}

#[test]
fn stream_without_usage_ends_with_finish_then_done() {
    let mut f = OpenAiStream::new("r", "m".into(), false, true);
    f.event(&("messageStop".into(), json!({"stopReason": "tool_use"})));
    let done = frames(&f.done(json!({"usage": {}})));
    assert_eq!(done.len(), 2);
    assert!(done[0].contains("\"finish_reason\":\"stop\""));
}

/// Found by the `compat_request` fuzz target: a `max_tokens` over 2^31 - 1 was translated, then
/// refused by the Converse reader under its own field name.
#[test]
fn token_counts_beyond_32_bits_are_refused_by_their_own_name() {
    for key in ["max_tokens", "max_completion_tokens"] {
        let body = json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}], key: 4_444_444_100u64});
        assert_eq!(param(body, "haiku"), key);
    }
    let ok = json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}], "max_tokens": i32::MAX});
    assert!(tr(ok, "haiku").is_ok());
}
