//! Unit tests: Responses request -> Converse, Converse answer and stream -> Responses.

use serde_json::{Value, json};

use super::*;
use crate::pump::Format;

fn converse(body: Value) -> (Value, Dropped) {
    let t = translate(&body, None).unwrap();
    (t.chat.converse, t.dropped)
}

fn refusal(body: Value) -> (String, String) {
    let e = translate(&body, None).unwrap_err();
    (e.param.unwrap(), e.error.message().to_owned())
}

#[test]
fn string_input_instructions_and_settings() {
    let (c, dropped) = converse(json!({
        "model": "haiku", "input": "Hi", "instructions": "Be brief.",
        "max_output_tokens": 50, "temperature": 0.5, "top_p": 0.9, "store": false,
        "metadata": {"team": "a"},
    }));
    assert_eq!(c["model"], "haiku");
    assert_eq!(c["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        c["messages"],
        json!([{"role": "user", "content": [{"text": "Hi"}]}])
    );
    assert_eq!(
        c["inferenceConfig"],
        json!({"maxTokens": 50, "temperature": 0.5, "topP": 0.9})
    );
    assert_eq!(c["requestMetadata"], json!({"team": "a"}));
    assert!(dropped.is_empty());
}

#[test]
fn items_function_calls_and_outputs() {
    let (c, _) = converse(json!({"model": "m", "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sys"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "get_weather",
         "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]}));
    assert_eq!(c["system"], json!([{"text": "sys"}]));
    assert_eq!(
        c["messages"],
        json!([
            {"role": "user", "content": [{"text": "weather?"}]},
            {"role": "assistant", "content": [{"text": "Checking."},
                {"toolUse": {"toolUseId": "c1", "name": "get_weather", "input": {"city": "Paris"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "c1", "content": [{"text": "sunny"}]}}]},
        ])
    );
}

#[test]
fn function_tools_and_tool_choice() {
    let (c, _) = converse(json!({"model": "m", "input": "x",
        "tools": [{"type": "function", "name": "f", "description": "d", "strict": false,
                   "parameters": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": true}));
    assert_eq!(
        c["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "f", "description": "d", "strict": false,
            "inputSchema": {"json": {"type": "object", "properties": {}}}}}],
            "toolChoice": {"tool": {"name": "f"}}})
    );
}

#[test]
fn json_schema_format_is_a_forced_tool() {
    let t = translate(
        &json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema",
            "name": "person", "schema": {"type": "object"}, "strict": true}}}),
        None,
    )
    .unwrap();
    assert_eq!(t.chat.json_tool.as_deref(), Some("person"));
    assert_eq!(
        t.chat.converse["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "person"}})
    );
}

/// What Codex 0.171 sends besides the conversation: kept working, each drop named.
#[test]
fn codex_fields_are_dropped_with_a_note() {
    let (c, dropped) = converse(json!({
        "model": "haiku", "stream": true, "store": false, "parallel_tool_calls": true,
        "input": [{"type": "reasoning", "id": "rs_1", "summary": []},
                  {"type": "message", "role": "user", "content": "hi"}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
                  {"type": "namespace", "name": "agents", "tools": []},
                  {"type": "web_search", "external_web_access": false}],
        "tool_choice": "auto", "reasoning": {"summary": "auto"},
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
        "client_metadata": {"a": "b"}, "text": {"verbosity": "low"},
    }));
    assert_eq!(c["toolConfig"]["tools"].as_array().unwrap().len(), 1);
    assert_eq!(
        dropped.header_text(),
        "client_metadata (client telemetry that Bedrock does not take), \
         include[reasoning.encrypted_content] (no encrypted reasoning), \
         prompt_cache_key (Bedrock caches prompts at cache points rather than by key), \
         reasoning.summary (Bedrock returns no reasoning summaries), \
         text.verbosity (Bedrock has no verbosity setting), \
         tools[1] (namespace tool: namespaced tools are not supported), \
         tools[2] (web_search tool: no web search on Bedrock), \
         input[0] (reasoning items are not replayed to Bedrock)"
    );
}

#[test]
fn stateless_and_unknown_fields_are_refused_by_name() {
    for (field, value) in [
        ("store", json!(true)),
        ("previous_response_id", json!("resp_1")),
        ("conversation", json!("c")),
    ] {
        let mut body = json!({"model": "m", "input": "x"});
        body[field] = value;
        let (param, message) = refusal(body);
        assert_eq!(param, field);
        assert!(message.contains("stateless"), "{message}");
    }
    assert_eq!(
        refusal(json!({"model": "m", "input": "x", "bogus": 1})).0,
        "bogus"
    );
    assert_eq!(
        refusal(json!({"model": "m", "input": "x", "tools": [{"type": "file_search"}]})).0,
        "tools[0].type"
    );
    assert_eq!(
        refusal(json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]})).0,
        "input[0].type"
    );
    assert_eq!(refusal(json!({"model": "m"})).0, "input");
}

/// The chat rules' refusals come back under the Responses names.
#[test]
fn chat_refusals_are_renamed() {
    let cases = [
        (
            json!({"input": "x", "max_output_tokens": 0}),
            "max_output_tokens",
        ),
        (
            json!({"input": "x", "reasoning": {"effort": "extreme"}}),
            "reasoning.effort",
        ),
        (
            json!({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]}),
            "input[0].arguments",
        ),
        (
            json!({"input": [{"type": "function_call_output", "output": "r"}]}),
            "input[0].call_id",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x"}]}]}),
            "input[0].content[0].image_url.url",
        ),
        (
            json!({"input": "x", "tools": [{"type": "function", "name": "f", "parameters": 3}]}),
            "tools[0].parameters",
        ),
        (
            json!({"input": "x", "text": {"format": {"type": "json_schema", "schema": {}}}}),
            "text.format.name",
        ),
    ];
    for (body, want) in cases {
        let (param, message) = refusal(body.clone());
        assert_eq!(param, want, "{body}");
        assert!(message.starts_with(&format!("{want}: ")), "{message}");
    }
}

fn shell(json_tool: bool) -> Shell {
    Shell::new(
        &json!({"input": "x", "instructions": "i", "tools": [{"type": "web_search"}]}),
        "r1",
        json_tool,
    )
}

#[test]
fn converse_answer_to_response() {
    let out = json!({
        "model": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "output": {"message": {"role": "assistant", "content": [
            {"text": "I'll check."},
            {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "cacheReadInputTokens": 2},
        "cost": {"total": "0.001"},
    });
    let r = to_response(&out, &shell(false));
    assert_eq!(r["id"], "resp_r1");
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["instructions"], "i");
    assert_eq!(r["tools"], json!([]));
    assert_eq!(r["output"][0]["type"], "message");
    assert_eq!(r["output"][0]["content"][0]["text"], "I'll check.");
    assert_eq!(
        r["output"][1],
        json!({"type": "function_call", "id": "fc_t1", "call_id": "t1", "name": "get_weather",
               "arguments": "{\"city\":\"Paris\"}", "status": "completed"})
    );
    assert_eq!(
        r["usage"],
        json!({"input_tokens": 12, "input_tokens_details": {"cached_tokens": 2},
               "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": 17})
    );
    assert_eq!(r["cost"]["total"], "0.001");

    let cut =
        json!({"output": {"message": {"content": [{"text": "a"}]}}, "stopReason": "max_tokens"});
    let r = to_response(&cut, &shell(false));
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");

    let json_answer = json!({"output": {"message": {"content": [
        {"toolUse": {"toolUseId": "t", "name": "person", "input": {"name": "Ada"}}}]}},
        "stopReason": "tool_use"});
    let r = to_response(&json_answer, &shell(true));
    assert_eq!(r["output"].as_array().unwrap().len(), 1);
    assert_eq!(r["output"][0]["content"][0]["text"], "{\"name\":\"Ada\"}");
}

/// The SSE events of a stream, as (type, data).
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    std::str::from_utf8(bytes)
        .unwrap()
        .split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (ev, data) = f.split_once('\n').unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            let ty = ev.strip_prefix("event: ").unwrap().to_owned();
            assert_eq!(data["type"], ty.as_str());
            (ty, data)
        })
        .collect()
}

#[test]
fn converse_stream_to_response_events() {
    let mut s = ResponsesStream::new(shell(false), "model-id".into());
    let mut wire = Vec::new();
    for (name, e) in [
        ("messageStart", json!({"role": "assistant"})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "lo"}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 1,
            "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\":"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 1})),
        ("messageStop", json!({"stopReason": "tool_use"})),
    ] {
        wire.extend_from_slice(&s.event(&(name.to_owned(), e)));
    }
    wire.extend_from_slice(&s.done(json!({
        "usage": {"inputTokens": 3, "outputTokens": 4}, "cost": {"total": "0.01"}})));
    let ev = events(&wire);
    let types: Vec<&str> = ev.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let seqs: Vec<u64> = ev
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..15).collect::<Vec<_>>());
    assert_eq!(ev[0].1["response"]["status"], "in_progress");
    assert_eq!(ev[6].1["text"], "Hello");
    assert_eq!(ev[12].1["arguments"], "{\"a\":1}");
    let done = &ev[14].1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["output"][1]["call_id"], "t1");
    assert_eq!(done["output"][1]["arguments"], "{\"a\":1}");
    assert_eq!(done["usage"]["total_tokens"], 7);
    assert_eq!(done["cost"]["total"], "0.01");
}

#[test]
fn stream_closes_open_items_and_reports_errors_in_openai_shape() {
    let mut s = ResponsesStream::new(shell(false), "m".into());
    let mut wire = s
        .event(&(
            "contentBlockDelta".into(),
            json!({"contentBlockIndex": 0, "delta": {"text": "cut"}}),
        ))
        .to_vec();
    s.event(&("messageStop".into(), json!({"stopReason": "max_tokens"})));
    wire.extend_from_slice(&s.done(json!({"usage": {}})));
    let ev = events(&wire);
    let last = ev.last().unwrap();
    assert_eq!(last.0, "response.incomplete");
    assert_eq!(last.1["response"]["output"][0]["content"][0]["text"], "cut");
    let err = s.error(&inference_core::GatewayError::timeout("late"), "r1");
    let ev = events(&err);
    assert_eq!(ev[0].0, "error");
    assert_eq!(ev[0].1["message"], "late");
    assert_eq!(ev[0].1["error"]["message"], "late");
}

/// Errors raised before the handler (a bad key's 401, a wrong method's 405) are reshaped too.
#[test]
fn the_routes_answer_errors_in_openai_shape() {
    use crate::compat::error::{Provider, provider_of};
    for path in ["/v1/responses", "/v1/responses/input_tokens"] {
        assert_eq!(provider_of(path), Some(Provider::OpenAi));
    }
}

#[test]
fn cache_control_on_input_parts_becomes_a_cache_point() {
    let (c, _) = converse(json!({
        "model": "haiku",
        "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "A long document.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "input_text", "text": "The question."},
        ]}],
    }));
    assert_eq!(
        c["messages"][0]["content"],
        json!([
            {"text": "A long document."},
            {"cachePoint": {"type": "default", "ttl": "1h"}},
            {"text": "The question."},
        ])
    );
    // A bad marker is refused under the Responses field that carried it.
    let (param, _) = refusal(json!({
        "model": "haiku",
        "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "x", "cache_control": {"type": "persistent"}},
        ]}],
    }));
    assert!(
        param.starts_with("input[0].content[0].cache_control"),
        "{param}"
    );
}
