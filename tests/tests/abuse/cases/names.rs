//! Huge arrays and huge or strange names: model names (in bodies and paths), field names,
//! idempotency keys, owners. Refused with a 4xx, or (for a large but valid request) answered;
//! never a 5xx, a hang, or the whole input echoed back.

use serde_json::{Value, json};

use crate::case::{Case, case};
use crate::event::{get, post};
use crate::world::Target;

use super::converse;

fn with_model(model: &str) -> Value {
    let mut v = converse("hello");
    v["model"] = json!(model);
    v
}

fn messages(n: usize) -> Value {
    let one = json!({"role": "user", "content": [{"text": "a"}]});
    json!({"model": "haiku", "messages": vec![one; n], "inferenceConfig": {"maxTokens": 10}})
}

fn blocks(n: usize) -> Value {
    let blocks = vec![json!({"text": "a"}); n];
    json!({"model": "haiku", "messages": [{"role": "user", "content": blocks}],
           "inferenceConfig": {"maxTokens": 10}})
}

fn model_rows() -> Vec<Case> {
    let long = "h".repeat(100_000);
    let names: [(&str, &str); 8] = [
        ("long", &long),
        ("nul", "hai\u{0}ku"),
        ("traversal", "../../../../etc/passwd"),
        ("newline", "haiku\r\nx-injected: 1"),
        ("empty", ""),
        ("spaces", "   "),
        ("unicode_lookalike", "hаiku"),
        ("wildcard", "*"),
    ];
    let mut out = vec![];
    for (what, name) in names {
        let c = |route: &str, target, path: &str, body: Value| {
            case(
                &format!("{route}_model_{what}"),
                target,
                post(path).json(body),
                400,
            )
            .one_of(&[400, 404])
        };
        out.push(c(
            "converse",
            Target::Invoke,
            "/v1/converse",
            with_model(name),
        ));
        out.push(c(
            "stream_converse",
            Target::Stream,
            "/converse",
            with_model(name),
        ));
        out.push(c("count", Target::Count, "/v1/count", with_model(name)));
        out.push(c(
            "jobs",
            Target::Invoke,
            "/v1/jobs",
            json!({"request": with_model(name)}),
        ));
        out.push(c(
            "openai",
            Target::Stream,
            "/v1/chat/completions",
            json!({"model": name, "messages": [{"role": "user", "content": "hi"}]}),
        ));
    }
    let path_name = "m".repeat(8_000);
    for (route, target, path) in [
        (
            "invoke_native",
            Target::Invoke,
            format!("/v1/invoke/{path_name}"),
        ),
        (
            "stream_native",
            Target::Stream,
            format!("/invoke/{path_name}"),
        ),
    ] {
        out.push(
            case(
                &format!("{route}_model_long_path"),
                target,
                post(&path).json(json!({})),
                404,
            )
            .one_of(&[400, 404]),
        );
    }
    out.push(
        case(
            "models_long_name",
            Target::Invoke,
            get(&format!("/v1/models/{path_name}")),
            404,
        )
        .one_of(&[400, 404]),
    );
    out
}

fn array_rows() -> Vec<Case> {
    let unknown = format!(r#"{{"{}": 1, "model": "haiku"}}"#, "k".repeat(1_000_000));
    let ok_or_refused: &[u16] = &[200, 400];
    vec![
        case("converse_100k_messages", Target::Invoke, post("/v1/converse").json(messages(100_000)), 400)
            .one_of(ok_or_refused),
        case("converse_100k_blocks", Target::Invoke, post("/v1/converse").json(blocks(100_000)), 400)
            .one_of(ok_or_refused),
        case("count_100k_messages", Target::Count, post("/v1/count").json(messages(100_000)), 400)
            .one_of(ok_or_refused),
        case("stream_100k_blocks", Target::Stream, post("/converse").json(blocks(100_000)), 400)
            .one_of(ok_or_refused),
        case(
            "openai_100k_messages",
            Target::Stream,
            post("/v1/chat/completions").json(json!({"model": "haiku",
                "messages": vec![json!({"role": "user", "content": "a"}); 100_000], "max_tokens": 10})),
            400,
        )
        .one_of(ok_or_refused),
        case(
            "converse_100k_stop_sequences",
            Target::Invoke,
            post("/v1/converse").json(json!({"model": "haiku",
                "messages": [{"role": "user", "content": [{"text": "a"}]}],
                "inferenceConfig": {"maxTokens": 10, "stopSequences": vec!["x"; 100_000]}})),
            400,
        )
        // Bedrock refuses it (ValidationException, a 400); bedrock-local does not check.
        .one_of(ok_or_refused),
        case(
            "converse_10k_tools",
            Target::Invoke,
            post("/v1/converse").json(json!({"model": "haiku",
                "messages": [{"role": "user", "content": [{"text": "a"}]}],
                "toolConfig": {"tools": (0..10_000).map(|i| json!({"toolSpec": {"name": format!("t{i}"),
                    "inputSchema": {"json": {"type": "object"}}}})).collect::<Vec<_>>()}})),
            400,
        )
        .one_of(ok_or_refused),
        case("converse_megabyte_field_name", Target::Invoke, post("/v1/converse").raw(unknown.clone()), 400),
        case("openai_megabyte_field_name", Target::Stream, post("/v1/chat/completions").raw(unknown), 400),
        case(
            "jobs_idempotency_key_100k",
            Target::Invoke,
            post("/v1/jobs").json(json!({"request": converse("hi"), "idempotency_key": "k".repeat(100_000)})),
            400,
        ),
        case(
            "jobs_idempotency_key_control_chars",
            Target::Invoke,
            post("/v1/jobs").json(json!({"request": converse("hi"), "idempotency_key": "a\u{0}\r\nb"})),
            400,
        ),
        case(
            "jobs_webhook_url_100k",
            Target::Invoke,
            post("/v1/jobs").json(json!({"request": converse("hi"),
                "webhook_url": format!("https://example.com/{}", "a".repeat(100_000))})),
            400,
        ),
        case(
            "admin_owner_100k",
            Target::Admin,
            post("/v1/admin/keys").json(json!({"owner": "o".repeat(60_000)})),
            400,
        ),
        case(
            "admin_10k_models",
            Target::Admin,
            post("/v1/admin/keys").json(json!({"owner": "x", "models": vec!["haiku"; 10_000]})),
            413,
        ),
    ]
}

/// Every row.
pub fn cases() -> Vec<Case> {
    let mut all = model_rows();
    all.extend(array_rows());
    all
}
