//! Numbers at and past the edges: negative, zero, 2^31, 2^32, 2^64, 1e400, fractions, numbers as
//! strings and the spellings of NaN and infinity, in every field a caller sizes a call with.
//! Each is a 400, never a 5xx and never a call sized by a wrapped-around value.

use serde_json::json;

use crate::case::{Case, case};
use crate::event::{Who, post};
use crate::world::Target;

use super::converse_with;

/// Values no token count may take (raw JSON text).
const BAD_COUNTS: [(&str, &str); 15] = [
    ("negative", "-1"),
    ("zero", "0"),
    ("i64_min", "-9223372036854775808"),
    ("two_pow_32", "4294967296"),
    ("two_pow_63", "9223372036854775808"),
    ("two_pow_64", "18446744073709551616"),
    ("e400", "1e400"),
    ("minus_e400", "-1e400"),
    ("fraction", "1.5"),
    ("string", "\"100\""),
    ("nan_string", "\"NaN\""),
    ("infinity_string", "\"Infinity\""),
    ("bool", "true"),
    ("array", "[100]"),
    ("object", "{\"n\": 100}"),
];

/// Values no sampling parameter may take.
const BAD_FLOATS: [(&str, &str); 7] = [
    ("negative", "-1"),
    ("huge", "1e400"),
    ("two_pow_64", "18446744073709551616"),
    ("nan_string", "\"NaN\""),
    ("string", "\"0.5\""),
    ("above_one", "2.5"),
    ("minus_zero_string", "\"-0\""),
];

fn openai(field: &str, value: &str) -> String {
    format!(
        r#"{{"model": "haiku", "messages": [{{"role": "user", "content": "hello"}}], "{field}": {value}}}"#
    )
}

fn anthropic(value: &str) -> String {
    format!(
        r#"{{"model": "haiku", "max_tokens": {value}, "messages": [{{"role": "user", "content": "hello"}}]}}"#
    )
}

fn native(value: &str) -> String {
    format!(
        r#"{{"anthropic_version": "bedrock-2023-05-31", "max_tokens": {value}, "messages": [{{"role": "user", "content": "hello"}}]}}"#
    )
}

fn job(value: &str) -> String {
    format!(r#"{{"request": {}}}"#, converse_with("maxTokens", value))
}

/// `maxTokens` (and its spellings on every route) set to each bad count.
fn counts() -> Vec<Case> {
    let mut out = vec![];
    for (what, v) in BAD_COUNTS {
        let row = |route: &str, target, path: &str, body: String| {
            case(
                &format!("{route}_max_tokens_{what}"),
                target,
                post(path).raw(body),
                400,
            )
        };
        out.push(row(
            "converse",
            Target::Invoke,
            "/v1/converse",
            converse_with("maxTokens", v),
        ));
        out.push(row("native", Target::Invoke, "/v1/invoke/haiku", native(v)));
        out.push(row("jobs", Target::Invoke, "/v1/jobs", job(v)));
        out.push(row(
            "stream_converse",
            Target::Stream,
            "/converse",
            converse_with("maxTokens", v),
        ));
        out.push(row(
            "openai",
            Target::Stream,
            "/v1/chat/completions",
            openai("max_tokens", v),
        ));
        out.push(row(
            "openai_completion",
            Target::Stream,
            "/v1/chat/completions",
            openai("max_completion_tokens", v),
        ));
        out.push(row(
            "anthropic",
            Target::Stream,
            "/v1/messages",
            anthropic(v),
        ));
        out.push(row(
            "count",
            Target::Count,
            "/v1/count",
            converse_with("maxTokens", v),
        ));
    }
    out
}

/// `temperature` and `topP` (and OpenAI's spellings) set to each bad value.
fn floats() -> Vec<Case> {
    let mut out = vec![];
    for (what, v) in BAD_FLOATS {
        for (field, openai_field) in [("temperature", "temperature"), ("topP", "top_p")] {
            out.push(case(
                &format!("converse_{field}_{what}"),
                Target::Invoke,
                post("/v1/converse").raw(converse_with(field, v)),
                400,
            ));
            out.push(case(
                &format!("openai_{openai_field}_{what}"),
                Target::Stream,
                post("/v1/chat/completions").raw(openai(openai_field, v)),
                400,
            ));
        }
    }
    out
}

/// Huge and negative `maxTokens` against a key's budget and tokens per minute: refused before
/// anything is reserved or called.
fn limits() -> Vec<Case> {
    let body = |n: &str| post("/v1/converse").raw(converse_with("maxTokens", n));
    vec![
        case(
            "budget_key_max_tokens_huge",
            Target::Invoke,
            body("64000").who(Who::Budget),
            429,
        )
        .kind("budget_exceeded"),
        case(
            "budget_key_max_tokens_negative",
            Target::Invoke,
            body("-1").who(Who::Budget),
            400,
        ),
        case(
            "budget_key_max_tokens_2_pow_64",
            Target::Invoke,
            body("18446744073709551616").who(Who::Budget),
            400,
        ),
        // More than the key's tokens per minute in one call: no wait would help, so a 400.
        case(
            "tpm_key_max_tokens_huge",
            Target::Invoke,
            body("64000").who(Who::Tpm),
            400,
        )
        .says("tokens per minute"),
        case(
            "tpm_key_max_tokens_negative",
            Target::Invoke,
            body("-1").who(Who::Tpm),
            400,
        ),
        case(
            "tpm_key_max_tokens_2_pow_32",
            Target::Invoke,
            body("4294967296").who(Who::Tpm),
            400,
        ),
        case(
            "max_tokens_past_model_limit",
            Target::Invoke,
            body("2147483647"),
            400,
        ),
        case(
            "stop_sequences_number",
            Target::Invoke,
            post("/v1/converse").raw(converse_with("stopSequences", "[1e400]")),
            400,
        ),
        case(
            "openai_n_two_pow_64",
            Target::Stream,
            post("/v1/chat/completions").raw(openai("n", "18446744073709551616")),
            400,
        ),
        case(
            "openai_seed_e400",
            Target::Stream,
            post("/v1/chat/completions").raw(openai("seed", "1e400")),
            400,
        ),
        case(
            "usage_day_out_of_range",
            Target::Invoke,
            crate::event::get("/v1/usage?from=99999-99-99"),
            400,
        ),
        case(
            "usage_day_feb_30",
            Target::Invoke,
            crate::event::get("/v1/usage?from=2026-02-30"),
            400,
        ),
        case(
            "admin_budget_negative",
            Target::Admin,
            post("/v1/admin/keys").json(json!({"owner": "x", "limits": {"budget_day_usd": "-1"}})),
            400,
        ),
        case(
            "admin_rpm_two_pow_64",
            Target::Admin,
            post("/v1/admin/keys")
                .raw(r#"{"owner": "x", "limits": {"requests_per_minute": 18446744073709551616}}"#),
            400,
        ),
        case(
            "admin_budget_e400",
            Target::Admin,
            post("/v1/admin/keys").raw(r#"{"owner": "x", "limits": {"budget_day_usd": 1e400}}"#),
            400,
        ),
    ]
}

/// A huge or absent token count on every route that spends, for the budget key (refused:
/// the reservation is the price of the whole count, or of the default when none is given) and
/// the tokens-per-minute key (a count over the whole minute's allowance can never fit: 400).
fn spending_routes() -> Vec<Case> {
    let huge = "64000";
    let routes: [(&str, Target, &str, String, String); 6] = [
        ("converse", Target::Invoke, "/v1/converse", converse_with("maxTokens", huge),
         r#"{"model": "haiku", "messages": [{"role": "user", "content": [{"text": "hello"}]}]}"#.into()),
        ("native", Target::Invoke, "/v1/invoke/haiku", native(huge),
         r#"{"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "hello"}]}"#.into()),
        ("jobs", Target::Invoke, "/v1/jobs", job(huge),
         r#"{"request": {"model": "haiku", "messages": [{"role": "user", "content": [{"text": "hello"}]}]}}"#.into()),
        ("stream_converse", Target::Stream, "/converse", converse_with("maxTokens", huge),
         r#"{"model": "haiku", "messages": [{"role": "user", "content": [{"text": "hello"}]}]}"#.into()),
        ("openai", Target::Stream, "/v1/chat/completions", openai("max_tokens", huge),
         r#"{"model": "haiku", "messages": [{"role": "user", "content": "hello"}]}"#.into()),
        ("anthropic", Target::Stream, "/v1/messages", anthropic(huge),
         r#"{"model": "haiku", "messages": [{"role": "user", "content": "hello"}]}"#.into()),
    ];
    let mut out = vec![];
    for (route, target, path, huge_body, default_body) in routes {
        out.push(case(
            &format!("budget_key_{route}_huge"),
            target,
            post(path).raw(huge_body.clone()).who(Who::Budget),
            429,
        ));
        // Anthropic's Messages API requires max_tokens: no default to reserve.
        let default_status = if route == "anthropic" { 400 } else { 429 };
        out.push(case(
            &format!("budget_key_{route}_default"),
            target,
            post(path).raw(default_body).who(Who::Budget),
            default_status,
        ));
        out.push(case(
            &format!("tpm_key_{route}_huge"),
            target,
            post(path).raw(huge_body).who(Who::Tpm),
            400,
        ));
    }
    out
}

/// Every row.
pub fn cases() -> Vec<Case> {
    let mut all = counts();
    all.extend(spending_routes());
    all.extend(floats());
    all.extend(limits());
    all
}
