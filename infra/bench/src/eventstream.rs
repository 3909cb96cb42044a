//! Just enough of `application/vnd.amazon.eventstream` to count messages and read payloads:
//! each message is `total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | crc u32`
//! (big-endian). CRCs are not checked here; bedrock-local's own tests do that.

/// Splits complete messages off the front of `buf`, calling `on_payload` with each payload.
pub fn drain(buf: &mut Vec<u8>, mut on_payload: impl FnMut(&[u8])) -> Result<(), String> {
    let mut off = 0;
    while buf.len() - off >= 12 {
        let total = u32::from_be_bytes(buf[off..off + 4].try_into().unwrap_or_default()) as usize;
        let headers =
            u32::from_be_bytes(buf[off + 4..off + 8].try_into().unwrap_or_default()) as usize;
        if total < 16 + headers {
            return Err(format!(
                "malformed eventstream message (total {total}, headers {headers})"
            ));
        }
        if buf.len() - off < total {
            break;
        }
        on_payload(&buf[off + 12 + headers..off + total - 4]);
        off += total;
    }
    buf.drain(..off);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &[u8]) -> Vec<u8> {
        let headers = b"\x0b:event-type\x07\x00\x05delta";
        let total = 12 + headers.len() + payload.len() + 4;
        let mut m = Vec::new();
        m.extend_from_slice(&(total as u32).to_be_bytes());
        m.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(headers);
        m.extend_from_slice(payload);
        m.extend_from_slice(&[0; 4]);
        m
    }

    #[test]
    fn splits_messages_across_chunks() {
        let mut all = message(b"{\"a\":1}");
        all.extend(message(b"{\"b\":2}"));
        let mut buf = all[..10].to_vec();
        let mut seen = Vec::new();
        drain(&mut buf, |p| seen.push(p.to_vec())).unwrap();
        assert!(seen.is_empty());
        buf.extend_from_slice(&all[10..]);
        drain(&mut buf, |p| seen.push(p.to_vec())).unwrap();
        assert_eq!(seen, vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
        assert!(buf.is_empty());
    }
}
