//! What every list operation and every created resource share: `nextToken` pages and the
//! 12-character lowercase IDs Bedrock puts at the end of its ARNs.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::errors::BedrockError;

/// Where a page starts: `nextToken` as the previous page wrote it (`page-N`), or the start.
pub fn start(q: &HashMap<String, String>) -> Result<usize, BedrockError> {
    match q.get("nextToken") {
        None => Ok(0),
        Some(t) => t
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| BedrockError::Validation("The provided nextToken is not valid.".into())),
    }
}

/// `{key: [up to max items from start], "nextToken"?}`.
pub fn page<T>(
    items: &[T],
    start: usize,
    max: usize,
    key: &str,
    json: impl Fn(&T) -> Value,
) -> Value {
    let page: Vec<Value> = items.iter().skip(start).take(max).map(json).collect();
    let mut out = json!({ key: page });
    if start + max < items.len() {
        out["nextToken"] = json!(format!("page-{}", start + max));
    }
    out
}

/// A resource ID as Bedrock writes it in ARNs: 12 lowercase letters and digits.
pub fn short_id() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(12)
        .collect()
}
