//! Test support shared by the integration tests that run the `Gateway` against
//! `bedrock-local`: start the emulator on a free port (it stops when dropped) and build a
//! gateway from configuration variables pointed at it. Fails (does not skip) when the emulator
//! binary is missing: run `cargo build -p bedrock-local` or set `BEDROCK_LOCAL_BIN`.

#![allow(dead_code)]

use std::collections::HashMap;

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use inference_core::{BedrockClient, Catalog, Config, Gateway};

pub use gateway_tests::Emulator;

/// Starts `bedrock-local` with extra flags (see `gateway_tests::emulator`).
pub fn start(extra: &[&str]) -> Emulator {
    Emulator::start(extra)
}

/// A gateway configured by `vars` (as environment variables) calling `url`.
pub fn gateway(url: &str, vars: &[(&str, &str)]) -> Gateway {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from_lookup(move |k| map.get(k).cloned()).expect("config");
    let catalog = Catalog::load(&config).expect("catalog");
    let sdk = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(config.region.as_str().to_owned()))
        .endpoint_url(url)
        .http_client(inference_core::sdk_http::https_client())
        .credentials_provider(Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .build();
    Gateway::new(
        config,
        catalog,
        BedrockClient::from_sdk(aws_sdk_bedrockruntime::Client::from_conf(sdk)),
    )
}

/// The control-plane SDK client (service `bedrock`) pointed at `url`.
pub fn control_client(url: &str) -> aws_sdk_bedrock::Client {
    let conf = aws_sdk_bedrock::Config::builder()
        .behavior_version(aws_sdk_bedrock::config::BehaviorVersion::latest())
        .region(aws_sdk_bedrock::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .http_client(inference_core::sdk_http::https_client())
        .credentials_provider(aws_sdk_bedrock::config::Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_bedrock::Client::from_conf(conf)
}

/// Arms one of bedrock-local's faults (`POST /_local/faults`).
pub async fn arm_fault(url: &str, fault: serde_json::Value) {
    let url = format!("{url}/_local/faults");
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").expect("http URL");
        let (authority, path) = rest.split_once('/').expect("path");
        let body = fault.to_string();
        let mut s = std::net::TcpStream::connect(authority).expect("connect");
        write!(
            s,
            "POST /{path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut reply = String::new();
        s.read_to_string(&mut reply).expect("read");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    })
    .await
    .expect("join");
}
