//! Webhook signatures: HMAC-SHA256 over `"<unix seconds>.<body>"`, sent as
//! `X-Gateway-Signature: t=<unix seconds>,v1=<hex>`.
//!
//! The timestamp is inside the signed bytes, so a receiver that checks it against its clock
//! (within a tolerance) rejects replays of old deliveries. Several `v1=` entries may appear (a
//! receiver accepts any), which leaves room for rotating the key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use inference_core::error::GatewayError;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-gateway-signature";

/// The default tolerance for [`verify_signature`]: five minutes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// HMAC of `"<timestamp>.<body>"`. HMAC accepts keys of any length, so `None` cannot happen in
/// practice; it is an `Option` only so that nothing here can panic.
fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    Some(m)
}

/// The `X-Gateway-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v1={tag}")
}

/// Checks a received `X-Gateway-Signature` header against the raw body, the shared secret and
/// the receiver's clock (`now`, Unix seconds): the timestamp must be within `tolerance_secs` and
/// one `v1` must match (compared in constant time). Errors say which check failed.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), GatewayError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp
        .ok_or_else(|| GatewayError::invalid_request("signature header has no valid t="))?;
    if candidates.is_empty() {
        return Err(GatewayError::invalid_request("signature header has no v1="));
    }
    // abs_diff: a caller's `t` near i64::MIN or MAX must not overflow the subtraction.
    if now.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(GatewayError::invalid_request(
            "signature timestamp is outside the tolerance (replayed or clock skew)",
        ));
    }
    let matched = candidates.iter().any(|c| {
        hex::decode(c)
            .ok()
            .zip(mac(secret, timestamp, body))
            .is_some_and(|(tag, m)| m.verify_slice(&tag).is_ok())
    });
    if matched {
        Ok(())
    } else {
        Err(GatewayError::invalid_request("signature does not match"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] = br#"{"job_id":"job_1","status":"succeeded"}"#;

    #[test]
    fn signed_bodies_verify() {
        let h = signature_header(SECRET, 1_700_000_000, BODY);
        assert!(h.starts_with("t=1700000000,v1="));
        verify_signature(SECRET, &h, BODY, 1_700_000_010, 300).unwrap();
    }

    #[test]
    fn known_vector() {
        let h = signature_header(b"key", 1, b"x");
        let expected = {
            let mut m = HmacSha256::new_from_slice(b"key").unwrap();
            m.update(b"1.x");
            hex::encode(m.finalize().into_bytes())
        };
        assert_eq!(h, format!("t=1,v1={expected}"));
    }

    #[test]
    fn tampering_wrong_key_and_replays_fail() {
        let h = signature_header(SECRET, 1_700_000_000, BODY);
        assert!(verify_signature(SECRET, &h, b"{}", 1_700_000_000, 300).is_err());
        assert!(verify_signature(b"other", &h, BODY, 1_700_000_000, 300).is_err());
        let err = verify_signature(SECRET, &h, BODY, 1_700_000_301, 300).unwrap_err();
        assert!(err.message().contains("tolerance"));
        // A timestamp edited to look fresh breaks the signature.
        let forged = h.replace("t=1700000000", "t=1700000300");
        assert!(verify_signature(SECRET, &forged, BODY, 1_700_000_300, 300).is_err());
    }

    #[test]
    fn malformed_headers_fail_and_any_v1_may_match() {
        for h in ["", "t=abc,v1=00", "v1=00", "t=1", "t=1,v1=zz"] {
            assert!(verify_signature(SECRET, h, BODY, 1, 300).is_err(), "{h}");
        }
        let good = signature_header(SECRET, 5, BODY);
        let v1 = good.split_once("v1=").unwrap().1;
        let rotated = format!("t=5,v1={},v1={v1}", "0".repeat(64));
        verify_signature(SECRET, &rotated, BODY, 5, 300).unwrap();
    }

    #[test]
    fn extreme_timestamps_are_refused_not_overflowed() {
        for t in [i64::MIN, i64::MAX, i64::MIN + 1] {
            let h = format!("t={t},v1={}", "0".repeat(64));
            let err = verify_signature(SECRET, &h, BODY, 1_700_000_000, 300).unwrap_err();
            assert!(err.message().contains("tolerance"), "{t}: {err}");
        }
    }
}
