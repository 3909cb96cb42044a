//! Running totals while a request body is walked: text classes, image tokens, overhead and the
//! parts that could not be counted. Shared by the Converse and native walkers.

use serde_json::Value;

use super::classes::{ClassCounts, count_classes};
use super::image::{dimensions_from_base64, image_tokens};
use super::{Estimate, Family, NotCountable, PartKind, coefficients, tokens_for_counts};
use crate::error::GatewayError;

/// How the request asked the model to pick tools; decides Claude's tool-use system prompt size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ToolChoice {
    /// `auto`, `none` or unspecified.
    Auto,
    /// `any` or a named tool.
    Forced,
}

pub(super) struct Tally {
    family: Family,
    text: ClassCounts,
    /// Text parts that were non-empty: each costs at least one token.
    text_parts: u64,
    image_tokens: u64,
    overhead: u64,
    exact_parts: u32,
    not_countable: Vec<NotCountable>,
}

impl Tally {
    pub(super) fn new(family: Family) -> Self {
        let mut t = Tally {
            family,
            text: ClassCounts::default(),
            text_parts: 0,
            image_tokens: 0,
            overhead: 0,
            exact_parts: 0,
            not_countable: Vec::new(),
        };
        t.overhead += u64::from(coefficients::of(family).request_overhead);
        t
    }

    pub(super) fn family(&self) -> Family {
        self.family
    }

    pub(super) fn text(&mut self, s: &str) {
        if !s.is_empty() {
            self.text.add(&count_classes(s));
            self.text_parts += 1;
        }
    }

    /// JSON (tool inputs, schemas, tool results) reaches the model serialised; count it compact.
    pub(super) fn json(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Null => {}
            other => self.text(&other.to_string()),
        }
    }

    pub(super) fn message(&mut self) {
        self.overhead += u64::from(coefficients::of(self.family).message_overhead);
    }

    /// The hidden tool-use system prompt some families add when tools are present.
    pub(super) fn tools_present(&mut self, choice: ToolChoice) {
        let c = coefficients::of(self.family);
        self.overhead += u64::from(match choice {
            ToolChoice::Auto => c.tools_prompt_auto,
            ToolChoice::Forced => c.tools_prompt_forced,
        });
    }

    pub(super) fn flag(&mut self, path: &str, kind: PartKind, reason: impl Into<String>) {
        self.flag_bounded(path, kind, reason, None);
    }

    /// [`Tally::flag`] for a part whose size bounds its tokens (`bound`).
    pub(super) fn flag_bounded(
        &mut self,
        path: &str,
        kind: PartKind,
        reason: impl Into<String>,
        bound: Option<u64>,
    ) {
        self.not_countable.push(NotCountable {
            path: path.to_owned(),
            kind,
            reason: reason.into(),
            bound_tokens: bound,
        });
    }

    /// An image given as base64 bytes: counted by the family's documented rule, or flagged.
    pub(super) fn image_base64(&mut self, path: &str, data: &str) {
        let Some(d) = dimensions_from_base64(data) else {
            self.flag(
                path,
                PartKind::Image,
                "could not read the image dimensions (not a base64 PNG, JPEG, GIF or WebP)",
            );
            return;
        };
        match image_tokens(self.family, d) {
            Some(tokens) => {
                self.image_tokens += u64::from(tokens);
                self.exact_parts += 1;
            }
            None => self.flag(
                path,
                PartKind::Image,
                format!(
                    "no documented image token rule for {} ({}x{} image)",
                    self.family, d.width, d.height
                ),
            ),
        }
    }

    pub(super) fn finish(self) -> Estimate {
        let mut text_tokens = u64::from(tokens_for_counts(self.family, &self.text));
        text_tokens = text_tokens.max(self.text_parts.min(1));
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let (text_tokens, image_tokens, overhead) = (
            clamp(text_tokens),
            clamp(self.image_tokens),
            clamp(self.overhead),
        );
        Estimate {
            tokens: text_tokens
                .saturating_add(image_tokens)
                .saturating_add(overhead),
            text_tokens,
            image_tokens,
            overhead_tokens: overhead,
            exact_parts: self.exact_parts,
            not_countable: self.not_countable,
        }
    }
}

/// `Err(invalid_request)` naming the path, for bodies of the wrong shape.
pub(super) fn shape_error(path: &str, expected: &str) -> GatewayError {
    GatewayError::invalid_request(format!("{path}: expected {expected}"))
}

/// `v` as an array, or a 400 naming `path`.
pub(super) fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, GatewayError> {
    v.as_array().ok_or_else(|| shape_error(path, "an array"))
}

/// `v` as an object, or a 400 naming `path`.
pub(super) fn object<'a>(
    v: &'a Value,
    path: &str,
) -> Result<&'a serde_json::Map<String, Value>, GatewayError> {
    v.as_object().ok_or_else(|| shape_error(path, "an object"))
}

/// An optional string field: absent/null is fine, anything else but a string is a 400.
pub(super) fn opt_str<'a>(
    obj: &'a serde_json::Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, GatewayError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(shape_error(&format!("{path}.{key}"), "a string")),
    }
}
