//! Server-sent events: the gateway's framing (`stream_url::sse::frame`) and the decoder that
//! reads a streamed Function URL response (`bench::stream_body::StreamedBody`, used by the
//! benchmarks to time the events the gateway sends).

use bench::stream_body::{SseEvent, StreamedBody};
use serde_json::Value;

/// A Function URL streaming prelude: metadata JSON, then eight NUL bytes.
const PRELUDE: &[u8] = b"{\"statusCode\":200}\0\0\0\0\0\0\0\0";

fn decode(body: &[u8]) -> Vec<SseEvent> {
    let mut raw = PRELUDE.to_vec();
    raw.extend_from_slice(body);
    match StreamedBody::parse(&raw) {
        Ok(b) => {
            assert_eq!(b.status, Some(200));
            b.events
        }
        Err(_) => {
            assert!(
                std::str::from_utf8(body).is_err(),
                "a UTF-8 body is refused"
            );
            Vec::new()
        }
    }
}

/// The SSE text of events: `event:` and one `data:` line per line of the data.
fn encode(events: &[SseEvent]) -> String {
    let mut out = String::new();
    for e in events {
        if !e.name.is_empty() {
            out.push_str(&format!("event: {}\n", e.name));
        }
        if !e.data.is_empty() {
            for line in e.data.split('\n') {
                out.push_str(&format!("data: {line}\n"));
            }
        }
        out.push('\n');
    }
    out
}

/// Name and data only (offsets depend on the encoding).
fn fields(events: &[SseEvent]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|e| (e.name.as_str(), e.data.as_str()))
        .collect()
}

/// Whether the gateway's framing can carry an event name (`sse::frame`: plain identifiers).
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// Any bytes as an SSE body: the decoder does not panic; what it decoded, written out again,
/// decodes to the same events; and an event the gateway frames decodes to exactly its name and
/// compact JSON.
pub fn check(data: &[u8]) {
    let _ = StreamedBody::parse(data);
    let events = decode(data);
    let again = decode(encode(&events).as_bytes());
    assert_eq!(
        fields(&again),
        fields(&events),
        "decode(encode(decode(x))) != decode(x)"
    );
    for e in &events {
        let Ok(json) = serde_json::from_str::<Value>(&e.data) else {
            continue;
        };
        if !plain_name(&e.name) {
            continue;
        }
        let framed = stream_url::sse::frame(&e.name, &json);
        let decoded = decode(&framed);
        assert_eq!(
            fields(&decoded),
            vec![(e.name.as_str(), json.to_string().as_str())],
            "one framed event"
        );
    }
}
