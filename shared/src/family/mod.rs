//! Model families as one closed enum. What differs per family is matched on [`Family`], never on
//! the catalog's provider and family strings: the native body's `maxTokens` field and usage
//! (`native`), the texts the local filter reads in native bodies, answers and streams (`guard`),
//! and the token estimate's coefficients (`estimate`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::catalog::ModelEntry;
use crate::error::GatewayError;

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
