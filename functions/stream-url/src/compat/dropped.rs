//! What a compat route left out of a request, reported in the `x-gateway-dropped` header.
//!
//! The compat rule is "mapped or refused, never dropped"; the one exception is a field or beta
//! flag that a client sends on its own and that its user cannot remove (Claude Code's
//! `context_management`, its `anthropic-beta` flags): refusing would make the client unusable,
//! so the gateway leaves it out and says so, on plain and streamed answers alike
//! (docs/compat.md).

use axum::response::Response;
use http::HeaderValue;

/// The response header: a comma-separated list of `name (reason)` items.
pub const DROPPED_HEADER: &str = "x-gateway-dropped";

/// The dropped request parts, in the order they were found, each once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dropped(Vec<(String, String)>);

impl Dropped {
    /// Records that `name` was left out because of `reason` (a second record of the same name
    /// is ignored). Commas and parentheses in the reason would break the header's list syntax,
    /// so commas become `;` and parentheses go.
    pub fn add(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        let name = name.into();
        if self.0.iter().all(|(n, _)| *n != name) {
            let reason = reason.into().replace(',', ";").replace(['(', ')'], "");
            self.0.push((name, reason));
        }
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names dropped, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// The header's value: `a (why), b (why)`.
    pub fn header_text(&self) -> String {
        self.0
            .iter()
            .map(|(n, r)| format!("{n} ({r})"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Adds the header to `resp` when something was dropped (names and reasons are ASCII text
    /// the gateway writes, so the value is always valid; anything else is skipped, not sent).
    pub fn apply(&self, mut resp: Response) -> Response {
        if !self.is_empty()
            && let Ok(v) = HeaderValue::from_str(&self.header_text())
        {
            resp.headers_mut().insert(DROPPED_HEADER, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_name_once_with_its_reason() {
        let mut d = Dropped::default();
        assert!(d.is_empty());
        d.add("context_management", "not offered, sorry (really)");
        d.add("anthropic-beta:x-1", "unknown to Bedrock");
        d.add("context_management", "again");
        assert_eq!(
            d.header_text(),
            "context_management (not offered; sorry really), anthropic-beta:x-1 (unknown to Bedrock)"
        );
        let resp = d.apply(Response::new(axum::body::Body::empty()));
        assert_eq!(
            resp.headers()[DROPPED_HEADER],
            "context_management (not offered; sorry really), anthropic-beta:x-1 (unknown to Bedrock)"
        );
        let none = Dropped::default().apply(Response::new(axum::body::Body::empty()));
        assert!(none.headers().get(DROPPED_HEADER).is_none());
    }
}
