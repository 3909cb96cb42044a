//! Meta Llama: a formatted `prompt` in, `generation` out.

use serde_json::Value;

use super::n;
use crate::cost::Usage;
use crate::text_walk::{Visit, visit_key};

/// The output-token limit in the native body.
pub(super) const MAX_TOKENS: &str = "/max_gen_len";

/// What the estimator needs to find in a native body.
pub(super) const INPUT_FIELDS: &str = "`prompt`";

pub(super) fn usage(body: &Value) -> Usage {
    Usage::new(
        n(body, "/prompt_token_count"),
        n(body, "/generation_token_count"),
    )
}

pub(super) fn input_texts(body: &mut Value, f: &mut Visit) {
    visit_key(body, "prompt", "body", f)
}

pub(super) fn output_texts(body: &mut Value, f: &mut Visit) {
    visit_key(body, "generation", "body", f)
}
