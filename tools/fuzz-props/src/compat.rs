//! The OpenAI chat, Responses and Anthropic Messages bodies -> the gateway's request (Converse
//! JSON, or the native Claude body), as `stream-url`'s compat routes translate them.
//!
//! The first input byte picks the route and the model the translation is checked for (none, or
//! one catalog entry: capability checks depend on it); the rest is the body.

use gateway_model::body::parse_json_body;
use gateway_model::catalog::{Catalog, ModelEntry};
use gateway_model::convert::ConverseParts;
use http::HeaderMap;
use serde_json::Value;
use std::sync::OnceLock;
use stream_url::compat::{CompatError, anthropic, openai, responses};

use crate::assert_client_error;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::embedded().expect("the embedded catalog loads"))
}

fn refused(route: &str, e: &CompatError) {
    assert_client_error(route, &e.error);
}

/// A translated chat request must be a Converse request the gateway itself accepts, or one it
/// refuses only because a value the caller chose breaks a constraint of Bedrock's service model
/// (OpenAI's `temperature` goes to 2, Bedrock's to 1): a 400 before any call, as Bedrock would.
fn converse_accepted(route: &str, converse: &Value) {
    if let Err(e) = ConverseParts::from_json(converse, &["model"])
        && !(e.status() == 400
            && e.message()
                .ends_with("(a constraint of Bedrock's service model)"))
    {
        panic!(
            "{route}: translation is not a valid Converse request: {}\n{converse}",
            e.message()
        );
    }
}

/// Any (selector, body): refused with a 4xx, or translated into a request the gateway accepts.
pub fn check(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let body = match parse_json_body(Some("application/json"), body, 1 << 20) {
        Ok(v) => v,
        Err(e) => return assert_client_error("body", &e),
    };
    let models = catalog().models();
    let model: Option<&ModelEntry> = match usize::from(selector >> 2) {
        0 => None,
        n => models.get(n % models.len()),
    };
    match selector % 3 {
        0 => match openai::translate(&body, model) {
            Ok(r) => converse_accepted("chat", &r.converse),
            Err(e) => refused("chat", &e),
        },
        1 => match responses::translate(&body, model) {
            Ok(r) => converse_accepted("responses", &r.chat.converse),
            Err(e) => refused("responses", &e),
        },
        _ => match anthropic::translate(&body, &HeaderMap::new()) {
            Ok(r) => assert!(
                r.native.is_object(),
                "messages: native body is not an object"
            ),
            Err(e) => refused("messages", &e),
        },
    }
}
