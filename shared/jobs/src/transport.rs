//! How the crate's own HTTP calls (the results bucket's objects, webhooks) name a failed
//! connection.

/// `connection failed: <innermost cause>` (refused, TLS: "invalid peer certificate:
/// UnknownIssuer", ...): it names no secret and says what to fix.
pub(crate) fn connect_failed(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("connection failed: {cause}")
}
