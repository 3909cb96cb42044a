//! Events for the warm figures that no fixture has as is, derived from the fixtures in
//! `tests/fixtures/events` by changing only the route, path and body: headers and request
//! context stay those of a recorded event.

use bytes::Bytes;
use serde_json::{Value, json};

/// The Anthropic native body of `POST /v1/invoke/{modelId}` (and of the direct InvokeModel).
pub fn anthropic_native_body(text: &str) -> Value {
    json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
    })
}

/// `template` with `body` as its JSON string body (and a matching `content-length`).
pub fn with_body(template: &Value, body: &Value) -> Value {
    let mut ev = template.clone();
    let text = body.to_string();
    if let Some(h) = ev.get_mut("headers").and_then(Value::as_object_mut) {
        h.insert("content-length".into(), json!(text.len().to_string()));
    }
    ev["body"] = json!(text);
    ev
}

/// An API Gateway `POST /v1/invoke/{modelId}` event for `model` (percent-encoded in the path).
pub fn native_invoke(template: &Value, model: &str, body: &Value) -> Bytes {
    let mut ev = with_body(template, body);
    let path = format!("/v1/invoke/{}", model.replace(':', "%3A"));
    ev["rawPath"] = json!(path);
    ev["routeKey"] = json!("POST /v1/invoke/{modelId}");
    ev["pathParameters"] = json!({"modelId": model});
    ev["requestContext"]["http"]["path"] = json!(path);
    ev["requestContext"]["routeKey"] = json!("POST /v1/invoke/{modelId}");
    Bytes::from(ev.to_string())
}

/// The `POST /v1/count` event with another model alias in its body.
pub fn count_for(template: &Value, model: &str) -> Bytes {
    let mut body: Value = template["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_else(|| json!({"messages": [{"role": "user", "content": [{"text": "How many tokens is this?"}]}]}));
    body["model"] = json!(model);
    Bytes::from(with_body(template, &body).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_events_keep_the_template_and_change_the_route() {
        let t = json!({"rawPath": "/v1/invoke/x", "headers": {"content-length": "1"},
                       "requestContext": {"http": {"path": "/v1/invoke/x"}}, "body": "{\"model\":\"sonnet\",\"messages\":[]}"});
        let ev: Value =
            serde_json::from_slice(&native_invoke(&t, "a.b:0", &json!({"k": 1}))).unwrap();
        assert_eq!(ev["rawPath"], "/v1/invoke/a.b%3A0");
        assert_eq!(ev["pathParameters"]["modelId"], "a.b:0");
        assert_eq!(ev["body"], "{\"k\":1}");
        assert_eq!(ev["headers"]["content-length"], "7");
        let ev: Value = serde_json::from_slice(&count_for(&t, "nova-lite")).unwrap();
        let body: Value = serde_json::from_str(ev["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["model"], "nova-lite");
        assert_eq!(body["messages"], json!([]));
    }
}
