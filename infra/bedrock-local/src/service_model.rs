//! Every request is first checked against the published service model, as Bedrock checks it
//! before anything else: the same constraints, the same `ValidationException` message
//! (`service-model` holds the model and the checker; its generated cases test this module too).

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use service_model::{Kind, Placement, ServiceModel};

use crate::errors::BedrockError;

/// What an operation's request carried outside its JSON body, by the names the wire uses.
#[derive(Default)]
pub struct Wire<'a> {
    /// Path labels by the model's names (`modelId`, `guardrailIdentifier`, `invocationArn`).
    pub labels: &'a [(&'a str, &'a str)],
    pub headers: Option<&'a HeaderMap>,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
}

/// Reads `operation`'s JSON body and checks it, with the path labels, against the model.
pub fn json_body(
    operation: &str,
    bytes: &[u8],
    labels: &[(&str, &str)],
) -> Result<Value, BedrockError> {
    let mut json: Value = serde_json::from_slice(bytes).map_err(|e| {
        BedrockError::Validation(format!("The request body is not valid JSON: {e}"))
    })?;
    let wire = Wire {
        labels,
        ..Wire::default()
    };
    check(operation, &wire, Some(&mut json))?;
    Ok(json)
}

/// Checks `operation`'s input: `body` (a JSON object, or `None` for a raw payload) together with
/// the members `wire` carries.
pub fn check(
    operation: &str,
    wire: &Wire<'_>,
    body: Option<&mut Value>,
) -> Result<(), BedrockError> {
    let model = ServiceModel::bedrock_runtime();
    let Some(op) = model.operations.get(operation) else {
        return Ok(());
    };
    let shape = model.shape(&op.input);
    let mut located = Map::new();
    for (name, member) in &shape.members {
        let Some(place) = member.location else {
            continue;
        };
        let wire_name = member.location_name.as_deref().unwrap_or(name);
        let raw = match place {
            Placement::Uri => wire
                .labels
                .iter()
                .find(|(k, _)| *k == wire_name)
                .map(|(_, v)| (*v).to_owned()),
            Placement::Header => wire
                .headers
                .and_then(|h| h.get(wire_name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            Placement::Querystring => wire
                .query
                .iter()
                .find(|(k, _)| k == wire_name)
                .map(|(_, v)| v.clone()),
        };
        let Some(raw) = raw else { continue };
        // A number that does not parse stays a string: the operation's own reader names it.
        let value = match model.shape(&member.shape).kind {
            Kind::Integer | Kind::Long => {
                raw.parse::<i64>().map_or(Value::String(raw), Value::from)
            }
            _ => Value::String(raw),
        };
        located.insert(name.clone(), value);
    }
    let mut empty = Value::Object(Map::new());
    let input = body.unwrap_or(&mut empty);
    let Some(o) = input.as_object_mut() else {
        return Ok(()); // not an object: the operation's reader says so
    };
    // Members that travel outside the body win over a body field of the same name, as on the
    // wire; the body is put back as it came.
    let displaced: Vec<(String, Option<Value>)> = located
        .into_iter()
        .map(|(k, v)| {
            let old = o.insert(k.clone(), v);
            (k, old)
        })
        .collect();
    let result = model.check(&op.input, input);
    if let Some(o) = input.as_object_mut() {
        for (k, old) in displaced {
            match old {
                Some(v) => o.insert(k, v),
                None => o.remove(&k),
            };
        }
    }
    result.map_err(|v| BedrockError::Validation(v.to_string()))
}
