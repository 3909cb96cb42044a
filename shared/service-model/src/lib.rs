//! Bedrock Runtime's published service model, reduced to what request validation reads, and a
//! checker of requests against it.
//!
//! Bedrock refuses a request that breaks a constraint of its service model (a length, a
//! pattern, an enum, a range, a list size, a map key, a missing required member, a union with
//! other than one member) with a `ValidationException`. bedrock-local refuses the same requests
//! with the same message, and the gateway refuses them before it spends a call.
//! `bedrock-runtime.json` is written by `extract.py` from the botocore pinned in
//! `infra/local/requirements.txt`; a test fails when it no longer matches.
//!
//! With the `cases` feature, [`cases`] generates requests from the model that break each
//! constraint once, and requests on each boundary that keep them: the tests of this crate,
//! bedrock-local and the gateway run them.

#[cfg(feature = "cases")]
pub mod cases;
mod check;
mod model;
mod violation;

pub use model::{Http, Kind, Member, Operation, Placement, ServiceModel, Shape, Target};
pub use violation::{Rule, Step, Violation, Violations};
