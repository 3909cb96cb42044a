//! JSON <-> SDK conversion for Converse.
//!
//! The SDK's Converse types are not serde types, and callers speak the JSON of Bedrock's API (the
//! shape boto3 users know). [`request`] turns a request body into SDK values, checking every field
//! and naming its path in errors (`messages[2].content[0]: unknown block "txt"`); [`response`] and
//! [`stream`] turn SDK output back into that JSON (blobs as base64).

pub mod blocks;
pub mod output;
pub mod request;
pub mod response;
pub mod stream;

use aws_smithy_types::{Document, Number};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::error::GatewayError;

pub use request::ConverseParts;
pub use response::{converse_output_to_json, usage_from_sdk};
pub use stream::{stream_event_name, stream_event_to_json};

/// Free JSON -> Smithy `Document` (tool inputs, schemas, additional fields).
pub fn json_to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(json_to_document).collect()),
        Value::Object(o) => Document::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_document(v)))
                .collect(),
        ),
    }
}

/// Smithy `Document` -> JSON. Non-finite floats (which JSON cannot hold) become `null`.
pub fn document_to_json(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(document_to_json).collect()),
        Document::Object(o) => {
            // Sorted, so output is deterministic (the SDK's map is a HashMap).
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), document_to_json(&o[k])))
                    .collect(),
            )
        }
    }
}

/// Base64 text for a blob.
pub fn b64(bytes: &[u8]) -> Value {
    Value::String(B64.encode(bytes))
}

/// An `f32` as the JSON number it was written as (`0.7`, not `0.699999988`).
pub fn f32_json(f: f32) -> Value {
    f.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A field path for error messages: `messages[2].content[0].image`.
#[derive(Debug, Clone)]
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn root(name: &str) -> Path {
        Path(name.to_owned())
    }
    pub(crate) fn key(&self, k: &str) -> Path {
        if self.0.is_empty() {
            Path(k.to_owned())
        } else {
            Path(format!("{}.{k}", self.0))
        }
    }
    pub(crate) fn idx(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }
    pub(crate) fn err(&self, msg: impl std::fmt::Display) -> GatewayError {
        if self.0.is_empty() {
            GatewayError::invalid_request(msg.to_string())
        } else {
            GatewayError::invalid_request(format!("{}: {msg}", self.0))
        }
    }
}

type R<T> = Result<T, GatewayError>;

pub(crate) fn obj<'a>(v: &'a Value, p: &Path) -> R<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| p.err(format!("expected an object, got {}", kind(v))))
}

pub(crate) fn arr<'a>(v: &'a Value, p: &Path) -> R<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| p.err(format!("expected an array, got {}", kind(v))))
}

pub(crate) fn string(v: &Value, p: &Path) -> R<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| p.err(format!("expected a string, got {}", kind(v))))
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Refuses fields not in `allowed` (a typo would otherwise be silently ignored).
pub(crate) fn only(o: &Map<String, Value>, allowed: &[&str], p: &Path) -> R<()> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(p.err(format!(
            "unknown field {k:?} (expected one of: {})",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

pub(crate) fn required<'a>(o: &'a Map<String, Value>, key: &str, p: &Path) -> R<&'a Value> {
    o.get(key)
        .ok_or_else(|| p.err(format!("missing required field {key:?}")))
}

/// A union: exactly one member, named from `allowed` (`what` names the union in errors).
pub(crate) fn union<'a>(
    v: &'a Value,
    allowed: &[&str],
    what: &str,
    p: &Path,
) -> R<(&'a str, &'a Value)> {
    let o = obj(v, p)?;
    let mut it = o.iter();
    match (it.next(), it.next()) {
        (Some((k, inner)), None) => {
            if allowed.contains(&k.as_str()) {
                Ok((k.as_str(), inner))
            } else {
                Err(p.err(format!(
                    "unknown {what} {k:?} (expected one of: {})",
                    allowed.join(", ")
                )))
            }
        }
        (None, _) => Err(p.err(format!(
            "empty {what}: expected one of: {}",
            allowed.join(", ")
        ))),
        _ => Err(p.err(format!(
            "a {what} has exactly one member, got {}",
            o.keys()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

pub(crate) fn blob(v: &Value, p: &Path) -> R<aws_smithy_types::Blob> {
    let s = v.as_str().ok_or_else(|| p.err("expected base64 text"))?;
    B64.decode(s.as_bytes())
        .map(aws_smithy_types::Blob::new)
        .map_err(|e| p.err(format!("not valid base64: {e}")))
}

/// An SDK string enum from JSON, checked against the values the SDK knows.
pub(crate) fn sdk_enum<T: for<'a> From<&'a str>>(v: &Value, values: &[&str], p: &Path) -> R<T> {
    let s = v
        .as_str()
        .ok_or_else(|| p.err(format!("expected a string, got {}", kind(v))))?;
    if values.contains(&s) {
        Ok(T::from(s))
    } else {
        Err(p.err(format!("{s:?} is not one of: {}", values.join(", "))))
    }
}

pub(crate) fn build_err(
    p: &Path,
    e: aws_smithy_types::error::operation::BuildError,
) -> GatewayError {
    p.err(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1.0e9f64..1.0e9).prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn document_round_trip(v in json_value()) {
            prop_assert_eq!(document_to_json(&json_to_document(&v)), v);
        }
    }

    #[test]
    fn f32_keeps_its_decimal() {
        assert_eq!(f32_json(0.7), serde_json::json!(0.7));
        assert_eq!(f32_json(1.0), serde_json::json!(1.0));
    }
}
