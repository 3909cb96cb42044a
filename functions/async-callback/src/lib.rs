//! `async-callback`: work that should not hold an HTTP connection. Triggered by SQS (with partial
//! batch responses) and by S3 ObjectCreated under `inbox/` (directly, or through the notification
//! queue). Thin by design: requests run through `inference-core`.

pub mod batch;
mod batch_flush;
mod batch_poll;
mod batch_return;
pub mod batch_worker;
pub mod error;
pub mod events;
pub mod handler;
pub mod inbox;
pub mod inbox_object;
mod inbox_plan;
pub mod jobs;
pub mod runner;
pub mod state;
pub mod storage;

pub use error::CallbackError;
pub use handler::{State, handle};
pub use runner::{Answer, GatewayRunner, Runner};
