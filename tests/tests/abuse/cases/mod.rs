//! The case tables, one module per kind of abuse. Adding a case is one line in a table.

mod bodies;
mod headers;
mod names;
mod numbers;
mod paths;
mod scenarios;
mod service_model;
mod ssrf;

use serde_json::{Value, json};

use crate::case::{Case, Test};
use crate::world::Target;

/// Every case and scenario, named `group::case`.
pub fn all() -> Vec<Test> {
    let groups: [(&str, Vec<Case>); 6] = [
        ("bodies", bodies::cases()),
        ("numbers", numbers::cases()),
        ("names", names::cases()),
        ("headers", headers::cases()),
        ("paths", paths::cases()),
        ("ssrf", ssrf::cases()),
    ];
    let mut all: Vec<Test> = groups
        .into_iter()
        .flat_map(|(group, cases)| {
            cases.into_iter().map(move |mut c| {
                c.name = format!("{group}::{}", c.name);
                Test::Row(c)
            })
        })
        .collect();
    all.extend(scenarios::all());
    all.extend(service_model::all());
    all
}

/// A route that takes a JSON body.
pub struct Route {
    /// Case name prefix.
    pub name: &'static str,
    /// The function.
    pub target: Target,
    /// The path.
    pub path: &'static str,
    /// A valid body.
    pub body: Value,
    /// The status of that valid body (404 for the guardrail check: no guardrail here).
    pub ok: u16,
}

/// Every route that takes a JSON body.
pub fn json_routes() -> Vec<Route> {
    let converse = converse("hello");
    let native = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                        "messages": [{"role": "user", "content": "hello"}]});
    let openai = json!({"model": "haiku", "messages": [{"role": "user", "content": "hello"}],
                        "max_tokens": 10});
    let anthropic = json!({"model": "haiku", "max_tokens": 10,
                           "messages": [{"role": "user", "content": "hello"}]});
    let anthropic_count =
        json!({"model": "haiku", "messages": [{"role": "user", "content": "hello"}]});
    let responses = json!({"model": "haiku", "input": "hello", "max_output_tokens": 16});
    let r = |name, target, path, body: &Value, ok| Route {
        name,
        target,
        path,
        body: body.clone(),
        ok,
    };
    let guardrail = json!({"source": "INPUT", "content": [{"text": {"text": "hello"}}]});
    vec![
        r(
            "invoke_converse",
            Target::Invoke,
            "/v1/converse",
            &converse,
            200,
        ),
        r(
            "invoke_native",
            Target::Invoke,
            "/v1/invoke/haiku",
            &native,
            200,
        ),
        r(
            "invoke_guardrail",
            Target::Invoke,
            "/v1/guardrail/check",
            &guardrail,
            404,
        ),
        r(
            "invoke_jobs",
            Target::Invoke,
            "/v1/jobs",
            &json!({"request": converse}),
            202,
        ),
        r(
            "stream_converse",
            Target::Stream,
            "/converse",
            &converse,
            200,
        ),
        r(
            "stream_native",
            Target::Stream,
            "/invoke/haiku",
            &native,
            200,
        ),
        r(
            "stream_openai",
            Target::Stream,
            "/v1/chat/completions",
            &openai,
            200,
        ),
        r(
            "stream_anthropic",
            Target::Stream,
            "/v1/messages",
            &anthropic,
            200,
        ),
        r(
            "stream_anthropic_count",
            Target::Stream,
            "/v1/messages/count_tokens",
            &anthropic_count,
            200,
        ),
        r(
            "stream_responses",
            Target::Stream,
            "/v1/responses",
            &responses,
            200,
        ),
        r(
            "stream_responses_count",
            Target::Stream,
            "/v1/responses/input_tokens",
            &responses,
            200,
        ),
        r("count_count", Target::Count, "/v1/count", &converse, 200),
        r(
            "count_estimate",
            Target::Count,
            "/v1/estimate",
            &converse,
            200,
        ),
        r(
            "admin_issue",
            Target::Admin,
            "/v1/admin/keys",
            &json!({"owner": "abuse"}),
            201,
        ),
    ]
}

/// A Converse request to haiku with one user message.
pub fn converse(text: &str) -> Value {
    json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": text}]}],
           "inferenceConfig": {"maxTokens": 20}})
}

/// `converse("hello")` with `inferenceConfig.<field>` set to the raw JSON text `value` (numbers
/// serde cannot hold, like `1e400` or `18446744073709551616`, stay as written).
pub fn converse_with(field: &str, value: &str) -> String {
    format!(
        r#"{{"model": "haiku", "messages": [{{"role": "user", "content": [{{"text": "hello"}}]}}], "inferenceConfig": {{"{field}": {value}}}}}"#
    )
}
