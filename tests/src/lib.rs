//! Shared harness for the workspace's Rust integration tests: `bedrock-local` and moto's server on
//! free ports (the emulator built by `cargo build --workspace --bins`, moto from `.venv`) and the
//! recorded event fixtures.

use std::path::PathBuf;

pub mod emulator;
pub mod flaky;
pub mod jobs;
pub mod keys;
pub mod moto;
pub mod router;

pub use emulator::Emulator;
pub use moto::Moto;

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A recorded event under `tests/fixtures/events/`, parsed as JSON.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = workspace_root().join("tests/fixtures/events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The SDK's HTTPS client for test configurations (rustls with `ring`): the workspace turns the
/// SDK's `default-https-client` off, so a configuration without a client cannot send.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
