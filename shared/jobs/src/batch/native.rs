//! A Converse job as a batch record's `modelInput` (Bedrock batch takes the model's native
//! InvokeModel body), and a record's `modelOutput` back as the Converse answer's shape.
//!
//! Only Amazon Nova is covered (the batch models in the catalog are Nova), and only text: a
//! request with anything the native body would need translating (tools, documents, images,
//! guardrails, model-specific fields, a tier) is not batchable, and the planner says why.

use serde_json::{Map, Value, json};

use inference_core::catalog::ModelEntry;
use inference_core::family::Family;

/// Converse fields a batchable request may have.
const ALLOWED: [&str; 4] = ["model", "messages", "system", "inferenceConfig"];

/// Why `request` cannot run as a batch record of `model`; `None` when it can.
pub fn blocker(model: &ModelEntry, request: &Value) -> Option<String> {
    if Family::for_model(model) != Some(Family::AmazonNova) {
        return Some(format!(
            "batch records are built for Amazon Nova models only, not {}",
            model.id
        ));
    }
    if !model.on_demand {
        return Some(format!(
            "{} runs only through an inference profile, which the gateway's batch does not use yet",
            model.id
        ));
    }
    let o = request.as_object()?;
    if let Some(k) = o.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Some(format!(
            "the request uses {k}, which batch records do not carry (text messages, system and inferenceConfig only)"
        ));
    }
    let texts_only = |blocks: Option<&Value>| {
        blocks.and_then(Value::as_array).is_some_and(|b| {
            b.iter()
                .all(|c| c.get("text").is_some() && c.as_object().is_some_and(|c| c.len() == 1))
        })
    };
    let messages_ok = o
        .get("messages")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().all(|m| texts_only(m.get("content"))));
    let system_ok = o.get("system").is_none_or(|s| texts_only(Some(s)));
    if !messages_ok || !system_ok {
        return Some("the request has content other than text blocks".into());
    }
    None
}

/// The Nova native body of a batchable Converse `request`, with `max_tokens` (the policy's).
pub fn model_input(request: &Value, max_tokens: u32) -> Value {
    let mut config = Map::new();
    config.insert("max_new_tokens".into(), json!(max_tokens));
    if let Some(c) = request.get("inferenceConfig") {
        for (from, to) in [
            ("temperature", "temperature"),
            ("topP", "top_p"),
            ("stopSequences", "stopSequences"),
        ] {
            if let Some(v) = c.get(from) {
                config.insert(to.into(), v.clone());
            }
        }
    }
    let mut body = json!({
        "schemaVersion": "messages-v1",
        "messages": request.get("messages").cloned().unwrap_or(Value::Array(vec![])),
        "inferenceConfig": config,
    });
    if let Some(system) = request.get("system") {
        body["system"] = system.clone();
    }
    body
}

/// The Converse answer's `output` and `stopReason` from a Nova `modelOutput` (the same shape:
/// Nova's native answer is Converse's).
pub fn answer(model_output: &Value) -> Value {
    json!({
        "output": model_output.get("output").cloned().unwrap_or(Value::Null),
        "stopReason": model_output.get("stopReason").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use inference_core::catalog::Catalog;

    fn model(name: &str) -> ModelEntry {
        Catalog::embedded().unwrap().by_name(name).unwrap().clone()
    }

    fn text_request() -> Value {
        json!({
            "model": "nova-lite",
            "system": [{"text": "be brief"}],
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.2, "topP": 0.9}
        })
    }

    #[test]
    fn text_requests_to_nova_are_batchable() {
        assert_eq!(blocker(&model("nova-lite"), &text_request()), None);
        let body = model_input(&text_request(), 50);
        assert_eq!(body["schemaVersion"], "messages-v1");
        assert_eq!(body["inferenceConfig"]["max_new_tokens"], 50);
        assert_eq!(body["inferenceConfig"]["top_p"], 0.9);
        assert_eq!(body["system"][0]["text"], "be brief");
        assert_eq!(body["messages"][0]["content"][0]["text"], "hi");
    }

    #[test]
    fn anything_else_says_why_not() {
        let mut r = text_request();
        r["toolConfig"] = json!({"tools": []});
        assert!(
            blocker(&model("nova-lite"), &r)
                .unwrap()
                .contains("toolConfig")
        );
        let mut r = text_request();
        r["messages"][0]["content"][0] = json!({"image": {"format": "png"}});
        assert!(
            blocker(&model("nova-lite"), &r)
                .unwrap()
                .contains("other than text")
        );
        assert!(
            blocker(&model("haiku"), &text_request())
                .unwrap()
                .contains("Amazon Nova models only")
        );
    }

    #[test]
    fn answers_keep_output_and_stop_reason() {
        let out = json!({"output": {"message": {"role": "assistant", "content": [{"text": "yo"}]}},
                         "stopReason": "end_turn", "usage": {"inputTokens": 3, "outputTokens": 1}});
        let a = answer(&out);
        assert_eq!(a["output"]["message"]["content"][0]["text"], "yo");
        assert_eq!(a["stopReason"], "end_turn");
    }
}
