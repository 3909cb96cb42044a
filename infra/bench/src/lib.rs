//! The benchmark harness behind `make bench`: a local Lambda Runtime API, function processes
//! launched as Lambda launches them, and the figures of issue 12 (cold start, warm overhead,
//! memory, size, emulator throughput, streaming, the estimator and PII filter; issue 13's response
//! cache hit against miss), written as JSON
//! and Markdown.

pub mod cache;
pub mod charts;
pub mod cold_start;
pub mod conn;
pub mod direct;
pub mod doc_parts;
pub mod events;
pub mod eventstream;
pub mod lmi;
pub mod micro;
pub mod peers;
pub mod procs;
pub mod report;
pub mod runtime_api;
pub mod session;
pub mod stats;
pub mod stream_body;
pub mod stream_report;
pub mod streaming;
pub mod throughput;
pub mod warm;
