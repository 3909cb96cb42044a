//! `gateway-admin`'s library part: the console's loopback signing proxy (`gateway-admin
//! console`, docs/console.md), a library so its tests can run it against a fake admin API.

pub mod console_proxy;
