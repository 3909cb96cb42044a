//! `response_format` natively (`outputConfig`) and `cache_control` parts (`cachePoint`).

use super::*;
use inference_core::Catalog;

fn model(name: &str) -> ModelEntry {
    Catalog::embedded().unwrap().by_name(name).unwrap().clone()
}

fn tr(body: Value, name: &str) -> CResult<ChatRequest> {
    translate(&body, Some(&model(name)))
}

fn refusal(body: Value, name: &str) -> (String, String) {
    let e = tr(body, name).unwrap_err();
    (
        e.param.clone().unwrap_or_default(),
        e.error.message().to_owned(),
    )
}

fn schema_body() -> Value {
    json!({"model": "haiku", "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer",
            "description": "The answer", "strict": true,
            "schema": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}})
}

#[test]
fn response_format_is_native_where_the_catalog_says_so() {
    let r = tr(schema_body(), "haiku").unwrap();
    assert!(r.json_tool.is_none(), "no forced tool");
    assert!(r.converse.get("toolConfig").is_none());
    let js = &r.converse["outputConfig"]["textFormat"];
    assert_eq!(js["type"], "json_schema");
    let def = &js["structure"]["jsonSchema"];
    assert_eq!(def["name"], "answer");
    assert_eq!(def["description"], "The answer");
    // The schema travels as JSON text, as Bedrock's API wants it.
    let schema: Value = serde_json::from_str(def["schema"].as_str().unwrap()).unwrap();
    assert_eq!(schema["required"], json!(["x"]));
    // The gateway's own Converse parser takes it.
    inference_core::convert::ConverseParts::from_json(&r.converse, &["model"]).unwrap();
}

#[test]
fn native_response_format_combines_with_tools_and_reasoning() {
    let mut b = schema_body();
    b["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    b["tool_choice"] = json!("auto");
    b["reasoning_effort"] = json!("low");
    let r = tr(b, "haiku").unwrap();
    assert!(r.converse.get("outputConfig").is_some());
    assert_eq!(
        r.converse["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "f"
    );
    assert!(r.json_tool.is_none());
}

#[test]
fn cache_control_parts_become_cache_points() {
    let body = json!({"model": "haiku", "messages": [
        {"role": "system", "content": [
            {"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "doc", "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
             "cache_control": {"type": "ephemeral", "ttl": "5m"}},
            {"type": "text", "text": "question"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": [
            {"type": "text", "text": "r", "cache_control": {"type": "ephemeral"}}]},
    ]});
    let r = tr(body, "haiku").unwrap();
    let c = &r.converse;
    assert_eq!(
        c["system"],
        json!([{"text": "long rules"}, {"cachePoint": {"type": "default", "ttl": "1h"}}])
    );
    assert_eq!(
        c["messages"][0]["content"],
        json!([
            {"text": "doc"}, {"cachePoint": {"type": "default"}},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
            {"cachePoint": {"type": "default", "ttl": "5m"}},
            {"text": "question"},
        ])
    );
    assert_eq!(
        c["messages"][1]["content"],
        json!([{"text": "a"}, {"cachePoint": {"type": "default"}}])
    );
    // A tool result cannot hold a cache point: it follows the block.
    assert_eq!(
        c["messages"][2]["content"],
        json!([{"toolResult": {"toolUseId": "c1", "content": [{"text": "r"}]}},
               {"cachePoint": {"type": "default"}}])
    );
}

#[test]
fn cache_control_is_checked_and_refused_by_path() {
    let with = |cc: Value| {
        json!({"model": "haiku", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "x", "cache_control": cc}]}]})
    };
    let p = "messages[0].content[0].cache_control";
    for (cc, want) in [
        (json!({"type": "persistent"}), format!("{p}.type")),
        (
            json!({"type": "ephemeral", "ttl": "2h"}),
            format!("{p}.ttl"),
        ),
        (
            json!({"type": "ephemeral", "scope": "x"}),
            format!("{p}.scope"),
        ),
        (json!("ephemeral"), p.to_owned()),
        (json!({}), format!("{p}.type")),
    ] {
        assert_eq!(refusal(with(cc.clone()), "haiku").0, want, "{cc}");
    }
    // null counts as absent.
    assert!(tr(with(Value::Null), "haiku").is_ok());
    // A model without prompt caching in the catalog.
    let (param, msg) = refusal(
        with(json!({"type": "ephemeral"})),
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
    );
    assert_eq!(param, p);
    assert!(msg.contains("prompt caching"), "{msg}");
}

#[test]
fn the_raw_json_mapping_is_the_same() {
    let v = json!({"type": "ephemeral", "ttl": "1h"});
    assert_eq!(
        caching::cache_point(&v, "input[0].cache_control", None).unwrap(),
        Some(json!({"cachePoint": {"type": "default", "ttl": "1h"}}))
    );
    assert_eq!(caching::cache_point(&Value::Null, "x", None).unwrap(), None);
    let e = caching::cache_point(&json!([1]), "x", None).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("x"));
}

#[test]
fn usage_reports_cache_reads_as_cached_tokens() {
    let u = usage(&json!({"inputTokens": 10, "outputTokens": 5,
        "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 200}));
    assert_eq!(u["prompt_tokens"], 1210);
    assert_eq!(u["total_tokens"], 1215);
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 1000);
}
