//! `invoke`: the synchronous HTTP API behind API Gateway (HTTP API, payload format 2.0).
//!
//! Thin by design: parse the request, call `inference-core`, shape the response. Routing is an
//! axum `Router` handed to `lambda_http`, as the runtime's own examples do. The routes and their
//! shapes are documented in `docs/openapi.yaml`. Modules point one way: `routes` -> handlers ->
//! `state`.

pub mod converse;
pub mod guardrail;
pub mod jobs;
pub mod native;
pub mod routes;
pub mod state;
pub mod usage;

pub use routes::router;
pub use state::{AppState, JobsApi};
