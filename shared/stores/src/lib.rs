//! `gateway-stores`: the gateway's state in DynamoDB, behind the traits `inference-core` defines,
//! and the composition root that plugs them in.
//!
//! - [`auth`]: API keys, budgets, minute windows, usage and open-stream leases
//!   (`KeyDirectory`, `Meter`, `StreamLeases`).
//! - [`admin`]: key administration (the admin function and the `gateway-admin` CLI).
//! - [`cache`]: the response cache's shared tier (`SharedTier`).
//! - [`dynamo`]: attribute helpers and error mapping (the jobs crate's records use them too).
//! - [`services`]: what every function's `main` builds once per cold start.
//!
//! The call pipeline never names DynamoDB: it sees the traits, so it is tested with in-memory
//! stores, and this crate is the one place that links `aws-sdk-dynamodb` for them.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod dynamo;
pub mod services;

pub use services::{InitError, Services};
