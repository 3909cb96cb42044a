//! Paths and queries: invalid percent-encoded UTF-8 in path parameters, encoded traversal and
//! NULs, odd spellings of known routes, other methods, and bad query strings.

use serde_json::json;

use crate::case::{Case, case};
use crate::event::{get, post, req};
use crate::world::Target;

/// Path parameters of every function's routes, with `{}` where the parameter goes.
const PARAM_ROUTES: [(&str, Target, &str, &str); 7] = [
    ("models", Target::Invoke, "GET", "/v1/models/{}"),
    ("invoke_native", Target::Invoke, "POST", "/v1/invoke/{}"),
    ("jobs", Target::Invoke, "GET", "/v1/jobs/{}"),
    ("stream_native", Target::Stream, "POST", "/invoke/{}"),
    ("stream_models", Target::Stream, "GET", "/v1/models/{}"),
    ("admin_key", Target::Admin, "GET", "/v1/admin/keys/{}"),
    (
        "admin_key_patch",
        Target::Admin,
        "PATCH",
        "/v1/admin/keys/{}",
    ),
];

fn param_request(method: &str, template: &str, value: &str) -> crate::event::Req {
    let r = req(method, &template.replace("{}", value));
    if method == "GET" {
        r
    } else {
        r.json(
            json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "x"}]}),
        )
    }
}

fn param_rows() -> Vec<Case> {
    let mut out = vec![];
    for (route, target, method, template) in PARAM_ROUTES {
        let row = |what: &str, value: &str, status| {
            case(
                &format!("{route}_{what}"),
                target,
                param_request(method, template, value),
                status,
            )
        };
        // Not UTF-8 once decoded: the gateway's JSON 400, not axum's text/plain rejection.
        out.push(row("invalid_utf8", "%FF", 400));
        out.push(row("overlong_utf8", "%C0%AF", 400));
        out.push(row("encoded_traversal", "..%2F..%2Fetc%2Fpasswd", 404).one_of(&[400, 404]));
        out.push(row("encoded_nul", "a%00b", 404).one_of(&[400, 404]));
        out.push(row("encoded_crlf", "a%0D%0Ax-injected:%201", 404).one_of(&[400, 404]));
        out.push(row("bad_escape", "%zz", 404).one_of(&[400, 404]));
    }
    out
}

fn route_rows() -> Vec<Case> {
    let converse =
        || json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "x"}]}]});
    vec![
        case(
            "double_slash",
            Target::Invoke,
            post("//v1/converse").json(converse()),
            404,
        ),
        case(
            "upper_case",
            Target::Invoke,
            post("/V1/CONVERSE").json(converse()),
            404,
        ),
        case(
            "trailing_slash",
            Target::Invoke,
            post("/v1/converse/").json(converse()),
            404,
        ),
        case(
            "encoded_slash",
            Target::Invoke,
            post("/v1%2Fconverse").json(converse()),
            404,
        ),
        case(
            "path_nul",
            Target::Invoke,
            post("/v1/converse%00").json(converse()),
            404,
        ),
        case(
            "path_10k",
            Target::Invoke,
            get(&format!("/v1/{}", "a".repeat(10_000))),
            404,
        ),
        case(
            "stream_path_10k",
            Target::Stream,
            get(&format!("/{}", "a".repeat(10_000))),
            404,
        ),
        case("count_unknown", Target::Count, get("/v1/count/%FF"), 404),
        case("admin_unknown", Target::Admin, get("/v1/admin/%FF"), 404),
        case(
            "delete_converse",
            Target::Invoke,
            req("DELETE", "/v1/converse"),
            405,
        ),
        case(
            "custom_method",
            Target::Invoke,
            req("PURGE", "/v1/converse"),
            405,
        ),
        case(
            "trace_models",
            Target::Invoke,
            req("TRACE", "/v1/models"),
            405,
        ),
        case("get_converse", Target::Invoke, get("/v1/converse"), 405),
        case("stream_get_converse", Target::Stream, get("/converse"), 405),
        case(
            "stream_put_chat",
            Target::Stream,
            req("PUT", "/v1/chat/completions"),
            405,
        ),
        case(
            "count_delete",
            Target::Count,
            req("DELETE", "/v1/count"),
            405,
        ),
        case(
            "admin_put_keys",
            Target::Admin,
            req("PUT", "/v1/admin/keys"),
            405,
        ),
        case(
            "jobs_id_not_a_job_id",
            Target::Invoke,
            get("/v1/jobs/job_zzzz"),
            404,
        ),
        case(
            "jobs_id_upper_hex",
            Target::Invoke,
            get(&format!("/v1/jobs/job_{}", "A".repeat(32))),
            404,
        ),
        case(
            "admin_key_id_garbage",
            Target::Admin,
            get("/v1/admin/keys/..%2F..%2F"),
            400,
        )
        .one_of(&[400, 404]),
    ]
}

fn query_rows() -> Vec<Case> {
    vec![
        case(
            "usage_invalid_utf8",
            Target::Invoke,
            get("/v1/usage?from=%FF"),
            400,
        ),
        case(
            "usage_crlf",
            Target::Invoke,
            get("/v1/usage?from=2026-01-01%0D%0Aset-cookie:%20a"),
            400,
        ),
        case(
            "usage_repeated",
            Target::Invoke,
            get("/v1/usage?from=2026-01-01&from=2026-01-02"),
            400,
        )
        .one_of(&[200, 400]),
        case(
            "usage_unknown_param",
            Target::Invoke,
            get("/v1/usage?evil=1"),
            400,
        )
        .one_of(&[200, 400]),
        case(
            "usage_to_before_from",
            Target::Invoke,
            get("/v1/usage?from=2026-02-01&to=2026-01-01"),
            400,
        ),
        case(
            "usage_ten_years",
            Target::Invoke,
            get("/v1/usage?from=2016-01-01&to=2026-01-01"),
            400,
        )
        .one_of(&[200, 400]),
        case(
            "usage_key_id_nul",
            Target::Invoke,
            get("/v1/usage?key_id=%00"),
            400,
        )
        .one_of(&[400, 404]),
        case(
            "admin_usage_invalid_utf8",
            Target::Admin,
            get("/v1/admin/usage?from=%FF"),
            400,
        ),
        case(
            "models_query_garbage",
            Target::Invoke,
            get("/v1/models?%FF=%FF&a=%zz"),
            200,
        ),
        case(
            "models_query_8k",
            Target::Invoke,
            get(&format!("/v1/models?x={}", "q".repeat(8_000))),
            200,
        ),
        case(
            "models_query_1k_params",
            Target::Invoke,
            get(&format!("/v1/models?{}", many_params("p", |_| "1".into()))),
            200,
        ),
        case(
            "usage_1k_params",
            Target::Invoke,
            get(&format!(
                "/v1/usage?{}",
                many_params("from", |i| format!("2026-01-{:02}", i % 28 + 1))
            )),
            400,
        )
        .one_of(&[200, 400]),
        case(
            "models_encoded_name",
            Target::Invoke,
            get("/v1/models/%68%61%69%6B%75"),
            200,
        ),
        case(
            "method_override_header",
            Target::Invoke,
            get("/v1/models").header("x-http-method-override", "DELETE"),
            200,
        ),
    ]
}

/// `name=value(i)` 1,000 times, joined with `&` (API Gateway takes at most 10 KB of request
/// line and headers; a URI over 64 KB panics inside `lambda_http` before any router).
fn many_params(name: &str, value: impl Fn(usize) -> String) -> String {
    (0..1_000)
        .map(|i| {
            format!(
                "{name}{}={}",
                if name == "p" {
                    i.to_string()
                } else {
                    String::new()
                },
                value(i)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Every row.
pub fn cases() -> Vec<Case> {
    let mut all = param_rows();
    all.extend(route_rows());
    all.extend(query_rows());
    all
}
