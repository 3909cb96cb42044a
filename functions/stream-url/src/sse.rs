//! Server-sent events framing (`text/event-stream`).
//!
//! One upstream event becomes one SSE event: `event: <name>` and a single `data:` line holding
//! compact JSON (JSON never contains a raw newline, so one line is always enough).

use bytes::Bytes;
use serde_json::Value;

/// Media type of the stream.
pub const CONTENT_TYPE: &str = "text/event-stream";

/// Frames one event. `name` must be a plain identifier (our event names are).
pub fn frame(name: &str, data: &Value) -> Bytes {
    let json = data.to_string();
    let mut out = String::with_capacity(name.len() + json.len() + 16);
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(&json);
    out.push_str("\n\n");
    Bytes::from(out)
}

/// A comment line: ignored by SSE clients, used to open the stream early (headers flushed).
pub fn comment(text: &str) -> Bytes {
    Bytes::from(format!(": {text}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_are_one_event_each() {
        let f = frame("contentBlockDelta", &json!({"delta": {"text": "a\nb"}}));
        assert_eq!(
            std::str::from_utf8(&f).unwrap(),
            "event: contentBlockDelta\ndata: {\"delta\":{\"text\":\"a\\nb\"}}\n\n"
        );
    }
}
