//! Request-body checks shared by every JSON route: size (413), media type (415), JSON (400).

use serde_json::Value;

use crate::error::GatewayError;

/// Parses a JSON request body after checking its size and `Content-Type`.
///
/// A missing content type is accepted (curl and many SDK helpers omit it); any other type than
/// `application/json` or `*+json` is 415. Bodies over `limit` bytes are 413; bodies that are not
/// JSON objects are 400.
pub fn parse_json_body(
    content_type: Option<&str>,
    body: &[u8],
    limit: usize,
) -> Result<Value, GatewayError> {
    if body.len() > limit {
        return Err(GatewayError::payload_too_large(body.len(), limit));
    }
    if let Some(ct) = content_type {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(GatewayError::unsupported_media_type(format!(
                "Content-Type must be application/json, got {ct:?}"
            )));
        }
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        if std::str::from_utf8(body).is_err()
            || body.first().is_some_and(|b| !b"{[ \t\r\n".contains(b))
        {
            GatewayError::unsupported_media_type(format!("request body is not JSON: {e}"))
        } else {
            GatewayError::invalid_request(format!("request body is not valid JSON: {e}"))
        }
    })?;
    if !value.is_object() {
        return Err(GatewayError::invalid_request(
            "request body must be a JSON object",
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_checks() {
        assert!(parse_json_body(None, b"{}", 10).is_ok());
        assert!(
            parse_json_body(Some("application/json; charset=utf-8"), b"{\"a\":1}", 100).is_ok()
        );
        assert_eq!(
            parse_json_body(None, b"{\"a\":1}", 3).unwrap_err().status(),
            413
        );
        assert_eq!(
            parse_json_body(Some("text/plain"), b"{}", 10)
                .unwrap_err()
                .status(),
            415
        );
        assert_eq!(
            parse_json_body(None, b"hello", 10).unwrap_err().status(),
            415
        );
        assert_eq!(
            parse_json_body(None, b"{\"a\":", 10).unwrap_err().status(),
            400
        );
        assert_eq!(parse_json_body(None, b"[1]", 10).unwrap_err().status(), 400);
    }
}
