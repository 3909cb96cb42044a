//! Refusals the typed request must keep exactly as the JSON walk gave them: serde alone would
//! take a variant's index for a tag, read `null` as absent, or stop at another fault first.

use serde_json::{Value, json};

use super::translate;

fn refusal(body: Value) -> (String, String) {
    let e = translate(&body, None).unwrap_err();
    (e.param.unwrap_or_default(), e.error.to_string())
}

fn msgs(m: Value) -> Value {
    json!({"model": "m", "messages": [m]})
}

#[test]
fn tags_must_be_strings() {
    let (p, m) = refusal(msgs(json!({"role": 1, "content": "x"})));
    assert_eq!(p, "messages[0].role");
    assert!(m.ends_with("messages[0].role: expected a string"), "{m}");
    let (p, m) = refusal(msgs(
        json!({"role": "user", "content": [{"type": 0, "text": "x"}]}),
    ));
    assert_eq!(p, "messages[0].content[0]");
    assert!(
        m.contains("content part type \"\" is not supported (text, image_url)"),
        "{m}"
    );
    let mut b = msgs(json!({"role": "user", "content": "x"}));
    b["response_format"] = json!({"type": 2});
    assert_eq!(refusal(b).0, "response_format.type");
}

#[test]
fn the_first_offending_key_in_name_order_is_refused() {
    let mut b = msgs(json!({"role": "bot"}));
    b["zeta"] = json!(1);
    b["n"] = json!(2);
    b["audio"] = json!({});
    assert_eq!(refusal(b.clone()).0, "audio");
    b["audio"] = Value::Null;
    assert_eq!(refusal(b.clone()).0, "n");
    b["n"] = json!(1);
    assert_eq!(refusal(b.clone()).0, "zeta");
    b["zeta"] = Value::Null;
    assert_eq!(refusal(b).0, "messages[0].role");
    let so =
        json!({"model": "m", "messages": [], "stream_options": {"a": 1, "include_usage": "x"}});
    assert_eq!(refusal(so).0, "stream_options.a");
}

#[test]
fn nulls_are_absent_only_where_they_were() {
    let mut b = msgs(json!({"role": "user", "content": "x"}));
    b["stream_options"] = json!({"include_usage": null});
    assert_eq!(refusal(b).0, "stream_options.include_usage");
    let tool = msgs(json!({"role": "tool", "tool_call_id": "c", "content": "r", "name": null}));
    assert_eq!(refusal(tool).0, "messages[0].name");
    let meta = json!({"model": "m", "messages": [], "metadata": {"k": null}});
    assert_eq!(refusal(meta).0, "metadata.k");
}

#[test]
fn a_user_text_part_is_named_as_a_one_part_list() {
    let b = msgs(json!({"role": "user", "content": [{"type": "text", "text": "a", "x": 1}]}));
    assert_eq!(refusal(b).0, "messages[0].content[0][0].x");
}
