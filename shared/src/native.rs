//! InvokeModel bodies per model family: where `maxTokens` lives and where usage is reported
//! (each family's rules are in `family/`; Bedrock's own stream metrics come first).
//!
//! The SDK's InvokeModel output exposes the body and content type but not Bedrock's
//! `X-Amzn-Bedrock-Input-Token-Count` / `-Output-Token-Count` headers, so usage is read from the
//! model's own JSON, family by family.

use serde_json::Value;

use crate::catalog::{Mode, ModelEntry};
use crate::cost::Usage;
use crate::family::{Family, n};

/// Where a chat model's native request body keeps the output-token limit, as a JSON pointer
/// (`None` for other modes, e.g. embeddings, and unknown families).
pub fn max_tokens_pointer(model: &ModelEntry) -> Option<&'static str> {
    if model.mode != Mode::Chat {
        return None;
    }
    Family::for_model(model).map(Family::max_tokens_pointer)
}

/// Sets the output-token limit at `pointer`, creating intermediate objects.
pub fn set_pointer(body: &mut Value, pointer: &str, value: Value) -> bool {
    let mut cur = body;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let Some(obj) = cur.as_object_mut() else {
            return false;
        };
        if i == parts.len() - 1 {
            obj.insert((*part).to_owned(), value);
            return true;
        }
        cur = obj
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    false
}

/// Usage from a native response body (or the last stream chunk) of `model`, per family.
pub fn usage_from_body(model: &ModelEntry, body: &Value) -> Usage {
    // Streamed chunks of every family carry Bedrock's own metrics at the end.
    if let Some(m) = body.get("amazon-bedrock-invocationMetrics") {
        return Usage {
            input_tokens: n(m, "/inputTokenCount"),
            output_tokens: n(m, "/outputTokenCount"),
            cache_read_tokens: n(m, "/cacheReadInputTokenCount"),
            cache_write_5m_tokens: n(m, "/cacheWriteInputTokenCount"),
            cache_write_1h_tokens: 0,
        };
    }
    Family::for_model(model).map_or_else(Usage::default, |f| f.usage(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The catalog entry of `name`.
    fn m(name: &str) -> ModelEntry {
        crate::catalog::Catalog::embedded()
            .unwrap()
            .by_name(name)
            .unwrap()
            .clone()
    }

    #[test]
    fn usage_per_family() {
        let a = json!({"usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50, "cache_creation": {"ephemeral_1h_input_tokens": 20}}});
        assert_eq!(
            usage_from_body(&m("haiku"), &a),
            Usage {
                input_tokens: 10,
                output_tokens: 5,
                cache_read_tokens: 100,
                cache_write_5m_tokens: 30,
                cache_write_1h_tokens: 20
            }
        );
        // A stream's message_start: the same usage under `message`.
        let start = json!({"type": "message_start", "message": a.clone()});
        assert_eq!(
            usage_from_body(&m("haiku"), &start),
            usage_from_body(&m("haiku"), &a)
        );
        let nova = json!({"usage": {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10}});
        assert_eq!(usage_from_body(&m("nova-lite"), &nova), Usage::new(7, 3));
        let titan =
            json!({"inputTextTokenCount": 4, "results": [{"tokenCount": 6, "outputText": "x"}]});
        assert_eq!(
            usage_from_body(&m("titan-text-express"), &titan),
            Usage::new(4, 6)
        );
        let embed = json!({"embedding": [0.1], "inputTextTokenCount": 9});
        assert_eq!(
            usage_from_body(&m("titan-embed-v2"), &embed),
            Usage::new(9, 0)
        );
        let llama =
            json!({"generation": "hi", "prompt_token_count": 11, "generation_token_count": 2});
        assert_eq!(
            usage_from_body(&m("llama-3.1-8b"), &llama),
            Usage::new(11, 2)
        );
        let chunk = json!({"amazon-bedrock-invocationMetrics": {"inputTokenCount": 8, "outputTokenCount": 9}});
        assert_eq!(
            usage_from_body(&m("mistral-large"), &chunk),
            Usage::new(8, 9)
        );
        assert_eq!(
            usage_from_body(&m("mistral-large"), &json!({"outputs": []})),
            Usage::default()
        );
    }

    #[test]
    fn max_tokens_fields() {
        let mut b = json!({"messages": []});
        assert!(set_pointer(
            &mut b,
            max_tokens_pointer(&m("nova-lite")).unwrap(),
            json!(100)
        ));
        assert_eq!(b["inferenceConfig"]["maxTokens"], 100);
        let mut t = json!({"inputText": "x"});
        set_pointer(
            &mut t,
            max_tokens_pointer(&m("titan-text-express")).unwrap(),
            json!(5),
        );
        assert_eq!(t["textGenerationConfig"]["maxTokenCount"], 5);
        assert_eq!(max_tokens_pointer(&m("haiku")), Some("/max_tokens"));
        assert_eq!(max_tokens_pointer(&m("llama-3.1-8b")), Some("/max_gen_len"));
        assert_eq!(max_tokens_pointer(&m("embed-english")), None);
        assert!(!set_pointer(&mut json!([1]), "/a", json!(1)));
    }
}
