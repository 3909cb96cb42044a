//! Fields accepted and not sent, named in the `x-gateway-dropped` response header.
//!
//! The one exception to "mapped or refused" (docs/compat.md): a field a real client sends and
//! cannot stop sending (Codex's `prompt_cache_key`, `include`, its web-search tool, ...) is
//! accepted, and the answer says what was dropped and why, as `field (reason)` items.

use axum::response::Response;
use http::HeaderValue;

/// The header naming the dropped fields (the same name as on `/v1/messages`).
pub const HEADER: &str = "x-gateway-dropped";

/// The fields dropped from one request, in the order they were met.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Dropped(Vec<(String, String)>);

impl Dropped {
    /// Notes that `field` was dropped because of `reason`.
    pub fn add(&mut self, field: &str, reason: String) {
        self.0.push((field.to_owned(), reason));
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The header value: `field (reason), field (reason)`.
    pub fn header_value(&self) -> String {
        self.0
            .iter()
            .map(|(f, r)| format!("{f} ({r})"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `resp` with the header, when anything was dropped.
    pub fn mark(&self, mut resp: Response) -> Response {
        if !self.is_empty()
            && let Ok(v) = HeaderValue::from_str(&self.header_value())
        {
            resp.headers_mut().insert(HEADER, v);
        }
        resp
    }
}
