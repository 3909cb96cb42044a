//! Model families as one closed enum, and one module per family with what that family's native
//! InvokeModel body and answer look like: where the output-token limit lives, where usage is
//! reported, which fields hold the caller's and the model's texts (read by the local filter), and
//! what the estimator needs to find. What differs per family is matched on [`Family`] here, never
//! on the catalog's provider and family strings. Two things stay with their users, because they
//! are written in those modules' own types: the token estimate's coefficients and body walk
//! (`estimate`) and the stream chunk shapes (`guard::stream`).

mod anthropic;
mod cohere;
mod llama;
mod mistral;
mod nova;
mod titan;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use serde_json::Value;

use crate::catalog::ModelEntry;
use crate::cost::Usage;
use crate::error::GatewayError;
use crate::text_walk::Visit;

/// The model families the gateway knows, one closed set: each has its own tokenizer (and so
/// its own estimate coefficients) and its own native InvokeModel body, answer and stream shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Claude.
    Anthropic,
    /// Amazon Nova.
    AmazonNova,
    /// Amazon Titan (text and embeddings).
    AmazonTitan,
    /// Meta Llama 3.x and 4.
    MetaLlama,
    /// Mistral and Mixtral.
    Mistral,
    /// Cohere Command and Embed.
    Cohere,
}

impl Family {
    /// Every family, in a stable order (tests and the calibration table iterate this).
    pub const ALL: [Family; 6] = [
        Family::Anthropic,
        Family::AmazonNova,
        Family::AmazonTitan,
        Family::MetaLlama,
        Family::Mistral,
        Family::Cohere,
    ];

    /// The family's name in docs, calibration data and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Anthropic => "anthropic",
            Family::AmazonNova => "amazon-nova",
            Family::AmazonTitan => "amazon-titan",
            Family::MetaLlama => "meta-llama",
            Family::Mistral => "mistral",
            Family::Cohere => "cohere",
        }
    }

    /// The family of a catalog entry: its `family` field, else its provider and ID.
    pub fn for_model(entry: &ModelEntry) -> Option<Family> {
        entry.family.parse().ok().or_else(|| {
            let id = entry.id.as_str();
            match entry.provider.as_str() {
                "amazon" if id.contains("nova") => Some(Family::AmazonNova),
                "amazon" if id.contains("titan") => Some(Family::AmazonTitan),
                other => other.parse().ok(),
            }
        })
    }
}

/// A token count at `pointer` in a usage object (0 when absent).
pub(crate) fn n(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Per-family rules, one module each.
impl Family {
    /// Where the native request body keeps the output-token limit, as a JSON pointer.
    pub fn max_tokens_pointer(self) -> &'static str {
        match self {
            Family::Anthropic => anthropic::MAX_TOKENS,
            Family::AmazonNova => nova::MAX_TOKENS,
            Family::AmazonTitan => titan::MAX_TOKENS,
            Family::MetaLlama => llama::MAX_TOKENS,
            Family::Mistral => mistral::MAX_TOKENS,
            Family::Cohere => cohere::MAX_TOKENS,
        }
    }

    /// Usage from a native answer (or stream chunk) in the family's own fields.
    pub fn usage(self, body: &Value) -> Usage {
        match self {
            Family::Anthropic => anthropic::usage(body),
            Family::AmazonNova => nova::usage(body),
            Family::AmazonTitan => titan::usage(body),
            Family::MetaLlama => llama::usage(body),
            Family::Mistral => mistral::usage(body),
            Family::Cohere => cohere::usage(body),
        }
    }

    /// Every caller text of a native body (see `docs/guardrails.md`).
    pub fn input_texts(self, body: &mut Value, f: &mut Visit) {
        match self {
            Family::Anthropic => anthropic::input_texts(body, f),
            Family::AmazonNova => nova::input_texts(body, f),
            Family::AmazonTitan => titan::input_texts(body, f),
            Family::MetaLlama => llama::input_texts(body, f),
            Family::Mistral => mistral::input_texts(body, f),
            Family::Cohere => cohere::input_texts(body, f),
        }
    }

    /// Every model text of a native answer.
    pub fn output_texts(self, body: &mut Value, f: &mut Visit) {
        match self {
            Family::Anthropic => anthropic::output_texts(body, f),
            Family::AmazonNova => nova::output_texts(body, f),
            Family::AmazonTitan => titan::output_texts(body, f),
            Family::MetaLlama => llama::output_texts(body, f),
            Family::Mistral => mistral::output_texts(body, f),
            Family::Cohere => cohere::output_texts(body, f),
        }
    }

    /// The native-body fields the estimator counts, for its error when none is there.
    pub fn input_fields(self) -> &'static str {
        match self {
            Family::Anthropic => anthropic::INPUT_FIELDS,
            Family::AmazonNova => nova::INPUT_FIELDS,
            Family::AmazonTitan => titan::INPUT_FIELDS,
            Family::MetaLlama => llama::INPUT_FIELDS,
            Family::Mistral => mistral::INPUT_FIELDS,
            Family::Cohere => cohere::INPUT_FIELDS,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = GatewayError;

    /// Accepts our names and the catalog's `family`/`provider` strings.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "anthropic" | "claude" => Family::Anthropic,
            "amazon-nova" | "nova" => Family::AmazonNova,
            "amazon-titan" | "titan" => Family::AmazonTitan,
            "meta-llama" | "llama" | "meta" => Family::MetaLlama,
            "mistral" | "mixtral" => Family::Mistral,
            "cohere" | "command" | "embed" => Family::Cohere,
            _ => {
                return Err(GatewayError::invalid_request(format!(
                    "unknown model family {s:?} for token estimation"
                )));
            }
        })
    }
}
