//! Native InvokeModel bodies per model family: parsing into the neutral request (`anthropic`,
//! `families`, `embed`), and the family's own non-streaming response shape (`response`). This
//! module keeps the dispatch and the field readers the parsers share.

mod anthropic;
mod embed;
mod families;
mod response;

pub use embed::embed;
pub use response::{
    NativeExtras, anthropic_content, anthropic_stop, apply_extras, cohere_reason, converse_content,
    openai_finish, response, short_stop, titan_reason,
};

use serde_json::{Map, Value};

use crate::chat::{ChatRequest, Ttl};
use crate::errors::{BedrockError, malformed, validation};
use crate::models::{Family, Model};

/// Token usage of one invocation, including prompt-cache traffic.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Input tokens not served from or written to the cache.
    pub input: u32,
    pub output: u32,
    pub cache_read: u32,
    pub cache_write: u32,
    pub cache_ttl: Option<Ttl>,
}

impl Usage {
    /// Every input token, cached or not (what the token-count headers report).
    pub fn all_input(&self) -> u32 {
        self.input + self.cache_read + self.cache_write
    }
}

fn require_object(body: &Value) -> Result<&Map<String, Value>, BedrockError> {
    body.as_object().map_or_else(
        || malformed("#: expected type: JSONObject, found: something else"),
        Ok,
    )
}

fn allowed_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), BedrockError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return malformed(format!("#: extraneous key [{k}] is not permitted"));
        }
    }
    Ok(())
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a Value, BedrockError> {
    match obj.get(key) {
        Some(v) => Ok(v),
        None => malformed(format!("#: required key [{key}] not found")),
    }
}

fn opt_f64(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, BedrockError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(f) if (0.0..=1.0).contains(&f) => Ok(Some(f)),
            Some(f) => malformed(format!("#/{path}: {f} is not in the range [0, 1]")),
            None => malformed(format!(
                "#/{path}: expected type: Number, found: {}",
                type_name(v)
            )),
        },
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

fn max_int(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    limit: u32,
) -> Result<Option<u32>, BedrockError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n < 1 => malformed(format!("#/{path}: {n} is not greater or equal to 1")),
            Some(n) if n > i64::from(limit) => {
                malformed(format!("#/{path}: {n} is not less or equal to {limit}"))
            }
            Some(n) => Ok(Some(n as u32)),
            None => malformed(format!(
                "#/{path}: expected type: Integer, found: {}",
                type_name(v)
            )),
        },
    }
}

fn string_list(obj: &Map<String, Value>, key: &str) -> Vec<String> {
    obj.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, BedrockError> {
    let v = required(obj, key)?;
    v.as_str().map_or_else(
        || {
            malformed(format!(
                "#/{key}: expected type: String, found: {}",
                type_name(v)
            ))
        },
        Ok,
    )
}

/// Parses a native request body for a text model.
pub fn parse(model: &Model, body: &Value) -> Result<ChatRequest, BedrockError> {
    match model.family {
        Family::Anthropic => anthropic::parse(model, body),
        Family::Nova => families::nova(model, body),
        Family::Titan => families::titan(model, body),
        Family::Llama => families::llama(model, body),
        Family::Mistral => families::mistral(model, body, false),
        Family::MistralChat => families::mistral(model, body, true),
        Family::OpenAiChat => families::openai_chat(model, body),
        Family::Cohere => families::cohere(model, body),
        Family::TitanEmbed | Family::CohereEmbed | Family::NovaReel => {
            validation(crate::models::UNSUPPORTED_ACTION)
        }
    }
}
