//! Reading a Function URL streamed response as the runtime API received it: the JSON metadata
//! prelude (`statusCode`, `headers`), eight NUL bytes, then the body — here `text/event-stream`.
//! Events keep their byte offsets in the whole response so they can be matched with the
//! runtime API's arrival timestamps ([`crate::session::Outcome::arrival_of`]).

use serde_json::Value;

/// The prelude delimiter `lambda_runtime` writes after the metadata JSON.
const DELIMITER: &[u8] = &[0; 8];

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub name: String,
    pub data: String,
    /// Offset of its first byte in the whole response body.
    pub start: usize,
}

/// A parsed streamed response.
#[derive(Debug, Clone)]
pub struct StreamedBody {
    pub status: Option<u16>,
    pub events: Vec<SseEvent>,
}

impl StreamedBody {
    /// Splits `raw` (prelude, delimiter, SSE body). An incomplete last event is ignored.
    pub fn parse(raw: &[u8]) -> Result<StreamedBody, String> {
        let split = raw
            .windows(DELIMITER.len())
            .position(|w| w == DELIMITER)
            .ok_or("no metadata prelude delimiter (8 NUL bytes) in the streamed response")?;
        let prelude: Value = serde_json::from_slice(&raw[..split])
            .map_err(|e| format!("metadata prelude is not JSON: {e}"))?;
        let status = prelude
            .get("statusCode")
            .and_then(Value::as_u64)
            .map(|s| s as u16);
        let base = split + DELIMITER.len();
        let text = std::str::from_utf8(&raw[base..]).map_err(|e| e.to_string())?;
        let events = sse_events(text, base);
        Ok(StreamedBody { status, events })
    }

    /// The first event carrying generated text: `contentBlockDelta` (Converse) or a native
    /// `chunk` with a delta.
    pub fn first_content(&self) -> Option<&SseEvent> {
        self.events.iter().find(|e| {
            e.name == "contentBlockDelta" || (e.name == "chunk" && e.data.contains("delta"))
        })
    }

    /// Output tokens reported by the closing `done` event's usage.
    pub fn output_tokens(&self) -> Option<u64> {
        let done = self.events.iter().rfind(|e| e.name == "done")?;
        let v: Value = serde_json::from_str(&done.data).ok()?;
        v.pointer("/usage/outputTokens")
            .or_else(|| v.pointer("/usage/output_tokens"))
            .and_then(Value::as_u64)
    }

    /// An `error` event, if the stream reported one after it started.
    pub fn error_event(&self) -> Option<&SseEvent> {
        self.events.iter().find(|e| e.name == "error")
    }
}

/// The complete events of an SSE body (`base`: the body's offset in the whole response). Lines
/// end with LF, CRLF or a lone CR, and an empty line ends an event, as the SSE specification
/// reads them; `data:` lines are joined with LF (two empty ones are one LF).
fn sse_events(text: &str, base: usize) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let (mut name, mut data, mut has_data, mut start) = (String::new(), String::new(), false, None);
    let mut off = 0;
    while let Some(len) = text[off..].find(['\r', '\n']) {
        let line = &text[off..off + len];
        let line_start = off;
        off += len
            + if text[off + len..].starts_with("\r\n") {
                2
            } else {
                1
            };
        if line.is_empty() {
            if let Some(start) = start.take()
                && (!name.is_empty() || !data.is_empty())
            {
                let (name, data) = (std::mem::take(&mut name), std::mem::take(&mut data));
                events.push(SseEvent { name, data, start });
            }
            (name, data, has_data) = (String::new(), String::new(), false);
            continue;
        }
        start.get_or_insert(base + line_start);
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim_start().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            if has_data {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
            has_data = true;
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_prelude_and_events_with_offsets() {
        let prelude = br#"{"statusCode":200,"headers":{"content-type":"text/event-stream"}}"#;
        let mut raw = prelude.to_vec();
        raw.extend_from_slice(&[0; 8]);
        let body = "event: messageStart\ndata: {\"role\":\"assistant\"}\n\n\
                    event: contentBlockDelta\ndata: {\"delta\":{\"text\":\"Hi\"}}\n\n\
                    event: done\ndata: {\"usage\":{\"inputTokens\":3,\"outputTokens\":7}}\n\n\
                    event: partial";
        raw.extend_from_slice(body.as_bytes());
        let s = StreamedBody::parse(&raw).unwrap();
        assert_eq!(s.status, Some(200));
        assert_eq!(s.events.len(), 3);
        let first = s.first_content().unwrap();
        assert_eq!(first.name, "contentBlockDelta");
        assert!(raw[first.start..].starts_with(b"event: contentBlockDelta"));
        assert_eq!(s.output_tokens(), Some(7));
        assert!(s.error_event().is_none());
        assert!(StreamedBody::parse(b"{\"statusCode\":200}").is_err());
    }

    /// A lone CR ends a line and CRLF CRLF ends an event (the SSE line rules); empty `data:`
    /// lines still count. Found by the `sse` fuzz target (docs/fuzzing.md).
    #[test]
    fn cr_and_crlf_end_lines_and_empty_data_lines_count() {
        let mut raw = br#"{"statusCode":200}"#.to_vec();
        raw.extend_from_slice(&[0; 8]);
        raw.extend_from_slice(
            b"event: a\rdata: x\r\r\r\nevent: b\r\ndata: 1\r\ndata: 2\r\n\r\ndata:\ndata:\n\n",
        );
        let s = StreamedBody::parse(&raw).unwrap();
        let got: Vec<(&str, &str)> = s
            .events
            .iter()
            .map(|e| (e.name.as_str(), e.data.as_str()))
            .collect();
        assert_eq!(got, [("a", "x"), ("b", "1\n2"), ("", "\n")]);
    }
}
