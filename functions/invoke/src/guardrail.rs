//! `POST /v1/guardrail/check`: ApplyGuardrail with the deployment's guardrail.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use inference_core::GatewayError;
use inference_core::web::{Ctx, JsonBody};
use serde_json::{Value, json};

use crate::state::AppState;

/// Takes Bedrock's ApplyGuardrail shape (`{"source": "INPUT"|"OUTPUT", "content": [{"text":
/// {"text": ...}}]}`) or the short `{"text": "...", "source": "input"}`. Without a configured
/// guardrail the answer is 404 `not_found`: the thing to check against does not exist here, and
/// no change to the request would help.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Ctx(ctx): Ctx,
    JsonBody(json): JsonBody,
) -> Result<Json<Value>, GatewayError> {
    let gw = &state.gateway;
    if gw.config().guardrail.is_none() {
        return Err(GatewayError::not_found(
            "this deployment has no guardrail configured (GATEWAY_GUARDRAIL_ID)",
        ));
    }
    let body = normalise(json)?;
    Ok(Json(gw.apply_guardrail(body, &ctx).await?))
}

/// Brings the short form to Bedrock's shape and upper-cases `source`, so `inference-core` sees
/// one shape only.
pub fn normalise(mut body: Value) -> Result<Value, GatewayError> {
    let Value::Object(o) = &mut body else {
        return Err(GatewayError::invalid_request(
            "request body must be a JSON object",
        ));
    };
    match o.get("source") {
        None => {}
        Some(Value::String(s)) => {
            let upper = s.to_ascii_uppercase();
            o.insert("source".into(), Value::String(upper));
        }
        Some(_) => {
            return Err(GatewayError::invalid_request(
                "source: expected \"INPUT\" or \"OUTPUT\"",
            ));
        }
    }
    match (o.remove("text"), o.contains_key("content")) {
        (None, _) => {}
        (Some(_), true) => {
            return Err(GatewayError::invalid_request(
                "give either text or content, not both",
            ));
        }
        (Some(Value::String(t)), false) => {
            o.insert("content".into(), json!([{"text": {"text": t}}]));
        }
        (Some(_), false) => {
            return Err(GatewayError::invalid_request("text: expected a string"));
        }
    }
    if !o.contains_key("content") {
        return Err(GatewayError::invalid_request(
            "content: required (or text: the string to check)",
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_becomes_bedrock_shape() {
        let v = normalise(json!({"text": "hi", "source": "output"})).unwrap();
        assert_eq!(
            v,
            json!({"source": "OUTPUT", "content": [{"text": {"text": "hi"}}]})
        );
    }

    #[test]
    fn bedrock_shape_passes_through() {
        let body = json!({"source": "INPUT", "content": [{"text": {"text": "x"}}]});
        assert_eq!(normalise(body.clone()).unwrap(), body);
    }

    #[test]
    fn bad_shapes_are_400() {
        for body in [
            json!({}),
            json!({"text": 3}),
            json!({"source": 1, "text": "x"}),
            json!({"text": "a", "content": []}),
        ] {
            assert_eq!(normalise(body).unwrap_err().status(), 400);
        }
    }
}
