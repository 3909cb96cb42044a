//! Guardrails on every path, end to end through the real SDK against `bedrock-local`:
//! the deployment's Bedrock guardrail (bedrock-local's `demo`: denied words `forbidden`,
//! `badword`; `[[say:WORD]]` makes the model write WORD as its 6th word), caller guardrails, and
//! the local content filter on input and output, whole and streamed.
//!
//! The stream chunk-boundary case: bedrock-local streams one word per delta and every answer
//! without tool results opens with "Hello from bedrock-local.", so the denied term
//! `from bedrock-local` reaches the gateway split across two deltas (and never appears in the
//! prompt, which the input filter would catch first).

mod support;

use bytes::Bytes;
use inference_core::{CallContext, Gateway};
use serde_json::{Value, json};
use support::{gateway, start};

const DEMO: &[(&str, &str)] = &[
    ("GATEWAY_GUARDRAIL_ID", "demo"),
    ("GATEWAY_GUARDRAIL_VERSION", "1"),
    ("GATEWAY_GUARDRAIL_TRACE", "enabled"),
];

fn ctx() -> CallContext {
    CallContext::new("test").with_request_id("req-g")
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": [{"text": text}]})
}

fn converse_body(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [user(text)]})
}

fn text_of(v: &Value) -> String {
    v["output"]["message"]["content"]
        .as_array()
        .map(|b| b.iter().filter_map(|x| x["text"].as_str()).collect())
        .unwrap_or_default()
}

/// Every event of a ConverseStream, as `(name, payload)`, and the closing summary.
async fn converse_events(gw: &Gateway, body: Value) -> (Vec<(String, Value)>, Value) {
    let mut call = gw
        .converse_stream(body, &ctx())
        .await
        .expect("stream opens");
    let mut events = Vec::new();
    while let Some((name, mut v)) = call.recv().await.expect("event") {
        let inner = v.get_mut(&name).map(Value::take).unwrap_or(v);
        events.push((name, inner));
    }
    (events, call.summary())
}

fn deltas(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(n, _)| n == "contentBlockDelta")
        .filter_map(|(_, v)| v["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

/// Every event of an InvokeModelWithResponseStream and the closing summary.
async fn native_events(gw: &Gateway, model: &str, body: Value) -> (Vec<(String, Value)>, Value) {
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
    let mut call = gw
        .invoke_stream(model, bytes, &ctx())
        .await
        .expect("stream opens");
    let mut events = Vec::new();
    while let Some(e) = call.next_event().await.expect("event") {
        events.push(e);
    }
    (events, call.summary())
}

fn anthropic(text: &str) -> Value {
    json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400,
           "messages": [{"role": "user", "content": text}]})
}

fn anthropic_text(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter_map(|(_, c)| c.pointer("/delta/text").and_then(Value::as_str))
        .collect()
}

// ------------------------------------------------------------------------- Bedrock guardrail

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converse_reports_bedrock_interventions_with_the_full_trace() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, DEMO);

    // Input: a denied word in the prompt.
    let v = gw
        .converse(converse_body("nova-lite", "this is forbidden"), &ctx())
        .await
        .expect("converse");
    assert_eq!(v["stopReason"], "guardrail_intervened");
    assert_eq!(text_of(&v), "Sorry, the model cannot answer this question.");
    let g = &v["guardrail"];
    assert_eq!(g["action"], "intervened");
    assert_eq!(g["source"], "bedrock");
    assert_eq!(g["stage"], "input");
    assert_eq!(g["policies"], json!(["wordPolicy"]));
    // The trace is Bedrock's full JSON, not a summary.
    let words = &v["trace"]["guardrail"]["inputAssessment"]["demo"]["wordPolicy"]["customWords"];
    assert_eq!(
        words[0],
        json!({"match": "forbidden", "action": "BLOCKED", "detected": true})
    );
    assert_eq!(
        g["assessments"]["inputAssessment"]["demo"]["wordPolicy"]["customWords"],
        *words
    );
    let usage = &v["trace"]["guardrail"]["inputAssessment"]["demo"]["invocationMetrics"];
    assert!(
        usage["usage"]["wordPolicyUnits"].as_i64().unwrap() >= 1,
        "{usage}"
    );

    // Output: the model says a denied word.
    let v = gw
        .converse(
            converse_body("nova-lite", "Tell me [[say:forbidden]]"),
            &ctx(),
        )
        .await
        .expect("converse");
    assert_eq!(v["stopReason"], "guardrail_intervened");
    assert_eq!(
        text_of(&v),
        "Sorry, the model cannot provide this response."
    );
    assert_eq!(v["guardrail"]["stage"], "output");
    assert_eq!(v["guardrail"]["policies"], json!(["wordPolicy"]));

    // Clean: no `guardrail` field.
    let v = gw
        .converse(converse_body("nova-lite", "Hello there"), &ctx())
        .await
        .expect("converse");
    assert!(v.get("guardrail").is_none(), "{v}");

    // Without trace, the intervention is still reported (policies unknown).
    let gw = gateway(
        &emu.url,
        &[
            ("GATEWAY_GUARDRAIL_ID", "demo"),
            ("GATEWAY_GUARDRAIL_VERSION", "1"),
        ],
    );
    let v = gw
        .converse(converse_body("nova-lite", "this is forbidden"), &ctx())
        .await
        .expect("converse");
    assert_eq!(v["guardrail"]["action"], "intervened");
    assert_eq!(v["guardrail"]["policies"], json!([]));
    assert!(v["guardrail"].get("assessments").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converse_stream_intervention_mid_stream_is_an_event_before_done() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, DEMO);
    let (events, summary) = converse_events(
        &gw,
        converse_body("haiku", "Go on [[say:forbidden]] [[len:200]]"),
    )
    .await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let d = deltas(&events);
    // Some words stream before the intervention, which replaces the rest.
    assert!(d.len() >= 3, "{names:?}");
    let text = d.concat();
    assert!(text.starts_with("Hello from bedrock-local."), "{text}");
    assert!(
        text.ends_with("Sorry, the model cannot provide this response."),
        "{text}"
    );
    assert!(!text.contains("forbidden"));
    let stop = events.iter().find(|(n, _)| n == "messageStop").unwrap();
    assert_eq!(stop.1["stopReason"], "guardrail_intervened");
    let (last, g) = events.last().unwrap();
    assert_eq!(last, "guardrail", "{names:?}");
    assert_eq!(g["source"], "bedrock");
    assert_eq!(g["policies"], json!(["wordPolicy"]));
    assert_eq!(summary["guardrail"], *g);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_invoke_and_stream_report_bedrock_interventions() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, DEMO);
    let reply = gw
        .invoke_native(
            "haiku",
            Bytes::from(serde_json::to_vec(&anthropic("Hi [[say:forbidden]]")).unwrap()),
            &ctx(),
        )
        .await
        .expect("invoke");
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["amazon-bedrock-guardrailAction"], "INTERVENED");
    let first = &reply.guardrail.items()[0];
    assert_eq!(
        (first.action, first.policies.clone()),
        ("intervened", vec!["wordPolicy".to_owned()])
    );

    let (events, summary) =
        native_events(&gw, "haiku", anthropic("Go on [[say:badword]] [[len:200]]")).await;
    assert!(anthropic_text(&events).contains("Sorry, the model cannot provide this response."));
    let (last, g) = events.last().unwrap();
    assert_eq!(last, "guardrail");
    assert_eq!(g["action"], "intervened");
    assert_eq!(g["policies"], json!(["wordPolicy"]));
    assert_eq!(summary["guardrail"], *g);
}

// ------------------------------------------------------------------------- caller guardrails

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_guardrails_are_refused_or_added_never_replacing() {
    let rules = std::env::temp_dir().join(format!("guardrails-{}.json", std::process::id()));
    std::fs::write(
        &rules,
        r#"{"guardrails": [{"id": "strict", "versions": ["1"], "deniedWords": ["secret"],
            "regexes": [{"name": "GREETING", "pattern": "Hello from", "action": "BLOCKED"}],
            "blockedInputMessaging": "Input blocked.", "blockedOutputsMessaging": "Output blocked."}]}"#,
    )
    .unwrap();
    let emu = start(&["--guardrails", rules.to_str().unwrap()]);
    let strict = json!({"guardrailIdentifier": "strict", "guardrailVersion": "1"});

    // Not allowed: refused, not silently dropped; the deployment's own is accepted.
    let gw = gateway(&emu.url, DEMO);
    let mut body = converse_body("nova-lite", "Hello");
    body["guardrailConfig"] = strict.clone();
    let e = gw.converse(body, &ctx()).await.unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(
        e.message().contains("GATEWAY_ALLOW_CALLER_GUARDRAIL"),
        "{e}"
    );
    let mut body = converse_body("nova-lite", "Hello");
    body["guardrailConfig"] = json!({"guardrailIdentifier": "demo", "guardrailVersion": "1"});
    gw.converse(body, &ctx())
        .await
        .expect("the deployment's own guardrail");

    // Allowed: applied in addition, on input and on output.
    let mut vars = DEMO.to_vec();
    vars.push(("GATEWAY_ALLOW_CALLER_GUARDRAIL", "true"));
    let gw = gateway(&emu.url, &vars);
    let mut body = converse_body("nova-lite", "tell me the secret");
    body["guardrailConfig"] = strict.clone();
    let v = gw.converse(body, &ctx()).await.expect("converse");
    assert_eq!(v["stopReason"], "guardrail_intervened");
    assert_eq!(text_of(&v), "Input blocked.");
    assert_eq!(v["guardrail"]["source"], "caller");
    assert_eq!(v["guardrail"]["stage"], "input");
    assert_eq!(v["guardrail"]["policies"], json!(["wordPolicy"]));

    // (Every bedrock-local answer opens with "Hello from bedrock-local.": the rule above
    // matches the output, never this prompt.)
    let mut body = converse_body("nova-lite", "Go on");
    body["guardrailConfig"] = strict.clone();
    let v = gw.converse(body, &ctx()).await.expect("converse");
    assert_eq!(text_of(&v), "Output blocked.");
    assert_eq!(v["stopReason"], "guardrail_intervened");
    assert_eq!(v["guardrail"]["stage"], "output");
    assert_eq!(
        v["guardrail"]["policies"],
        json!(["sensitiveInformationPolicy"])
    );

    // The deployment's still applies.
    let mut body = converse_body("nova-lite", "this is forbidden");
    body["guardrailConfig"] = strict.clone();
    let v = gw.converse(body, &ctx()).await.expect("converse");
    assert_eq!(v["guardrail"]["source"], "bedrock");

    // Streams cannot run a second guardrail around the call: refused.
    let mut body = converse_body("nova-lite", "Hello");
    body["guardrailConfig"] = strict;
    let e = gw.converse_stream(body, &ctx()).await.unwrap_err();
    assert_eq!(e.status(), 400);
    let _ = std::fs::remove_file(rules);
}

// ------------------------------------------------------------------------- local filter

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filter_blocks_and_masks_input() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, &[("GATEWAY_PII_POLICY", "email=mask")]);

    // Default policy blocks SSNs, cards and AWS keys on every path, naming the kind only.
    let e = gw
        .converse(converse_body("nova-lite", "My SSN is 123-45-6789"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(
        (e.status().as_u16(), e.error_type()),
        (400, "guardrail_blocked")
    );
    assert!(
        e.message()
            .starts_with("messages[0].content[0].text: contains"),
        "{e}"
    );
    assert!(
        e.message().contains("(ssn)") && !e.message().contains("6789"),
        "{e}"
    );
    let e = gw
        .converse_stream(converse_body("haiku", "key AKIAIOSFODNN7EXAMPLE"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "guardrail_blocked");
    let titan = json!({"inputText": "card 4111 1111 1111 1111", "textGenerationConfig": {"maxTokenCount": 50}});
    let e = gw
        .invoke_native("titan-express", Bytes::from(titan.to_string()), &ctx())
        .await
        .unwrap_err();
    assert!(e.message().contains("(card)"), "{e}");
    let e = gw
        .invoke_stream(
            "haiku",
            Bytes::from(anthropic("SSN 123-45-6789").to_string()),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "guardrail_blocked");

    // Masked input is what reaches the model: bedrock-local quotes a tool result back.
    let body = json!({"model": "nova-lite", "messages": [
        user("look it up"),
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "owner is jane.doe@example.com"}]}}]},
    ], "toolConfig": {"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]}});
    let v = gw.converse(body, &ctx()).await.expect("converse");
    let text = text_of(&v);
    assert!(text.contains("owner is [EMAIL]"), "{text}");
    assert!(!text.contains('@'));
    assert_eq!(v["guardrail"]["source"], "local");
    assert_eq!(v["guardrail"]["stage"], "input");
    assert_eq!(v["guardrail"]["action"], "masked");
    assert_eq!(v["guardrail"]["policies"], json!(["email"]));
}

const MASK_TERM: &[(&str, &str)] = &[
    ("GATEWAY_PII_POLICY", "denied=mask"),
    ("GATEWAY_DENIED_TERMS", "from bedrock-local"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filter_masks_output_on_every_path_across_chunk_boundaries() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, MASK_TERM);

    let v = gw
        .converse(converse_body("nova-lite", "Hi"), &ctx())
        .await
        .expect("converse");
    assert!(
        text_of(&v).starts_with("Hello [DENIED]."),
        "{}",
        text_of(&v)
    );
    assert_eq!(v["guardrail"]["action"], "masked");
    assert_eq!(v["guardrail"]["stage"], "output");
    assert_eq!(v["guardrail"]["policies"], json!(["denied"]));

    // ConverseStream: the term arrives as " from" + " bedrock-local." (two deltas).
    let unfiltered = gateway(&emu.url, &[("GATEWAY_PII_POLICY", "off")]);
    let (raw, _) = converse_events(&unfiltered, converse_body("haiku", "Hi [[len:40]]")).await;
    let raw = deltas(&raw);
    assert_eq!(raw[..3], ["Hello", " from", " bedrock-local."], "{raw:?}");
    let (events, summary) = converse_events(&gw, converse_body("haiku", "Hi [[len:40]]")).await;
    let text = deltas(&events).concat();
    assert_eq!(
        text,
        raw.concat().replacen("from bedrock-local", "[DENIED]", 1)
    );
    let (last, g) = events.last().unwrap();
    assert_eq!(
        (last.as_str(), g["action"].as_str()),
        ("guardrail", Some("masked"))
    );
    assert_eq!(summary["guardrail"], *g);
    assert!(events.iter().any(|(n, _)| n == "metadata"));

    // Native, whole and streamed.
    let reply = gw
        .invoke_native("haiku", Bytes::from(anthropic("Hi").to_string()), &ctx())
        .await
        .expect("invoke");
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    assert!(
        body["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Hello [DENIED].")
    );
    assert_eq!(reply.guardrail.items()[0].action, "masked");
    let (events, _) = native_events(&gw, "haiku", anthropic("Hi [[len:40]]")).await;
    assert!(
        anthropic_text(&events).starts_with("Hello [DENIED]."),
        "{events:?}"
    );
    let llama = json!({"prompt": "Hi", "max_gen_len": 100});
    let (events, _) = native_events(&gw, "meta.llama3-1-8b-instruct-v1:0", llama).await;
    let text: String = events
        .iter()
        .filter_map(|(_, c)| c["generation"].as_str())
        .collect();
    assert!(text.starts_with("Hello [DENIED]."), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filter_blocks_output_whole_and_mid_stream() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, &[("GATEWAY_DENIED_TERMS", "from bedrock-local")]);

    let v = gw
        .converse(converse_body("nova-lite", "Hi"), &ctx())
        .await
        .expect("converse");
    assert_eq!(v["stopReason"], "guardrail_intervened");
    assert_eq!(
        text_of(&v),
        "The response was withheld: it contained a denied term (denied), which this deployment's content policy blocks."
    );
    assert_eq!(v["guardrail"]["action"], "blocked");

    let (events, summary) = converse_events(&gw, converse_body("haiku", "Hi [[len:200]]")).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(deltas(&events).concat(), "Hello ");
    assert_eq!(
        names[names.len() - 3..],
        ["contentBlockStop", "messageStop", "guardrail"],
        "{names:?}"
    );
    assert_eq!(
        events[events.len() - 2].1["stopReason"],
        "guardrail_intervened"
    );
    assert_eq!(summary["guardrail"]["action"], "blocked");
    assert_eq!(summary["guardrail"]["policies"], json!(["denied"]));

    let (events, _) = native_events(&gw, "haiku", anthropic("Hi [[len:200]]")).await;
    assert_eq!(anthropic_text(&events), "Hello ");
    assert_eq!(events.last().unwrap().0, "guardrail");
}

// ------------------------------------------------------------------------- tool calls

/// The prompt that makes bedrock-local call `send_mail` with `note` set to `value`. The value is
/// written with a JSON escape (`\u0040` for `@`, `\u002d` for `-`), so the prompt itself holds
/// no entity (the input filter would catch it first) while the model's tool input does.
fn tool_prompt(value: &str) -> String {
    format!(r#"use tool send_mail [[tool_input:{{"note":"{value}"}}]]"#)
}

const EMAIL_ESCAPED: &str = r"jane.doe\u0040example.com";
const SSN_ESCAPED: &str = r"123\u002d45\u002d6789";

fn converse_tools(model: &str, value: &str) -> Value {
    json!({"model": model, "messages": [user(&tool_prompt(value))],
        "toolConfig": {"tools": [{"toolSpec": {"name": "send_mail", "description": "Sends mail",
            "inputSchema": {"json": {"type": "object", "properties": {"note": {"type": "string"}}}}}}]}})
}

fn anthropic_tools(value: &str) -> Value {
    json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400,
        "messages": [{"role": "user", "content": tool_prompt(value)}],
        "tools": [{"name": "send_mail", "description": "Sends mail",
            "input_schema": {"type": "object", "properties": {"note": {"type": "string"}}}}]})
}

fn tool_use(v: &Value) -> Option<&Value> {
    v["output"]["message"]["content"]
        .as_array()?
        .iter()
        .find_map(|b| b.get("toolUse"))
}

/// The streamed tool input, whole (ConverseStream `toolUse.input` or Anthropic `partial_json`).
fn streamed_input(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter_map(|(_, v)| {
            v.pointer("/delta/toolUse/input")
                .or(v.pointer("/delta/partial_json"))
                .and_then(Value::as_str)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filter_masks_and_blocks_model_tool_calls() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, &[("GATEWAY_PII_POLICY", "email=mask")]);
    let unfiltered = gateway(&emu.url, &[("GATEWAY_PII_POLICY", "off")]);
    let raw = unfiltered
        .converse(converse_tools("nova-lite", EMAIL_ESCAPED), &ctx())
        .await
        .expect("converse");
    assert_eq!(
        tool_use(&raw).expect("a tool call")["input"]["note"],
        "jane.doe@example.com",
        "the emulator sends the address"
    );

    // Converse: masked in the tool input; blocked withholds the call.
    let v = gw
        .converse(converse_tools("nova-lite", EMAIL_ESCAPED), &ctx())
        .await
        .expect("converse");
    assert_eq!(
        tool_use(&v).expect("a tool call")["input"]["note"],
        "[EMAIL]"
    );
    assert_eq!(v["stopReason"], "tool_use");
    assert_eq!(
        (&v["guardrail"]["stage"], &v["guardrail"]["action"]),
        (&json!("output"), &json!("masked"))
    );
    let v = gw
        .converse(converse_tools("nova-lite", SSN_ESCAPED), &ctx())
        .await
        .expect("converse");
    assert!(tool_use(&v).is_none(), "{v}");
    assert!(!v.to_string().contains("6789"), "{v}");
    assert_eq!(v["stopReason"], "guardrail_intervened");
    assert!(text_of(&v).contains("(ssn)"), "{v}");
    assert_eq!(v["guardrail"]["action"], "blocked");

    // ConverseStream: the tool-use block arrives whole at its end, filtered.
    let (events, _) = converse_events(&gw, converse_tools("haiku", EMAIL_ESCAPED)).await;
    let input: Value = serde_json::from_str(&streamed_input(&events)).expect("tool input JSON");
    assert_eq!(input["note"], "[EMAIL]");
    assert!(!format!("{events:?}").contains('@'));
    let (events, summary) = converse_events(&gw, converse_tools("haiku", SSN_ESCAPED)).await;
    assert!(
        !events
            .iter()
            .any(|(n, v)| n == "contentBlockStart" && v.pointer("/start/toolUse").is_some()),
        "{events:?}"
    );
    assert!(!format!("{events:?}").contains("6789"));
    let stop = events.iter().find(|(n, _)| n == "messageStop").unwrap();
    assert_eq!(stop.1["stopReason"], "guardrail_intervened");
    assert_eq!(summary["guardrail"]["action"], "blocked");

    // Native Anthropic, whole and streamed.
    let reply = gw
        .invoke_native(
            "haiku",
            Bytes::from(anthropic_tools(EMAIL_ESCAPED).to_string()),
            &ctx(),
        )
        .await
        .expect("invoke");
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    let call = body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .expect("tool_use block");
    assert_eq!(call["input"]["note"], "[EMAIL]");
    let (events, _) = native_events(&gw, "haiku", anthropic_tools(EMAIL_ESCAPED)).await;
    let input: Value = serde_json::from_str(&streamed_input(&events)).expect("tool input JSON");
    assert_eq!(input["note"], "[EMAIL]");
    let (events, summary) = native_events(&gw, "haiku", anthropic_tools(SSN_ESCAPED)).await;
    assert!(!format!("{events:?}").contains("6789"));
    assert_eq!(summary["guardrail"]["action"], "blocked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filter_reads_tool_definitions_on_input() {
    let emu = start(&[]);
    let gw = gateway(&emu.url, &[]);
    let mut body = converse_tools("nova-lite", "x");
    body["toolConfig"]["tools"][0]["toolSpec"]["description"] =
        json!("Mails the owner of card 4111 1111 1111 1111");
    let e = gw.converse(body.clone(), &ctx()).await.unwrap_err();
    assert_eq!(e.error_type(), "guardrail_blocked");
    assert!(
        e.message()
            .starts_with("toolConfig.tools[0].toolSpec.description: contains"),
        "{e}"
    );
    let e = gw.converse_stream(body, &ctx()).await.unwrap_err();
    assert_eq!(e.error_type(), "guardrail_blocked");
    let mut body = anthropic_tools("x");
    body["tools"][0]["input_schema"]["properties"]["note"]["description"] =
        json!("e.g. 123-45-6789");
    let e = gw
        .invoke_native("haiku", Bytes::from(body.to_string()), &ctx())
        .await
        .unwrap_err();
    assert!(
        e.message()
            .starts_with("tools[0].input_schema.properties.note.description"),
        "{e}"
    );
}
