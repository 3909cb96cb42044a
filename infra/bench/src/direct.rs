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
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

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

/// One keep-alive HTTP/1.1 connection to bedrock-local.
pub struct RawConn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

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
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(RawConn {
            sender,
            host: addr.to_string(),
        })
    }

    fn request(&self, path: &str, body: Bytes) -> Result<http::Request<Full<Bytes>>, String> {
        http::Request::post(path)
            .header("host", &self.host)
            .header("authorization", FIXED_AUTH)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|e| e.to_string())
    }

    /// POST and read the whole body; `(status, body)`.
    pub async fn post(&mut self, path: &str, body: Bytes) -> Result<(u16, Bytes), String> {
        let req = self.request(path, body)?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }

    /// POST and hand each body chunk to `on_chunk` as it arrives; returns the status.
    pub async fn post_streaming(
        &mut self,
        path: &str,
        body: Bytes,
        mut on_chunk: impl FnMut(&[u8]),
    ) -> Result<u16, String> {
        let req = self.request(path, body)?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Some(data) = frame.data_ref() {
                on_chunk(data);
            }
        }
        Ok(status)
    }
}

/// The path of an operation on `MODEL_ID` (`:` percent-encoded, as the SDK sends it).
pub fn model_path(op: &str) -> String {
    format!("/model/{}/{op}", MODEL_ID.replace(':', "%3A"))
}
