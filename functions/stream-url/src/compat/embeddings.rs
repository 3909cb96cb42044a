//! `POST /v1/embeddings` (OpenAI shape) over InvokeModel for the catalog's embedding models:
//! Titan Text Embeddings v2 (one text per call, `dimensions` 256/512/1024) and Cohere Embed
//! (up to 96 texts per call, 1024 dimensions, `input_type` as an extension field).
//!
//! Usage and cost: Titan's answer counts the input tokens; Cohere's body carries none, and
//! inference-core reads Bedrock's token-count headers instead. Only if neither is present are the
//! tokens the local estimate, priced the same way and flagged `usage_estimated`.

use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use inference_core::catalog::{Capability, Mode, ModelEntry};
use inference_core::cost::{Usage, cost_of};
use inference_core::estimate::{Family, estimate_text};
use inference_core::web::{Ctx, JsonBody};
use inference_core::{CallContext, Gateway, GatewayError};
use serde_json::{Map, Value, json};

use super::error::{CResult, CompatError, Provider, refuse};
use super::{json_response, opt};

/// Cohere Embed's batch limit (texts per InvokeModel call).
pub const COHERE_BATCH: usize = 96;

/// What the model family needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Titan Text Embeddings: `{"inputText", "dimensions", "normalize"}` per text.
    Titan,
    /// Cohere Embed: `{"texts", "input_type"}` per batch.
    Cohere,
}

/// A checked embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    /// The texts, in order.
    pub inputs: Vec<String>,
    /// `base64` (little-endian f32) instead of float arrays.
    pub base64: bool,
    /// The native bodies to send, in order; each answers `len` consecutive inputs.
    pub bodies: Vec<(Value, usize)>,
}

/// The family of an embedding model (`None`: not an embedding model this route serves).
pub fn kind_of(m: &ModelEntry) -> Option<Kind> {
    if m.mode != Mode::Embedding {
        return None;
    }
    match (m.provider.as_str(), m.family.as_str()) {
        ("amazon", "titan") => Some(Kind::Titan),
        ("cohere", _) => Some(Kind::Cohere),
        _ => None,
    }
}

/// Texts per request, OpenAI's published limit. Titan embeds one text per model call, so this
/// also bounds the calls one request can make (issue 21: an uncapped list pinned the function).
const MAX_INPUTS: usize = 2048;

/// Checks the request and builds the native bodies for `kind`.
pub fn translate(body: &Value, kind: Kind) -> CResult<EmbeddingsRequest> {
    let o = body
        .as_object()
        .ok_or_else(|| refuse("body", "expected a JSON object"))?;
    let mut base64 = false;
    let mut dimensions = None;
    let mut input_type = None;
    for (k, v) in o {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "model" | "input" | "user" => {}
            "encoding_format" => match v.as_str() {
                Some("float") => base64 = false,
                Some("base64") => base64 = true,
                _ => return Err(refuse("encoding_format", "expected float or base64")),
            },
            "dimensions" => {
                dimensions = Some(
                    v.as_u64()
                        .ok_or_else(|| refuse("dimensions", "expected an integer"))?,
                );
            }
            "input_type" => {
                if kind != Kind::Cohere {
                    return Err(refuse(
                        "input_type",
                        "only Cohere Embed models take input_type",
                    ));
                }
                input_type = Some(
                    v.as_str()
                        .ok_or_else(|| refuse("input_type", "expected a string"))?
                        .to_owned(),
                );
            }
            other => {
                return Err(refuse(
                    other,
                    "is not supported for Bedrock embeddings; remove it",
                ));
            }
        }
    }
    let inputs: Vec<String> = match opt(o, "input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(a)) if !a.is_empty() => {
            return Err(refuse(
                "input",
                "token arrays are not supported: Bedrock embedding models take text",
            ));
        }
        _ => {
            return Err(refuse(
                "input",
                "required: a string or a non-empty array of strings",
            ));
        }
    };
    if inputs.len() > MAX_INPUTS {
        return Err(refuse(
            "input",
            format!(
                "{} texts; at most {MAX_INPUTS} per request (as OpenAI's own limit): split the list",
                inputs.len()
            ),
        ));
    }
    if let Some(i) = inputs.iter().position(|s| s.is_empty()) {
        return Err(refuse(format!("input[{i}]"), "must not be empty"));
    }
    let bodies = match kind {
        Kind::Titan => {
            if let Some(d) = dimensions
                && !matches!(d, 256 | 512 | 1024)
            {
                return Err(refuse(
                    "dimensions",
                    "Titan Text Embeddings v2 offers 256, 512 or 1024",
                ));
            }
            inputs
                .iter()
                .map(|t| {
                    let mut b = json!({"inputText": t, "normalize": true});
                    if let Some(d) = dimensions {
                        b["dimensions"] = json!(d);
                    }
                    (b, 1)
                })
                .collect()
        }
        Kind::Cohere => {
            if dimensions.is_some_and(|d| d != 1024) {
                return Err(refuse(
                    "dimensions",
                    "Cohere Embed v3 returns 1024 dimensions only",
                ));
            }
            let it = input_type.unwrap_or_else(|| "search_document".to_owned());
            inputs
                .chunks(COHERE_BATCH)
                .map(|c| (json!({"texts": c, "input_type": it}), c.len()))
                .collect()
        }
    };
    Ok(EmbeddingsRequest {
        inputs,
        base64,
        bodies,
    })
}

/// A vector as OpenAI's base64 (little-endian f32).
pub fn to_base64(v: &[f64]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect();
    B64.encode(bytes)
}

fn vectors(kind: Kind, answer: &Value) -> Option<Vec<Vec<f64>>> {
    let one = |v: &Value| -> Option<Vec<f64>> { v.as_array()?.iter().map(Value::as_f64).collect() };
    match kind {
        Kind::Titan => Some(vec![one(answer.get("embedding")?)?]),
        Kind::Cohere => {
            let e = answer.get("embeddings")?;
            // `embeddings` is a list, or `{"float": [...]}` when embedding_types was given.
            let list = e.get("float").unwrap_or(e);
            list.as_array()?.iter().map(one).collect()
        }
    }
}

/// The handler.
pub async fn handle(
    State(gw): State<Gateway>,
    Ctx(ctx): Ctx,
    body: Result<JsonBody, GatewayError>,
) -> Response {
    let body = body.map(|JsonBody(v)| v).map_err(CompatError::from);
    match run(&gw, &ctx, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(Provider::OpenAi, &ctx.request_id),
    }
}

async fn run(gw: &Gateway, ctx: &CallContext, body: CResult<Value>) -> CResult<Response> {
    let body = body?;
    let name = match opt(body.as_object().unwrap_or(&Map::new()), "model") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(refuse("model", "required: an embedding model")),
    };
    let known = gw.resolve_known(&name, Capability::Embeddings)?;
    let resolved = known.resolved();
    let kind = kind_of(&resolved.model).ok_or_else(|| {
        refuse(
            "model",
            format!(
                "{} is not an embedding model served here",
                resolved.model.id
            ),
        )
    })?;
    let req = translate(&body, kind)?;
    let mut data = Vec::with_capacity(req.inputs.len());
    let mut usage = Usage::default();
    let mut model_id = resolved.target.id();
    for (native, n) in &req.bodies {
        let reply = gw
            .invoke_native(&known, Bytes::from(native.to_string()), ctx)
            .await?;
        model_id = reply.model.invoked.clone();
        let answer: Value = serde_json::from_slice(&reply.body)
            .map_err(|_| GatewayError::internal("the model's answer is not JSON"))?;
        let vs = vectors(kind, &answer)
            .filter(|vs| vs.len() == *n)
            .ok_or_else(|| GatewayError::internal("the model's answer has no embeddings"))?;
        for v in vs {
            let index = data.len();
            let embedding = if req.base64 {
                json!(to_base64(&v))
            } else {
                json!(v)
            };
            data.push(json!({"object": "embedding", "index": index, "embedding": embedding}));
        }
        usage.add(&reply.usage);
    }
    let estimated = kind == Kind::Cohere && usage.input_tokens == 0;
    if estimated {
        usage.input_tokens = req
            .inputs
            .iter()
            .map(|t| u64::from(estimate_text(Family::Cohere, t)))
            .sum();
    }
    let mut cost = cost_of(&gw.catalog(), &resolved.model, resolved.pricing, &usage);
    cost.estimate = estimated;
    let cost_text = cost.total_text();
    let mut v = json!({
        "object": "list",
        "data": data,
        "model": model_id,
        "usage": {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens},
        "cost": cost.to_json(),
    });
    if estimated {
        v["usage_estimated"] = json!(true);
    }
    Ok(json_response(&v, Some(&cost_text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titan_is_one_call_per_text() {
        let r = translate(
            &json!({"model": "titan-embed", "input": ["a", "b"], "dimensions": 256, "encoding_format": "base64"}),
            Kind::Titan,
        )
        .unwrap();
        assert!(r.base64);
        assert_eq!(r.bodies.len(), 2);
        assert_eq!(
            r.bodies[1].0,
            json!({"inputText": "b", "normalize": true, "dimensions": 256})
        );
    }

    #[test]
    fn cohere_batches_by_96() {
        let input: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let r = translate(
            &json!({"model": "m", "input": input, "input_type": "search_query"}),
            Kind::Cohere,
        )
        .unwrap();
        assert_eq!(
            r.bodies.iter().map(|b| b.1).collect::<Vec<_>>(),
            vec![96, 4]
        );
        assert_eq!(r.bodies[0].0["input_type"], "search_query");
    }

    #[test]
    fn refusals() {
        let p = |b: Value, k: Kind| translate(&b, k).unwrap_err().param.unwrap();
        assert_eq!(
            p(json!({"input": "a", "dimensions": 300}), Kind::Titan),
            "dimensions"
        );
        assert_eq!(
            p(json!({"input": "a", "dimensions": 256}), Kind::Cohere),
            "dimensions"
        );
        assert_eq!(p(json!({"input": [[1, 2]]}), Kind::Titan), "input");
        assert_eq!(
            p(json!({"input": "a", "input_type": "x"}), Kind::Titan),
            "input_type"
        );
        assert_eq!(
            p(
                json!({"input": "a", "encoding_format": "int8"}),
                Kind::Titan
            ),
            "encoding_format"
        );
        assert_eq!(p(json!({"input": ["a", ""]}), Kind::Titan), "input[1]");
        let many: Vec<String> = (0..=MAX_INPUTS).map(|i| format!("t{i}")).collect();
        assert_eq!(p(json!({"input": many}), Kind::Titan), "input");
        assert!(translate(&json!({"input": many[1..]}), Kind::Cohere).is_ok());
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let b = B64.decode(to_base64(&[1.0, -0.5])).unwrap();
        assert_eq!(b, [1.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat());
    }
}
