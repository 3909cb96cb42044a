//! `invoke`: the synchronous HTTP API behind API Gateway (HTTP API, payload format 2.0).
//!
//! Thin by design: parse the request, call `inference-core`, shape the response. Routing is an
//! axum `Router` handed to `lambda_http`, as the runtime's own examples do.

pub mod routes;

pub use routes::{AppState, router};
