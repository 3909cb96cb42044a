//! The front-door authorization check. Signatures are not verified (any key is welcome),
//! but the header must be a well-formed SigV4 or bearer-key header, as AWS requires.

use std::sync::LazyLock;

use regex::Regex;

use crate::errors::BedrockError;

static SIGV4: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^AWS4-HMAC-SHA256 Credential=[A-Za-z0-9]+/\d{8}/[a-z0-9-]+/bedrock/aws4_request, ?SignedHeaders=[a-z0-9;._-]+, ?Signature=[0-9a-f]{64}$",
    )
    .ok()
});

/// Accepts `AWS4-HMAC-SHA256 Credential=.../DATE/REGION/bedrock/aws4_request, ...` and
/// `Bearer <key>`; refuses a missing header or anything else the way AWS does.
pub fn check(authorization: Option<&[u8]>) -> Result<(), BedrockError> {
    let Some(raw) = authorization else {
        return Err(BedrockError::MissingAuth);
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return Err(BedrockError::UnrecognizedClient);
    };
    if let Some(key) = value.strip_prefix("Bearer ") {
        return if !key.is_empty() && !key.contains(char::is_whitespace) {
            Ok(())
        } else {
            Err(BedrockError::UnrecognizedClient)
        };
    }
    match SIGV4.as_ref() {
        Some(re) if re.is_match(value) => Ok(()),
        _ => Err(BedrockError::UnrecognizedClient),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        let sig = "a".repeat(64);
        let good = format!(
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
        );
        assert!(check(Some(good.as_bytes())).is_ok());
        assert!(check(Some(b"Bearer abc")).is_ok());
        assert!(matches!(check(None), Err(BedrockError::MissingAuth)));
        assert!(matches!(
            check(Some(b"Basic xyz")),
            Err(BedrockError::UnrecognizedClient)
        ));
        let wrong_service = good.replace("/bedrock/", "/s3/");
        assert!(check(Some(wrong_service.as_bytes())).is_err());
    }
}
