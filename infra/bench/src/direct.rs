//! Clients of bedrock-local used by the harness itself.
//!
//! - [`Direct`]: the Rust AWS SDK (`aws-sdk-bedrockruntime`, the same crate, client stack and
//!   SigV4 signing the functions use): the baseline "call Bedrock directly" of the warm figures.
//! - [`RawConn`]: one keep-alive HTTP/1.1 connection (hyper) with a fixed, well-formed SigV4
//!   `Authorization` header, for the emulator's own throughput, where SDK cost must not count.

use std::net::SocketAddr;
use std::time::Instant;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseTokensRequest, CountTokensInput, Message,
};
use bytes::Bytes;

use crate::conn::{Conn, Req};

/// The model every figure calls: what the gateway's `haiku` alias resolves to in us-east-1.
pub const MODEL_ID: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";

/// bedrock-local checks the header's shape only (Signature must be 64 hex digits).
pub const FIXED_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000";

pub struct Direct {
    client: Client,
}

/// The direct SDK call a function's request is paired with (the same Bedrock operation).
#[derive(Debug, Clone)]
pub enum DirectCall {
    Converse {
        model: String,
        text: String,
    },
    /// A native body, sent as is.
    InvokeModel {
        model: String,
        body: Bytes,
    },
    /// CountTokens of a one-message Converse input (bare foundation-model ID).
    CountTokens {
        model: String,
        text: String,
    },
}

fn user_message(text: &str) -> Result<Message, String> {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(text.to_string()))
        .build()
        .map_err(|e| e.to_string())
}

impl Direct {
    pub fn new(endpoint: &str) -> Self {
        let conf = aws_sdk_bedrockruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIDBENCHEXAMPLE",
                "bench-secret-key",
                None,
                None,
                "bench",
            ))
            .endpoint_url(endpoint)
            .http_client(inference_core::sdk_http::https_client())
            .build();
        Direct {
            client: Client::from_conf(conf),
        }
    }

    /// One call of `c`; returns its latency in ms.
    pub async fn call(&self, c: &DirectCall) -> Result<f64, String> {
        match c {
            DirectCall::Converse { model, text } => self.converse(model, text).await,
            DirectCall::InvokeModel { model, body } => self.invoke_model(model, body).await,
            DirectCall::CountTokens { model, text } => self.count_tokens(model, text).await,
        }
    }

    /// One InvokeModel call (JSON in, JSON out); returns its latency in ms.
    pub async fn invoke_model(&self, model: &str, body: &Bytes) -> Result<f64, String> {
        let t = Instant::now();
        self.client
            .invoke_model()
            .model_id(model)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body.to_vec()))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(crate::stats::ms(t.elapsed()))
    }

    /// One CountTokens call on a one-message Converse input; returns its latency in ms.
    pub async fn count_tokens(&self, model: &str, text: &str) -> Result<f64, String> {
        let input = CountTokensInput::Converse(
            ConverseTokensRequest::builder()
                .messages(user_message(text)?)
                .build(),
        );
        let t = Instant::now();
        self.client
            .count_tokens()
            .model_id(model)
            .input(input)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(crate::stats::ms(t.elapsed()))
    }

    /// One Converse call; returns its latency in ms.
    pub async fn converse(&self, model: &str, text: &str) -> Result<f64, String> {
        let msg = user_message(text)?;
        let t = Instant::now();
        self.client
            .converse()
            .model_id(model)
            .messages(msg)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(crate::stats::ms(t.elapsed()))
    }
}

/// One keep-alive HTTP/1.1 connection to bedrock-local, sending the SDK's fixed headers (the
/// same client as the peers section's).
pub struct RawConn(Conn);

/// `http://127.0.0.1:PORT` -> socket address.
pub fn parse_http_url(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    hostport
        .parse()
        .map_err(|e| format!("bad address {hostport}: {e}"))
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> Result<Self, String> {
        Conn::connect(addr).await.map(RawConn)
    }

    fn request(path: &str, body: Bytes) -> Req {
        Req {
            path: path.to_owned(),
            headers: vec![("authorization".into(), FIXED_AUTH.into())],
            body,
        }
    }

    /// POST and read the whole body; `(status, body)`.
    pub async fn post(&mut self, path: &str, body: Bytes) -> Result<(u16, Bytes), String> {
        self.0.call(&Self::request(path, body)).await
    }

    /// POST and hand each body chunk to `on_chunk` as it arrives; returns the status.
    pub async fn post_streaming(
        &mut self,
        path: &str,
        body: Bytes,
        on_chunk: impl FnMut(&[u8]),
    ) -> Result<u16, String> {
        self.0.stream(&Self::request(path, body), on_chunk).await
    }
}

/// The path of an operation on `MODEL_ID` (`:` percent-encoded, as the SDK sends it).
pub fn model_path(op: &str) -> String {
    format!("/model/{}/{op}", MODEL_ID.replace(':', "%3A"))
}
