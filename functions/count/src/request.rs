//! The `/v1/count` and `/v1/estimate` request body.
//!
//! Two forms, so that a caller can count exactly what it is about to send:
//! - Converse: the `/v1/converse` body as it is (`model` + `messages`, `system`, `toolConfig`,
//!   `inferenceConfig`, ...).
//! - Native: `{"model": "...", "native": {...}}`, where `native` is the model family's own
//!   InvokeModel body (what `/v1/invoke/{model}` takes).
//!
//! `/v1/estimate` adds `models` (candidates compared in one call) and `expected_output_tokens`.

use std::collections::HashSet;

use inference_core::CountInput;
use inference_core::catalog::ModelEntry;
use inference_core::{Gateway, GatewayError, native};
use serde_json::{Map, Value};

/// Most candidate models one `/v1/estimate` may compare: each can be a CountTokens call.
pub const MAX_MODELS: usize = 20;

/// Which route the body came to (they accept different extra fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Count,
    Estimate,
}

impl Route {
    /// Our own top-level fields, next to the Converse ones.
    fn extra_fields(self) -> &'static [&'static str] {
        match self {
            Route::Count => &["model", "native"],
            Route::Estimate => &["model", "models", "native", "expected_output_tokens"],
        }
    }
}

/// A parsed, validated request.
#[derive(Debug)]
pub struct CountRequest {
    /// The body as received: the local estimator reads it directly.
    pub body: Value,
    /// The input validated once, for CountTokens (shared by every candidate model).
    pub input: CountInput,
    /// Model names in the caller's order, without repeats.
    pub models: Vec<String>,
    /// `expected_output_tokens` (estimate only): output to price instead of `maxTokens`.
    pub expected_output_tokens: Option<u64>,
    /// Whether `models` was given (the answer is then a list).
    pub compare: bool,
}

impl CountRequest {
    /// Validates `body` for `route`. Errors are 400 naming the field, or the model errors of
    /// [`Gateway::requested_model`] (no model and no deployment default).
    pub fn parse(gateway: &Gateway, route: Route, body: Value) -> Result<Self, GatewayError> {
        let obj = body
            .as_object()
            .ok_or_else(|| GatewayError::invalid_request("request body must be a JSON object"))?;
        // CountTokens would read s3Location sources with this function's role too.
        gateway.check_sources(&body)?;
        let input = match obj.get("native") {
            Some(native) => {
                only_fields(obj, route.extra_fields())?;
                CountInput::native(native)?
            }
            None => {
                require_messages(obj)?;
                CountInput::converse(&body, route.extra_fields())?
            }
        };
        let (models, compare) = model_names(gateway, &body)?;
        let expected_output_tokens = match obj.get("expected_output_tokens") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| *n <= u64::from(u32::MAX))
                    .ok_or_else(|| {
                        GatewayError::invalid_request(
                            "expected_output_tokens: expected a non-negative integer",
                        )
                    })?,
            ),
        };
        Ok(CountRequest {
            body,
            input,
            models,
            expected_output_tokens,
            compare,
        })
    }

    /// The native body, when the request is in native form.
    pub fn native(&self) -> Option<&Value> {
        self.body.get("native")
    }

    /// The `maxTokens` the caller asked for with `model`: `inferenceConfig.maxTokens`, or the
    /// family's own field in a native body (`max_tokens`, `max_gen_len`, ...).
    pub fn requested_max_tokens(&self, model: &ModelEntry) -> Option<i64> {
        match &self.input {
            CountInput::Converse(parts) => parts.max_tokens(),
            CountInput::Native(_) => native::max_tokens_pointer(model)
                .and_then(|p| self.native()?.pointer(p))
                .and_then(Value::as_i64),
        }
    }
}

/// A native body carries its own input: Converse fields next to it would be ignored silently.
fn only_fields(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), GatewayError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(GatewayError::invalid_request(format!(
            "{k}: not allowed with `native` (the native body holds the whole input)"
        ))),
        None => Ok(()),
    }
}

/// Bedrock refuses a Converse request without messages; say so before counting nothing.
fn require_messages(obj: &Map<String, Value>) -> Result<(), GatewayError> {
    match obj.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => Ok(()),
        Some(Value::Array(_)) => Err(GatewayError::invalid_request(
            "messages: must not be empty (at least one user message)",
        )),
        Some(_) => Err(GatewayError::invalid_request("messages: expected an array")),
        None => Err(GatewayError::invalid_request(
            "messages: required (or give a native InvokeModel body as `native`)",
        )),
    }
}

/// `model` and `models`, merged in that order without repeats (case-insensitive); the
/// deployment's default model when neither is given.
fn model_names(gateway: &Gateway, body: &Value) -> Result<(Vec<String>, bool), GatewayError> {
    let mut names: Vec<String> = Vec::new();
    // Linear in the list, and stops past the limit: a long list of names cannot pin the
    // function (it used to compare every name with every other).
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |name: &str| -> bool {
        let name = name.trim();
        if seen.insert(name.to_ascii_lowercase()) {
            names.push(name.to_owned());
        }
        names.len() <= MAX_MODELS
    };
    let mut within_limit = true;
    let listed = match body.get("models") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(list),
        Some(_) => {
            return Err(GatewayError::invalid_request(
                "models: expected an array of model names",
            ));
        }
    };
    if body.get("model").is_some_and(|m| !m.is_null()) || listed.is_none() {
        within_limit = push(&gateway.requested_model(body)?);
    }
    for (i, m) in listed.into_iter().flatten().enumerate() {
        if !within_limit {
            break;
        }
        match m.as_str().map(str::trim) {
            Some(s) if !s.is_empty() => within_limit = push(s),
            _ => {
                return Err(GatewayError::invalid_request(format!(
                    "models[{i}]: expected a model name"
                )));
            }
        }
    }
    if names.is_empty() {
        return Err(GatewayError::invalid_request(
            "models: must name at least one model",
        ));
    }
    if names.len() > MAX_MODELS {
        return Err(GatewayError::invalid_request(format!(
            "models: at most {MAX_MODELS} different models per call, got more"
        )));
    }
    Ok((names, listed.is_some()))
}
