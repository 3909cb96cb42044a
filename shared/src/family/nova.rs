//! Amazon Nova: its native body and answer have Converse's shapes (`messages-v1`).

use serde_json::Value;

use super::n;
use crate::cost::Usage;
use crate::text_walk::{Visit, converse_input, converse_output};

/// The output-token limit in the native body.
pub(super) const MAX_TOKENS: &str = "/inferenceConfig/maxTokens";

/// What the estimator needs to find in a native body.
pub(super) const INPUT_FIELDS: &str = "`messages` and/or `system`";

pub(super) fn usage(body: &Value) -> Usage {
    Usage {
        input_tokens: n(body, "/usage/inputTokens"),
        output_tokens: n(body, "/usage/outputTokens"),
        cache_read_tokens: n(body, "/usage/cacheReadInputTokenCount"),
        cache_write_5m_tokens: n(body, "/usage/cacheWriteInputTokenCount"),
        cache_write_1h_tokens: 0,
    }
}

pub(super) fn input_texts(body: &mut Value, f: &mut Visit) {
    converse_input(body, f)
}

pub(super) fn output_texts(body: &mut Value, f: &mut Visit) {
    converse_output(body, f)
}
