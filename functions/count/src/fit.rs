//! Does a request fit a model? Bedrock admits a call only if input + `maxTokens` fits the context
//! window and `maxTokens` is within the model's output limit (and the deployment's cap), so those
//! are the rules; each failed rule is one human-readable reason.

use inference_core::catalog::ModelEntry;
use serde::Serialize;

/// The verdict and, when it doesn't fit, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fit {
    pub fits: bool,
    /// One sentence per broken rule; empty when `fits`.
    pub reasons: Vec<String>,
    /// Context window minus input (0 when the input alone overflows it).
    pub room_for_output: u64,
}

/// Checks `input_tokens` + `max_tokens` against `model` and the deployment cap.
pub fn fit(model: &ModelEntry, input_tokens: u64, max_tokens: u32, cap: Option<u32>) -> Fit {
    let window = model.max_input_tokens;
    let mut reasons = Vec::new();
    if input_tokens > window {
        reasons.push(format!(
            "input ({input_tokens} tokens) exceeds the context window of {window} tokens"
        ));
    } else if input_tokens + u64::from(max_tokens) > window {
        reasons.push(format!(
            "input ({input_tokens}) + maxTokens ({max_tokens}) = {} exceeds the context window of \
             {window} tokens",
            input_tokens + u64::from(max_tokens)
        ));
    }
    if max_tokens > model.max_output_tokens {
        reasons.push(format!(
            "maxTokens ({max_tokens}) exceeds the model's maximum output of {} tokens",
            model.max_output_tokens
        ));
    }
    if let Some(cap) = cap.filter(|c| max_tokens > *c) {
        reasons.push(format!(
            "maxTokens ({max_tokens}) exceeds this deployment's cap of {cap} \
             (GATEWAY_MAX_TOKENS_CAP)"
        ));
    }
    Fit {
        fits: reasons.is_empty(),
        reasons,
        room_for_output: window.saturating_sub(input_tokens),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inference_core::Catalog;

    fn model(name: &str) -> ModelEntry {
        Catalog::embedded().unwrap().by_name(name).unwrap().clone()
    }

    #[test]
    fn rules() {
        let lite = model("titan-lite"); // 4096 window, 4096 max output
        assert!(fit(&lite, 1000, 3000, None).fits);
        assert_eq!(fit(&lite, 1000, 3000, None).room_for_output, 3096);
        let f = fit(&lite, 1000, 3097, None);
        assert!(!f.fits);
        assert!(f.reasons[0].contains("= 4097"), "{f:?}");
        let f = fit(&lite, 5000, 10, None);
        assert_eq!(f.room_for_output, 0);
        assert!(f.reasons[0].contains("input (5000 tokens) exceeds"));
        let f = fit(&lite, 0, 5000, Some(2000));
        assert_eq!(f.reasons.len(), 3, "{f:?}");
        // Exactly full is a fit.
        assert!(fit(&lite, 96, 4000, None).fits);
    }
}
