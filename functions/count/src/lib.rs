//! `count`: token counts, context fit and cost estimates behind API Gateway (HTTP API, payload
//! format 2.0): `POST /v1/count` and `POST /v1/estimate`.
//!
//! Thin by design: parse the body, count with Bedrock's CountTokens (models that support it) or
//! the local estimator in `inference-core`, price with its cost module, shape the answer.

pub mod accuracy;
pub mod api;
pub mod count;
pub mod fit;
pub mod request;
pub mod routes;
pub mod view;

pub use routes::router;
