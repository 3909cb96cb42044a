//! `stream-url`: token streaming behind a Lambda Function URL in `RESPONSE_STREAM` mode.
//!
//! Thin by design: an axum `Router` (handed to `lambda_http::run_with_streaming_response`)
//! parses the request and opens the upstream stream through `inference-core`; a spawned pump
//! task forwards each upstream event as one server-sent event the moment it arrives (past the
//! first content, a fast stream's events share writes: `bursts`). Modules point one way:
//! `app` -> `batches` -> `compat` -> `routes` -> `pump` -> `bursts`, `sse`.

pub mod app;
pub mod batches;
pub mod bursts;
pub mod compat;
pub mod pump;
pub mod routes;
pub mod runtime_socket;
pub mod sse;

pub use app::{router, router_with};

/// The `Function` metric dimension of this function's calls.
pub const FUNCTION: &str = "stream-url";
