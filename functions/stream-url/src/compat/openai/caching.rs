//! `cache_control` on content parts (the Anthropic-style marker LiteLLM and OpenRouter accept on
//! OpenAI-shaped requests) -> a Converse `cachePoint` block placed right after the part.
//!
//! Public so the Responses route can map its input items' `cache_control` the same way.

use inference_core::catalog::{Capability, ModelEntry};
use serde::Deserialize;
use serde_json::{Value, json};

pub use super::request::CacheControl;
use super::request::Typed;
use crate::compat::error::{CResult, refuse};

/// The string, or the field's "expected a string" refusal.
fn text<'a>(v: Option<&'a Typed<String>>, param: &str) -> CResult<&'a str> {
    match v {
        Some(Typed::Ok(s)) => Ok(s),
        _ => Err(refuse(param, "expected a string")),
    }
}

impl CacheControl {
    /// The Converse block to place after the part that carries this marker:
    /// `{"cachePoint": {"type": "default"}}`, with `ttl` when the caller set one. `param` is
    /// the marker's path (`messages[0].content[1].cache_control`); `model`, when known, must
    /// have the `prompt_caching` capability.
    pub fn to_cache_point(&self, param: &str, model: Option<&ModelEntry>) -> CResult<Value> {
        if let Some(k) = self.extra.keys().next() {
            return Err(refuse(
                format!("{param}.{k}"),
                "is not supported (type, ttl)",
            ));
        }
        if text(self.kind.as_ref(), &format!("{param}.type"))? != "ephemeral" {
            return Err(refuse(format!("{param}.type"), "only \"ephemeral\""));
        }
        if let Some(m) = model.filter(|m| !m.supports(Capability::PromptCaching)) {
            return Err(refuse(
                param,
                format!("model {} has no prompt caching", m.id),
            ));
        }
        let mut cp = json!({"type": "default"});
        if let Some(t) = &self.ttl {
            match text(Some(t), &format!("{param}.ttl"))? {
                ttl @ ("5m" | "1h") => cp["ttl"] = json!(ttl),
                _ => return Err(refuse(format!("{param}.ttl"), "expected \"5m\" or \"1h\"")),
            }
        }
        Ok(json!({"cachePoint": cp}))
    }
}

/// [`CacheControl::to_cache_point`] of a raw JSON marker (`null` = none): for callers that
/// hold the part as JSON.
pub fn cache_point(v: &Value, param: &str, model: Option<&ModelEntry>) -> CResult<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    let cc = CacheControl::deserialize(v).map_err(|_| refuse(param, "expected an object"))?;
    cc.to_cache_point(param, model).map(Some)
}

/// The cache point of a part's optional marker (`None` when absent or `null`).
pub(super) fn after_part(
    cc: Option<&Typed<CacheControl>>,
    part: &str,
    model: Option<&ModelEntry>,
) -> CResult<Option<Value>> {
    let param = format!("{part}.cache_control");
    match cc {
        None => Ok(None),
        Some(Typed::Wrong) => Err(refuse(param, "expected an object")),
        Some(Typed::Ok(c)) => c.to_cache_point(&param, model).map(Some),
    }
}
