//! `bedrock-local`: a wire-compatible Amazon Bedrock Runtime emulator, with the control-plane
//! operations a gateway needs (foundation models, inference profiles, batch inference jobs).
//!
//! The unmodified AWS SDKs talk to it through an endpoint override. Output is deterministic,
//! timing is configurable, and faults are scripted, so gateway code can be tested offline.
//! Embed it with [`server::AppState::new`] and [`server::serve`], or run the binary.

pub mod async_invoke;
pub mod batch;
pub mod cache;
pub mod chat;
pub mod cli;
pub mod constraints;
pub mod control;
pub mod converse;
pub mod errors;
pub mod eventstream;
pub mod faults;
pub mod foundation;
pub mod generate;
pub mod guardrails;
pub mod models;
pub mod native;
pub mod paging;
pub mod profiles;
pub mod routes;
pub mod s3;
pub mod server;
pub mod service_model;
pub mod sigv4;
pub mod stats;
pub mod stream;
pub mod structured;
pub mod timing;
pub mod tokens;
pub mod validation;

pub use cli::Config;
pub use errors::BedrockError;

/// Binds `host:port` and serves until SIGTERM/Ctrl-C, calling `on_listening` with the real
/// address once bound.
pub async fn run(
    config: Config,
    on_listening: impl FnOnce(std::net::SocketAddr),
) -> Result<(), String> {
    let state = server::AppState::new(config.clone())?;
    let shutdown = server::Shutdown::install().map_err(|e| format!("signal handlers: {e}"))?;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("bind {}:{}: {e}", config.host, config.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    on_listening(addr);
    server::serve(listener, state, shutdown)
        .await
        .map_err(|e| e.to_string())
}
