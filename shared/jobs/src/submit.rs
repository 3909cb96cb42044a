//! `POST /v1/jobs` bodies: parsed and checked up front (model resolves and is allowed, the
//! request converts, `maxTokens` fits, the webhook URL is safe), so a job that cannot run is a
//! 400 now rather than a failed job later.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::id::IdempotencyKey;
use super::record::JobKind;
use super::url_guard::{UrlPolicy, WebhookUrl};
use inference_core::catalog::Capability;
use inference_core::convert::ConverseParts;
use inference_core::error::GatewayError;
use inference_core::pipeline::Gateway;

/// Largest stored request (the record holds it, and a DynamoDB item is at most 400 KB).
pub const MAX_STORED_REQUEST_BYTES: usize = 300_000;

/// A checked submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// How it runs.
    pub kind: JobKind,
    /// The model ID it resolved to.
    pub model: String,
    /// What to run: the Converse request, or `{"model", "native"}`.
    pub request: Value,
    /// Where to report.
    pub webhook_url: Option<WebhookUrl>,
    /// The caller's key.
    pub idempotency_key: Option<IdempotencyKey>,
    /// SHA-256 of the canonical submission (request and webhook URL).
    pub request_hash: String,
}

fn invalid(m: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(m)
}

/// Parses and checks a submission; resolves the webhook host (DNS) when it is a name.
pub async fn validate(
    gw: &Gateway,
    body: Value,
    policy: UrlPolicy,
) -> Result<Submission, GatewayError> {
    let Value::Object(mut o) = body else {
        return Err(invalid("request body must be a JSON object"));
    };
    if let Some(k) = o.keys().find(|k| {
        ![
            "request",
            "native",
            "model",
            "webhook_url",
            "idempotency_key",
        ]
        .contains(&k.as_str())
    }) {
        return Err(invalid(format!(
            "unknown field {k:?}; expected request (a Converse request), or native and model, plus optional webhook_url and idempotency_key"
        )));
    }
    let idempotency_key = match o.remove("idempotency_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(IdempotencyKey::parse(&k)?),
        Some(_) => return Err(invalid("idempotency_key: expected a string")),
    };
    let webhook_url = match o.remove("webhook_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => {
            let url = WebhookUrl::parse(&u, policy)?;
            url.resolve(policy).await?;
            Some(url)
        }
        Some(_) => return Err(invalid("webhook_url: expected a string")),
    };
    let (kind, model, request) = match (o.remove("request"), o.remove("native"), o.remove("model"))
    {
        (Some(request @ Value::Object(_)), None, None) => {
            let name = gw.requested_model(&request)?;
            let parts =
                ConverseParts::from_json(&request, &["model"]).map_err(|e| e.context("request"))?;
            if parts.messages.is_empty() {
                // Bedrock would refuse it at run time; refuse it now.
                return Err(invalid(
                    "request.messages: at least one message is required",
                ));
            }
            // The key's default tier is applied when the job runs (its caller is known then).
            let prepared = gw.prepare(&name, &parts, Capability::Converse, None)?;
            (
                JobKind::Converse,
                prepared.resolved.model.id.to_string(),
                request,
            )
        }
        (Some(_), None, None) => {
            return Err(invalid(
                "request: expected a JSON object (a Converse request)",
            ));
        }
        (None, Some(native @ Value::Object(_)), Some(Value::String(model))) => {
            let resolved = gw.resolve_allowed(&model, Capability::AsyncInvoke)?;
            crate::async_invoke::check_video_seconds(&native)?;
            let id = resolved.model.id.to_string();
            (
                JobKind::AsyncInvoke,
                id.clone(),
                json!({"model": id, "native": native}),
            )
        }
        (None, Some(_), Some(Value::String(_))) => {
            return Err(invalid(
                "native: expected a JSON object (the model's own body)",
            ));
        }
        (None, Some(_), _) => {
            return Err(invalid(
                "model: required with native (a model run with StartAsyncInvoke, e.g. amazon.nova-reel-v1:0)",
            ));
        }
        (Some(_), _, _) => {
            return Err(invalid(
                "give either request, or native and model; not both",
            ));
        }
        (None, None, _) => {
            return Err(invalid(
                "request: required (a Converse request as for /v1/converse)",
            ));
        }
    };
    let stored = serde_json::to_vec(&request)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if stored > MAX_STORED_REQUEST_BYTES {
        return Err(
            GatewayError::payload_too_large(stored, MAX_STORED_REQUEST_BYTES)
                .context("job request"),
        );
    }
    let request_hash = hash(&json!({
        "kind": kind.as_str(),
        "request": request,
        "webhook_url": webhook_url.as_ref().map(WebhookUrl::as_str),
    }));
    Ok(Submission {
        kind,
        model,
        request,
        webhook_url,
        idempotency_key,
        request_hash,
    })
}

/// SHA-256 (hex) of a value's canonical JSON (object keys sorted at every level), so the same
/// request hashes the same whatever order its keys were sent in.
pub fn hash(v: &Value) -> String {
    hex::encode(Sha256::digest(canonical(v).to_string().as_bytes()))
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut m = Map::new();
            for k in keys {
                m.insert(k.clone(), canonical(&o[k]));
            }
            Value::Object(m)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_ignore_key_order_but_not_content() {
        let a = json!({"a": 1, "b": {"y": [1, 2], "x": "s"}});
        let b = json!({"b": {"x": "s", "y": [1, 2]}, "a": 1});
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(
            hash(&a),
            hash(&json!({"a": 1, "b": {"x": "s", "y": [2, 1]}}))
        );
    }
}
