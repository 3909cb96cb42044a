//! `application/vnd.amazon.eventstream`: the SDK's decoder (`aws-smithy-eventstream`, what the
//! Bedrock client reads ConverseStream and InvokeModelWithResponseStream with), bedrock-local's
//! encoder (the same crate's `write_message_to`) and the benchmarks' frame splitter
//! (`bench::eventstream::drain`).

use aws_smithy_eventstream::frame::{
    DecodedFrame, MessageFrameDecoder, read_message_from, write_message_to,
};
use aws_smithy_types::event_stream::Message;

/// The streaming decoder over the input in two chunks (split where the first byte says).
fn decode_in_chunks(data: &[u8]) -> Option<Message> {
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut decoder = MessageFrameDecoder::new();
    let mut buf = bytes::BytesMut::new();
    for chunk in [&data[..cut], &data[cut..]] {
        buf.extend_from_slice(chunk);
        match decoder.decode_frame(&mut buf) {
            Ok(DecodedFrame::Complete(m)) => return Some(m),
            Ok(DecodedFrame::Incomplete) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Any bytes: the decoders do not panic; a message the SDK decodes is re-encoded to the same
/// bytes and decodes to the same message, also when it arrives in two chunks; the benchmarks'
/// splitter finds its payload.
pub fn check(data: &[u8]) {
    let _ = bench::eventstream::drain(&mut data.to_vec(), |_| {});
    let Ok(message) = read_message_from(data) else {
        return;
    };
    let mut written = Vec::new();
    write_message_to(&message, &mut written).expect("a decoded message can be written");
    assert_eq!(
        written[..],
        data[..written.len().min(data.len())],
        "re-encoding a decoded message gives other bytes"
    );
    let again = read_message_from(&written[..]).expect("a written message decodes");
    assert_eq!(again, message);
    if let Some(chunked) = decode_in_chunks(data) {
        assert_eq!(chunked, message, "streaming decoder disagrees");
    }
    let mut payloads = Vec::new();
    let mut buf = written.clone();
    bench::eventstream::drain(&mut buf, |p| payloads.push(p.to_vec())).expect("a valid frame");
    assert_eq!(payloads, vec![message.payload().to_vec()]);
    assert!(buf.is_empty());
}
