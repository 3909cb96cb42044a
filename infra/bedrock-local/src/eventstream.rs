//! `application/vnd.amazon.eventstream` frames, written with `aws-smithy-eventstream` so the
//! prelude and CRCs are exactly what the SDK decoders expect.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;

use crate::errors::BedrockError;

pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

fn frame(message: &Message) -> Bytes {
    let mut buf = Vec::with_capacity(message.payload().len() + 96);
    // Writing can only fail on headers/payload over the frame limits, which our
    // payloads (one delta or chunk each) never reach.
    if write_message_to(message, &mut buf).is_err() {
        buf.clear();
    }
    Bytes::from(buf)
}

/// An event frame: `:event-type` names the union member, the payload is its JSON.
pub fn event(event_type: &'static str, payload: &serde_json::Value) -> Bytes {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    frame(&Message::new_from_parts(
        vec![
            Header::new(":event-type", HeaderValue::String(event_type.into())),
            Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            Header::new(":message-type", HeaderValue::String("event".into())),
        ],
        body,
    ))
}

/// A modelled error after the stream has started.
pub fn exception(err: &BedrockError) -> Bytes {
    let body = serde_json::to_vec(&err.body()).unwrap_or_default();
    frame(&Message::new_from_parts(
        vec![
            Header::new(
                ":exception-type",
                HeaderValue::String(err.stream_name().into()),
            ),
            Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            Header::new(":message-type", HeaderValue::String("exception".into())),
        ],
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    #[test]
    fn round_trips() {
        let b = event("messageStart", &serde_json::json!({"role": "assistant"}));
        let m = read_message_from(b).unwrap();
        assert_eq!(m.payload().as_ref(), br#"{"role":"assistant"}"#);
        assert_eq!(m.headers().len(), 3);
    }
}
