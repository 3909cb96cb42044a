//! Bodies no route should choke on: oversized (declared, undeclared, lying), deeply nested,
//! invalid or non-UTF-8 text, not JSON, not an object, the wrong media type. Every route that
//! takes a JSON body gets every one.

use crate::case::{Case, case};
use crate::event::post;
use crate::world::Target;

use super::{Route, json_routes};

/// One past the default `GATEWAY_MAX_BODY_BYTES` (6 MiB), and past the admin's 64 KiB.
fn too_large(target: Target) -> usize {
    match target {
        Target::Admin => admin::MAX_BODY_BYTES + 1,
        _ => 6 * 1024 * 1024 + 1,
    }
}

/// `{"messages": <depth> nested arrays}`: far past serde_json's recursion limit (128), and
/// within the admin's body limit.
fn nested_arrays(depth: usize) -> String {
    format!(
        r#"{{"messages": {}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn nested_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

/// `body` with one more field whose name is 60,000 characters long (the error names the field:
/// it must not carry the whole name back).
fn with_long_key(body: &serde_json::Value) -> serde_json::Value {
    let mut b = body.clone();
    b["k".repeat(60_000)] = serde_json::json!(1);
    b
}

/// A body of `n` bytes that is a JSON object (one long string field).
fn padded(n: usize) -> String {
    format!(r#"{{"pad": "{}"}}"#, "x".repeat(n.saturating_sub(11)))
}

/// The rows for one route.
fn route_cases(route: &Route) -> Vec<Case> {
    let (target, path) = (route.target, route.path);
    let big = too_large(target);
    let c = |what: &str, req, status| case(&format!("{}_{what}", route.name), target, req, status);
    let body = |b: &[u8]| post(path).raw(b.to_vec());
    let valid = || post(path).json(route.body.clone());
    vec![
        c("valid", valid(), route.ok),
        c("valid_base64", valid().b64(), route.ok),
        c("oversized", post(path).raw(padded(big)), 413),
        c(
            "oversized_undeclared",
            post(path).raw(padded(big)).no_length(),
            413,
        ),
        c(
            "length_declares_too_much",
            body(b"{}").header("content-length", big.to_string()),
            413,
        ),
        // A content-length that is no size is not trusted; the body is read and checked.
        c(
            "length_negative",
            valid().header("content-length", "-1"),
            route.ok,
        ),
        c(
            "length_past_u64",
            valid().header("content-length", "18446744073709551616"),
            route.ok,
        ),
        c(
            "length_not_a_number",
            valid().header("content-length", "12abc"),
            route.ok,
        ),
        c(
            "nested_arrays_10k",
            post(path).raw(nested_arrays(10_000)),
            400,
        ),
        c(
            "nested_objects_5k",
            post(path).raw(nested_objects(5_000)),
            400,
        ),
        c("invalid_utf8", body(b"{\"model\": \"\xff\xfe\xfd\"}"), 415),
        c(
            "invalid_utf8_base64",
            post(path).raw(&b"{\"a\": \"\xc3\x28\"}"[..]).b64(),
            415,
        ),
        c(
            "overlong_utf8",
            body(b"{\"a\": \"\xc0\xaf\xe0\x80\xaf\"}"),
            415,
        ),
        c("utf16_with_bom", body(b"\xff\xfe{\x00}\x00"), 415),
        c("utf8_bom", body(b"\xef\xbb\xbf{}"), 415),
        c(
            "lone_surrogate_escape",
            body(br#"{"model": "\ud800"}"#),
            400,
        ),
        c("nul_bytes", body(b"\x00\x00\x00\x00"), 415),
        c("empty", body(b""), 400),
        c("json_null", body(b"null"), 400),
        c("json_array", body(b"[{}]"), 400),
        c("json_string", body(b"\"{}\""), 400),
        // (The guardrail check answers 404 before reading fields: no guardrail here.)
        c(
            "long_unknown_field",
            post(path).json(with_long_key(&route.body)),
            route.ok.max(400),
        ),
        c("trailing_garbage", body(b"{} {}"), 400),
        c("truncated", body(b"{\"model\": \"hai"), 400),
        c(
            "text_plain",
            body(b"{}").header("content-type", "text/plain"),
            415,
        ),
        c(
            "form",
            body(b"a=1").header("content-type", "application/x-www-form-urlencoded"),
            415,
        ),
        c(
            "content_type_garbage",
            body(b"{}").header("content-type", ";;;"),
            415,
        ),
    ]
}

/// The admin's own limit, past axum's default body limit (2 MiB) too, and on `PATCH`.
fn admin_cases() -> Vec<Case> {
    let big = padded(7 * 1024 * 1024);
    let patch =
        |body: String| crate::event::req("PATCH", "/v1/admin/keys/key_0123456789abcdef").raw(body);
    vec![
        case(
            "admin_issue_oversized_7mib",
            Target::Admin,
            post("/v1/admin/keys").raw(big.clone()),
            413,
        ),
        case(
            "admin_change_oversized",
            Target::Admin,
            patch(padded(admin::MAX_BODY_BYTES + 1)),
            413,
        ),
        case(
            "admin_change_oversized_7mib",
            Target::Admin,
            patch(big),
            413,
        ),
        case(
            "admin_change_nul_byte",
            Target::Admin,
            patch("{\"a\": \"\u{0}\"}".into()).b64(),
            400,
        )
        .one_of(&[400, 404]),
    ]
}

/// Every route's rows.
pub fn cases() -> Vec<Case> {
    let mut all: Vec<Case> = json_routes()
        .into_iter()
        .flat_map(|route| route_cases(&route))
        .collect();
    all.extend(admin_cases());
    all
}
