//! Local token estimate, used by `count` when Bedrock's CountTokens can't be (the model doesn't
//! support it, or the call failed).
//!
//! Text is counted by [`classes::count_classes`] (words, numbers, punctuation, whitespace runs,
//! CJK characters, ...) and the counts are weighted with per-family coefficients fitted offline
//! against real tokenizers by `infra/count-calibration/calibrate.py` (see
//! `docs/token-estimates.md` for the method and the measured error). Requests add a small
//! per-request/per-message overhead; images are counted by the model's documented rule where there
//! is one; everything else (documents, video, images without a rule) is reported in
//! [`Estimate::not_countable`] instead of being counted as zero.
//!
//! Entry points: [`estimate_text`], [`estimate_request`] (Converse-shaped bodies) and
//! [`estimate_native`] (InvokeModel bodies, per family).

pub mod classes;
mod coefficients;
mod converse;
pub mod corpus;
pub mod image;
mod native;
mod tally;

use serde::Serialize;
use serde_json::Value;

use crate::error::GatewayError;

pub use classes::{CLASS_NAMES, ClassCounts, N_CLASSES, count_classes};

pub use crate::family::Family;

impl Family {
    /// Where this family's coefficients come from (the exact tokenizer or the proxy).
    pub fn reference(self) -> &'static str {
        coefficients::of(self).reference
    }
}

/// What a part of a request is, when it can't be counted locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Image,
    Document,
    Video,
    Audio,
    /// Encrypted reasoning (`redactedContent` / `redacted_thinking`): its size in tokens is not
    /// visible.
    RedactedReasoning,
    /// A block type this estimator does not know.
    Unknown,
}

/// A part that was left out of the count, and why: the caller must not read the total as
/// complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotCountable {
    /// JSON path in the request, e.g. `messages[0].content[1]`.
    pub path: String,
    pub kind: PartKind,
    pub reason: String,
    /// An upper bound on the part's tokens where its size gives one (encrypted reasoning
    /// cannot hold more tokens than bytes); `None`: only the model's context window bounds it.
    #[serde(skip)]
    pub bound_tokens: Option<u64>,
}

/// An estimate of a request's input tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Estimate {
    /// Total: `text_tokens + image_tokens + overhead_tokens`. Does not include the parts in
    /// `not_countable`, so it is a lower bound whenever that list is non-empty.
    pub tokens: u32,
    /// Estimated from text (message text, tool definitions, tool inputs and results).
    pub text_tokens: u32,
    /// Counted by a documented per-image rule (see `docs/token-estimates.md`).
    pub image_tokens: u32,
    /// Prompt-template overhead: per request, per message, tool-use system prompt.
    pub overhead_tokens: u32,
    /// Number of parts counted by a documented rule rather than estimated (images).
    pub exact_parts: u32,
    /// Parts left out of `tokens`.
    pub not_countable: Vec<NotCountable>,
}

impl Estimate {
    /// Whether every part of the request was counted.
    pub fn is_complete(&self) -> bool {
        self.not_countable.is_empty()
    }

    /// Input tokens that cannot be exceeded on a model taking at most `max_input` input tokens:
    /// the count plus each uncounted part's bound, or `max_input` when a part has none (a PDF,
    /// a video, an S3 object). Budgets and rate limits reserve this, not the lower bound.
    pub fn upper_bound(&self, max_input: u64) -> u64 {
        let mut total = u64::from(self.tokens);
        for part in &self.not_countable {
            match part.bound_tokens {
                Some(b) => total = total.saturating_add(b),
                None => return max_input.max(u64::from(self.tokens)),
            }
        }
        total.min(max_input.max(u64::from(self.tokens)))
    }
}

/// Estimated tokens for `text` as `family`'s tokenizer would count it (no template overhead).
/// Fast: one pass over the characters, no allocation.
pub fn estimate_text(family: Family, text: &str) -> u32 {
    let counts = count_classes(text);
    let tokens = tokens_for_counts(family, &counts);
    if text.is_empty() { 0 } else { tokens.max(1) }
}

/// Tokens for already-counted classes: `round(sum(coef_milli * count) / 1000)`, in integers so
/// Rust and the calibration script compute exactly the same number.
pub fn tokens_for_counts(family: Family, counts: &ClassCounts) -> u32 {
    let coef = coefficients::of(family).coef_milli;
    let milli = counts
        .0
        .iter()
        .zip(coef.iter())
        .fold(0u64, |acc, (&n, &c)| {
            acc.saturating_add(n.saturating_mul(u64::from(c)))
        });
    u32::try_from(milli.saturating_add(500) / 1000).unwrap_or(u32::MAX)
}

/// Estimate for a Converse-shaped request body (`system`, `messages`, `toolConfig`), as our
/// `/v1/count` and `/v1/converse` accept it (image and document bytes base64-encoded).
///
/// Errors (400 `invalid_request`) only for a body whose shape is wrong (e.g. `messages` not an
/// array); unknown block types are reported in `not_countable`, not refused.
pub fn estimate_request(family: Family, request: &Value) -> Result<Estimate, GatewayError> {
    let mut tally = tally::Tally::new(family);
    converse::walk(&mut tally, request)?;
    Ok(tally.finish())
}

/// Estimate for a native InvokeModel body of `family`: Anthropic Messages, Nova messages-v1,
/// Titan `inputText`, Llama `prompt`, Mistral `prompt`/`messages`, Cohere `message`/
/// `chat_history`/`preamble` (or `texts` for embeddings).
pub fn estimate_native(family: Family, body: &Value) -> Result<Estimate, GatewayError> {
    let mut tally = tally::Tally::new(family);
    native::walk(&mut tally, body)?;
    Ok(tally.finish())
}

#[cfg(test)]
mod tests;
