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
        let mut events = Vec::new();
        let mut off = 0;
        while let Some(len) = text[off..].find("\n\n") {
            let block = &text[off..off + len];
            let (mut name, mut data) = (String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim_start().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if !name.is_empty() || !data.is_empty() {
                events.push(SseEvent {
                    name,
                    data,
                    start: base + off,
                });
            }
            off += len + 2;
        }
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
}
