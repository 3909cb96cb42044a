//! Amazon Titan text and embeddings: `inputText` in, `results[]` out.

use serde_json::Value;

use super::n;
use crate::cost::Usage;
use crate::text_walk::{Visit, visit_key};

/// The output-token limit in the native body.
pub(super) const MAX_TOKENS: &str = "/textGenerationConfig/maxTokenCount";

/// What the estimator needs to find in a native body.
pub(super) const INPUT_FIELDS: &str = "`inputText`";

pub(super) fn usage(body: &Value) -> Usage {
    let output = match body.get("results").and_then(Value::as_array) {
        Some(results) => results.iter().map(|r| n(r, "/tokenCount")).sum(),
        None => 0,
    };
    // Embeddings answer `inputTextTokenCount` too.
    Usage::new(n(body, "/inputTextTokenCount"), output)
}

pub(super) fn input_texts(body: &mut Value, f: &mut Visit) {
    visit_key(body, "inputText", "body", f)
}

pub(super) fn output_texts(body: &mut Value, f: &mut Visit) {
    if let Some(Value::Array(results)) = body.get_mut("results") {
        for (i, r) in results.iter_mut().enumerate() {
            visit_key(r, "outputText", &format!("results[{i}]"), f);
        }
    }
}
