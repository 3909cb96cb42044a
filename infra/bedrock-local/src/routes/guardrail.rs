//! ApplyGuardrail.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawPathParams, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{St, json_response, label, pause, read_body, respond, take_fault};
use crate::errors::{BedrockError, validation};
use crate::server::AppState;
use crate::service_model;
use crate::stats::Op;

pub async fn apply_guardrail(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(apply_call(st, params, body).await)
}

async fn apply_call(
    st: Arc<AppState>,
    params: RawPathParams,
    body: Body,
) -> Result<Response, BedrockError> {
    pause(st.config.latency_ms).await;
    let id = label(&params, "id")?;
    let version = label(&params, "version")?;
    let bytes = read_body(body).await?;
    let json = service_model::json_body(
        Op::ApplyGuardrail.name(),
        &bytes,
        &[("guardrailIdentifier", &id), ("guardrailVersion", &version)],
    )?;
    take_fault(&st, Op::ApplyGuardrail, &[id.as_str()], &bytes, &id)?;
    let rail = st.guardrails.get(&id, &version)?;
    let input_source = match json.get("source").and_then(Value::as_str) {
        Some("INPUT") => true,
        Some("OUTPUT") => false,
        _ => {
            return validation(
                "1 validation error detected: Value at 'source' failed to satisfy constraint: Member must satisfy enum value set: [INPUT, OUTPUT]",
            );
        }
    };
    let content = json.get("content").and_then(Value::as_array).ok_or_else(|| {
        BedrockError::Validation("1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null".into())
    })?;
    let texts: Vec<&str> = content
        .iter()
        .filter_map(|c| {
            c.get("text")
                .and_then(|t| t.get("text"))
                .and_then(Value::as_str)
        })
        .collect();
    let whole = texts.join("\n");
    let a = rail.assess(&whole);
    let outputs: Vec<Value> = if a.blocked {
        let msg = if input_source {
            &rail.blocked_input_messaging
        } else {
            &rail.blocked_outputs_messaging
        };
        vec![json!({"text": msg})]
    } else if a.anonymized {
        texts
            .iter()
            .map(|t| json!({"text": rail.assess(t).masked}))
            .collect()
    } else {
        Vec::new()
    };
    let chars = a.chars;
    let out = json!({
        "usage": rail.usage(chars),
        "action": if a.intervened() { "GUARDRAIL_INTERVENED" } else { "NONE" },
        "actionReason": if a.blocked { "Guardrail blocked." } else if a.anonymized { "Guardrail masked." } else { "No action." },
        "outputs": outputs,
        "assessments": [rail.assessment_json(&a)],
        "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}},
    });
    Ok(json_response(&out))
}
