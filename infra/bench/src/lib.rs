//! The benchmark harness behind `make bench`: a local Lambda Runtime API, function processes
//! launched as Lambda launches them, and the figures of issue 12 (cold start, warm overhead,
//! memory, size, emulator throughput), written as JSON and Markdown.

pub mod cold_start;
pub mod direct;
pub mod eventstream;
pub mod procs;
pub mod report;
pub mod runtime_api;
pub mod session;
pub mod stats;
pub mod throughput;
pub mod warm;
