//! Properties of the gateway's parsers, checked on any input: each `check` function panics when a
//! property fails. The fuzz targets in `fuzz/` call them on generated inputs (nightly,
//! `make fuzz`); `tests/corpus.rs` replays the checked-in corpus through them on stable, so the
//! corpus keeps testing the code in `make test` (docs/fuzzing.md).
//!
//! "A refusal is a 4xx" is the property shared by every request parser: bad input is the
//! caller's fault, so no input may produce a 5xx (or a panic).

pub mod compat;
pub mod converse;
pub mod event_stream;
pub mod resolve;
pub mod sse;
pub mod url_guard;

use gateway_model::error::GatewayError;

/// A property check: panics when the property fails for the input.
pub type Check = fn(&[u8]);

/// Every fuzz target, by the name of its `fuzz/fuzz_targets/<name>.rs` and corpus folder.
pub const TARGETS: [(&str, Check); 6] = [
    ("converse_request", converse::check),
    ("compat_request", compat::check),
    ("model_resolve", resolve::check),
    ("webhook_url", url_guard::check),
    ("sse", sse::check),
    ("event_stream", event_stream::check),
];

/// Panics unless `e` is a client error (4xx).
pub fn assert_client_error(what: &str, e: &GatewayError) {
    let status = e.status();
    assert!(
        status.is_client_error(),
        "{what}: refused with {status} (not 4xx): {}",
        e.message()
    );
}
