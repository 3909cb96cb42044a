//! The local stack's guard against web pages (`GATEWAY_LOOPBACK_ONLY`, set by
//! `infra/local/stack.py`). The local stack serves on 127.0.0.1 without authentication and can
//! be pointed at real Bedrock: any web page the developer opens could otherwise spend through it
//! with a cross-origin "simple" POST (no preflight), or reach it by DNS rebinding (a hostile
//! name resolving to 127.0.0.1). With the flag on, a request must name a loopback host in
//! `Host`, and a browser's `Origin`, when present, must be a loopback origin too.
//!
//! The `Host` of AWS's own front ends (`*.execute-api.REGION.amazonaws.com`,
//! `*.lambda-url.REGION.on.aws`) passes as well: the recorded events a developer sends with
//! `cargo lambda invoke` carry it. It opens no way in: a browser sends such a `Host` only to a
//! name AWS resolves, never to 127.0.0.1, and a page's `Origin` is still checked.

use http::HeaderMap;

use crate::error::GatewayError;

/// Whether `GATEWAY_LOOPBACK_ONLY` is on in this process (read once).
pub fn enabled_by_env() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("GATEWAY_LOOPBACK_ONLY")
            .is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"))
    })
}

/// `None` when the request may pass; otherwise the 400 to answer.
pub fn refusal(headers: &HeaderMap) -> Option<GatewayError> {
    let refuse = |what: &str| {
        // 400, not 403: the error contract has no 403 (see `ErrorKind`).
        Some(GatewayError::invalid_request(format!(
            "{what}: the local stack answers only requests addressed to localhost / 127.0.0.1 / [::1] \
                 and not made by a web page from another origin (GATEWAY_LOOPBACK_ONLY)"
        )))
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| is_loopback_authority(h) || is_aws_front_end(h)) {
        return refuse("Host is not a loopback address");
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let ok = origin.to_str().ok().is_some_and(|o| {
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(is_loopback_authority)
        });
        if !ok {
            return refuse("cross-origin request");
        }
    }
    None
}

/// An API Gateway or Function URL host name (no port): `ID.execute-api.REGION.amazonaws.com`,
/// `ID.lambda-url.REGION.on.aws`.
fn is_aws_front_end(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let plain =
        |l: &&str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    match labels.as_slice() {
        [id, "execute-api", region, "amazonaws", "com"]
        | [id, "lambda-url", region, "on", "aws"] => plain(id) && plain(region),
        _ => false,
    }
}

/// `localhost`, `127.0.0.1`, `[::1]`, with an optional port; nothing else.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, port)) if port.is_empty() || valid_port(port) => h,
            _ => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((h, port)) if valid_port(&format!(":{port}")) => h,
            Some(_) => return false,
            None => authority,
        }
    };
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "::1"
}

fn valid_port(p: &str) -> bool {
    p.strip_prefix(':')
        .is_some_and(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(host: Option<&'static str>, origin: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(http::header::HOST, HeaderValue::from_static(v));
        }
        if let Some(v) = origin {
            h.insert(http::header::ORIGIN, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn loopback_hosts_and_origins_pass() {
        for host in [
            "127.0.0.1:9000",
            "localhost:9000",
            "LOCALHOST",
            "[::1]:9000",
            "127.0.0.1",
            // Recorded API Gateway and Function URL events (`cargo lambda invoke`).
            "abc123.execute-api.us-east-1.amazonaws.com",
            "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
        ] {
            assert!(refusal(&headers(Some(host), None)).is_none(), "{host}");
        }
        for origin in [
            "http://localhost:3000",
            "http://127.0.0.1:9000",
            "https://[::1]",
        ] {
            let h = headers(Some("127.0.0.1:9000"), Some(origin));
            assert!(refusal(&h).is_none(), "{origin}");
        }
    }

    #[test]
    fn other_hosts_and_cross_origin_pages_are_refused() {
        for host in [
            "evil.example:9000",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "127.0.0.2:9000",
            "[::1]x",
            "127.0.0.1:90a",
            "",
            "evil.example.execute-api.us-east-1.amazonaws.com.evil.example",
            "execute-api.us-east-1.amazonaws.com",
            "a.b.execute-api.us-east-1.amazonaws.com",
            "abc.lambda-url.us-east-1.on.aws:9000",
        ] {
            let e = refusal(&headers(Some(host), None)).expect(host);
            assert_eq!(e.status().as_u16(), 400, "{host}");
        }
        assert!(refusal(&headers(None, None)).is_some(), "no Host");
        for origin in [
            "https://evil.example",
            "null",
            "http://localhost.evil.example",
            "http://127.0.0.1@evil.example",
            "https://abc123.execute-api.us-east-1.amazonaws.com",
        ] {
            let e = refusal(&headers(Some("127.0.0.1:9000"), Some(origin))).expect(origin);
            assert!(e.message().contains("cross-origin"), "{e}");
        }
    }
}
