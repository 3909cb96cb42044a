//! Response shapes of `/v1/count` and `/v1/estimate` (documented in `docs/openapi.yaml`).

use inference_core::cost::Cost;
use inference_core::estimate::NotCountable;
use inference_core::policy::MaxTokens;
use inference_core::resolve::ResolvedView;
use serde::Serialize;

use crate::accuracy::EstimateError;
use crate::count::{Counted, Fallback, Source};

/// One model's count (the whole `/v1/count` answer, one entry of `/v1/estimate`).
#[derive(Debug, Serialize)]
pub struct CountView {
    /// Bare foundation-model ID (what CountTokens counts with).
    pub model: String,
    /// Resolution: the ID a call would invoke (profile or bare) and the pricing scope.
    pub resolved: ResolvedView,
    pub input_tokens: u64,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_error: Option<EstimateError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
    /// Parts left out of an estimate: `input_tokens` is then a lower bound.
    pub not_countable: Vec<NotCountable>,
    pub context_window: u64,
    pub max_output_tokens: u32,
    pub max_tokens: MaxTokens,
    pub room_for_output: u64,
    pub fits: bool,
    pub reasons: Vec<String>,
    /// `/v1/estimate` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_output_tokens: Option<ExpectedOutput>,
    /// `/v1/estimate` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Set on single answers; omitted inside `estimates[]` (the list carries it once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The output tokens an estimate prices, and where the number came from.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ExpectedOutput {
    pub value: u64,
    /// `request` (`expected_output_tokens`) or `max_tokens` (the worst case).
    pub source: &'static str,
}

impl From<Counted> for CountView {
    fn from(c: Counted) -> Self {
        CountView {
            model: c.resolved.model.id.to_string(),
            resolved: c.resolved.describe(),
            input_tokens: c.input_tokens,
            source: c.source,
            estimate_error: c.estimate_error,
            fallback: c.fallback,
            not_countable: c.not_countable,
            context_window: c.resolved.model.max_input_tokens,
            max_output_tokens: c.resolved.model.max_output_tokens,
            max_tokens: c.max_tokens,
            room_for_output: c.fit.room_for_output,
            fits: c.fit.fits,
            reasons: c.fit.reasons,
            expected_output_tokens: None,
            cost: None,
            request_id: None,
        }
    }
}

/// `/v1/estimate` with `models`: every candidate, cheapest first.
#[derive(Debug, Serialize)]
pub struct CompareView {
    pub estimates: Vec<CountView>,
    /// The cheapest candidate that fits (`null` when none does).
    pub cheapest: Option<String>,
    pub request_id: String,
}
