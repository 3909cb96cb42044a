//! Converse JSON -> the pipeline's request parts (`ConverseParts`), as `/v1/converse` reads a
//! body: the body rules (`body::parse_json_body`), then `ConverseParts::from_json`.

use gateway_model::body::parse_json_body;
use gateway_model::convert::ConverseParts;

use crate::assert_client_error;

/// The body limit used here (the deployment's default is larger; the limit is not under test).
const LIMIT: usize = 1 << 20;

/// Any body: refused with a 4xx, or parsed into parts whose JSON parses again to the same JSON
/// (`to_json` is the inverse of `from_json` on what it accepted: nothing is lost or invented).
pub fn check(data: &[u8]) {
    let body = match parse_json_body(Some("application/json"), data, LIMIT) {
        Ok(v) => v,
        Err(e) => return assert_client_error("body", &e),
    };
    let parts = match ConverseParts::from_json(&body, &["model"]) {
        Ok(p) => p,
        Err(e) => return assert_client_error("ConverseParts::from_json", &e),
    };
    let json = parts.to_json();
    let again = ConverseParts::from_json(&json, &[]).unwrap_or_else(|e| {
        panic!(
            "to_json of accepted parts is refused: {}\n{json}",
            e.message()
        )
    });
    assert_eq!(again.to_json(), json, "to_json/from_json is not a fixpoint");
}
