//! Header abuse: huge, non-ASCII and duplicated key headers (duplicates arrive comma-joined, as
//! API Gateway and Function URLs deliver them), a JWT beside the key, CR/LF in values that reach
//! a header, and headers the gateway reads (`x-gateway-cache`, `content-type`).

use crate::case::{Case, case};
use crate::event::{KEY_A, KEY_B, Who, post};
use crate::world::Target;

use super::converse;

fn converse_as(who: Who) -> crate::event::Req {
    post("/v1/converse").json(converse("hello")).who(who)
}

/// A JWT as API Gateway's JWT authorizer would have checked it (any three base64url parts).
const JWT: &str = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl";

fn key_rows() -> Vec<Case> {
    let huge = "k".repeat(64 * 1024);
    let anon = || converse_as(Who::Nobody);
    vec![
        case(
            "api_key_64k",
            Target::Invoke,
            anon().header("x-api-key", huge.clone()),
            401,
        )
        .kind("unauthorized"),
        case(
            "bearer_64k",
            Target::Invoke,
            anon().header("authorization", format!("Bearer {huge}")),
            401,
        ),
        case(
            "api_key_non_ascii",
            Target::Invoke,
            anon().header("x-api-key", "gwk_\u{ff}\u{fe}"),
            401,
        ),
        case(
            "bearer_non_ascii",
            Target::Invoke,
            anon().header("authorization", "Bearer gwk_\u{e9}"),
            401,
        ),
        case(
            "bearer_without_token",
            Target::Invoke,
            anon().header("authorization", "Bearer"),
            401,
        ),
        case(
            "bearer_blank_token",
            Target::Invoke,
            anon().header("authorization", "Bearer    "),
            401,
        ),
        case(
            "basic_auth",
            Target::Invoke,
            anon().header("authorization", "Basic YTpi"),
            401,
        ),
        case(
            "api_key_sql_like",
            Target::Invoke,
            anon().header("x-api-key", "' OR '1'='1"),
            401,
        ),
        case(
            "stream_api_key_64k",
            Target::Stream,
            post("/v1/chat/completions")
                .who(Who::Nobody)
                .header("x-api-key", huge.clone())
                .raw(r#"{"model":"haiku","messages":[]}"#),
            401,
        ),
        case(
            "count_api_key_64k",
            Target::Count,
            post("/v1/count")
                .who(Who::Nobody)
                .header("x-api-key", huge)
                .json(converse("x")),
            401,
        ),
    ]
}

/// Duplicated keys (`KEY_A`, `KEY_B`: the world's keys, filled in when sent).
fn dup_rows() -> Vec<Case> {
    let (a, b) = (KEY_A, KEY_B);
    let anon = || converse_as(Who::Nobody);
    vec![
        case(
            "two_api_keys_joined",
            Target::Invoke,
            anon().header("x-api-key", format!("{a},{b}")),
            401,
        ),
        case(
            "same_api_key_twice_joined",
            Target::Invoke,
            anon().header("x-api-key", format!("{a}, {a}")),
            401,
        ),
        case(
            "two_bearers_joined",
            Target::Invoke,
            anon().header("authorization", format!("Bearer {a},Bearer {b}")),
            401,
        ),
        case(
            "bearer_with_trailing_garbage",
            Target::Invoke,
            anon().header("authorization", format!("Bearer {a} extra")),
            401,
        ),
    ]
}

fn other_rows() -> Vec<Case> {
    let many = (0..200).fold(converse_as(Who::A), |r, i| {
        r.header(&format!("x-junk-{i}"), "j".repeat(1024))
    });
    vec![
        case("two_hundred_1k_headers", Target::Invoke, many, 200),
        case(
            "cache_directive_garbage",
            Target::Invoke,
            converse_as(Who::A).header("x-gateway-cache", "x".repeat(10_000)),
            400,
        )
        .one_of(&[200, 400]),
        case(
            "cache_directive_crlf_escaped",
            Target::Invoke,
            converse_as(Who::A).header("x-gateway-cache", "no-store%0d%0aset-cookie: a=b"),
            400,
        )
        .one_of(&[200, 400]),
        case(
            "request_id_header_huge",
            Target::Invoke,
            converse_as(Who::A).header("x-request-id", "r".repeat(10_000)),
            200,
        ),
        case(
            "content_type_charset_utf16",
            Target::Invoke,
            converse_as(Who::A).header("content-type", "application/json; charset=utf-16"),
            200,
        )
        .one_of(&[200, 415]),
        case(
            "content_type_plus_json",
            Target::Invoke,
            converse_as(Who::A).header("content-type", "application/vnd.x+json"),
            200,
        ),
        case(
            "content_type_json_uppercase",
            Target::Invoke,
            converse_as(Who::A).header("content-type", "APPLICATION/JSON"),
            200,
        ),
    ]
}

/// CR/LF in a header value: the event is refused by `lambda_http` before any router (HTTP
/// forbids them, so API Gateway never sends them); nothing to inject.
fn crlf_rows() -> Vec<Case> {
    let refused = |name: &str, header: &str, value: &str| {
        case(
            name,
            Target::Invoke,
            converse_as(Who::A).header(header, value),
            0,
        )
        .event_refused()
    };
    vec![
        refused("crlf_in_custom_header", "x-custom", "a\r\nx-injected: 1"),
        refused(
            "crlf_in_api_key",
            "x-api-key",
            &format!("{KEY_A}\r\nx-admin: true"),
        ),
        refused(
            "crlf_in_request_id",
            "x-request-id",
            "id\r\nset-cookie: a=b",
        ),
        refused(
            "lf_in_cache_directive",
            "x-gateway-cache",
            "no-store\nx-injected: 1",
        ),
    ]
}

fn jwt_rows() -> Vec<Case> {
    vec![
        // Under AuthMode=JWT the Authorization header is API Gateway's; the key is x-api-key.
        case(
            "jwt_and_api_key_admitted",
            Target::InvokeJwt,
            converse_as(Who::A).header("authorization", JWT),
            200,
        ),
        case(
            "jwt_without_api_key_refused",
            Target::InvokeJwt,
            converse_as(Who::Nobody).header("authorization", JWT),
            401,
        )
        .kind("unauthorized")
        .says("x-api-key"),
    ]
}

/// Every row that needs no key in its values.
pub fn cases() -> Vec<Case> {
    let mut all = key_rows();
    all.extend(dup_rows());
    all.extend(other_rows());
    all.extend(crlf_rows());
    all.extend(jwt_rows());
    all
}
