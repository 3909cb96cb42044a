//! Embedding model bodies (Titan and Cohere embed).

use serde_json::{Value, json};

use super::{allowed_keys, require_object, required, str_field};
use crate::errors::{BedrockError, malformed};
use crate::models::{Family, Model};

/// Embedding models: deterministic unit vectors seeded by the input text.
pub fn embed(model: &Model, body: &Value, seed: u64) -> Result<(Value, u32), BedrockError> {
    let obj = require_object(body)?;
    let vector = |text: &str, dims: usize| -> Vec<f64> {
        let mut h = crate::tokens::Fnv(seed);
        h.write(text.as_bytes());
        let mut rng = crate::generate::Rng::new(h.0);
        let v: Vec<f64> = (0..dims).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
            .max(f64::EPSILON);
        v.into_iter()
            .map(|x| ((x / norm) * 1e6).round() / 1e6)
            .collect()
    };
    match model.family {
        Family::TitanEmbed => {
            allowed_keys(
                obj,
                &["inputText", "dimensions", "normalize", "embeddingTypes"],
            )?;
            let text = str_field(obj, "inputText")?;
            let dims = match obj.get("dimensions").map(Value::as_u64) {
                None => 1024,
                Some(Some(d @ (256 | 512 | 1024))) => d as usize,
                Some(_) => return malformed("#/dimensions: must be one of 256, 512, 1024"),
            };
            let tokens = crate::tokens::count_text(text);
            Ok((
                json!({"embedding": vector(text, dims), "inputTextTokenCount": tokens}),
                tokens,
            ))
        }
        _ => {
            allowed_keys(
                obj,
                &[
                    "texts",
                    "images",
                    "input_type",
                    "truncate",
                    "embedding_types",
                ],
            )?;
            let texts = required(obj, "texts")?.as_array().map_or_else(
                || malformed("#/texts: expected type: JSONArray, found: something else"),
                Ok,
            )?;
            str_field(obj, "input_type")?;
            let texts: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
            let tokens = texts.iter().map(|t| crate::tokens::count_text(t)).sum();
            let embeddings: Vec<Vec<f64>> = texts.iter().map(|t| vector(t, 1024)).collect();
            Ok((
                json!({"embeddings": embeddings, "id": format!("{seed:016x}"), "response_type": "embeddings_floats", "texts": texts}),
                tokens,
            ))
        }
    }
}
