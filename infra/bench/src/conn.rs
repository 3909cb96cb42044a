//! The one HTTP client of the bench's load (the peers section and the direct calls):
//! keep-alive HTTP/1.1 connections (hyper, `TCP_NODELAY`), the same for every target, so the
//! client's own cost is the same on each side.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// One request, ready to send again and again.
#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// What tells that a streamed body has its first token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstToken {
    /// OpenAI server-sent events: a `data:` chunk whose `choices[0].delta.content` is not empty.
    OpenAiSse,
    /// Bedrock's event stream: the first `contentBlockDelta` event.
    EventStream,
}

impl FirstToken {
    pub fn seen(self, buf: &[u8]) -> bool {
        match self {
            FirstToken::OpenAiSse => sse_has_content(buf),
            FirstToken::EventStream => buf.windows(17).any(|w| w == b"contentBlockDelta"),
        }
    }
}

/// Whether any complete `data:` line of `buf` carries a non-empty `choices[0].delta.content`.
pub fn sse_has_content(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let complete = match text.rfind('\n') {
        Some(i) => &text[..i],
        None => return false,
    };
    complete.lines().any(|l| {
        l.strip_prefix("data:")
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
            .and_then(|v| {
                v.pointer("/choices/0/delta/content")
                    .and_then(|c| c.as_str())
                    .map(|c| !c.is_empty())
            })
            .unwrap_or(false)
    })
}

/// One keep-alive HTTP/1.1 connection (`TCP_NODELAY`).
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    async fn send(&mut self, r: &Req) -> Result<http::Response<hyper::body::Incoming>, String> {
        let mut b = http::Request::post(r.path.as_str())
            .header("host", &self.host)
            .header("content-type", "application/json");
        for (k, v) in &r.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let req = b
            .body(Full::new(r.body.clone()))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        self.sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends `r` and reads the whole answer: `(status, body)`.
    pub async fn call(&mut self, r: &Req) -> Result<(u16, Bytes), String> {
        let resp = self.send(r).await?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }

    /// Sends `r` and hands each body chunk to `on_chunk` as it arrives; returns the status.
    pub async fn stream(
        &mut self,
        r: &Req,
        mut on_chunk: impl FnMut(&[u8]),
    ) -> Result<u16, String> {
        let resp = self.send(r).await?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Some(d) = frame.data_ref() {
                on_chunk(d);
            }
        }
        Ok(status)
    }

    /// Sends `r`, reads the stream to its end; returns the status and the time from sending to
    /// the chunk that completed the first token (`None` when none came).
    pub async fn first_token(
        &mut self,
        r: &Req,
        first: FirstToken,
    ) -> Result<(u16, Option<Duration>, Bytes), String> {
        let t = Instant::now();
        let (mut buf, mut at) = (Vec::new(), None);
        let status = self
            .stream(r, |d| {
                buf.extend_from_slice(d);
                if at.is_none() && first.seen(&buf) {
                    at = Some(t.elapsed());
                }
            })
            .await?;
        Ok((status, at, Bytes::from(buf)))
    }
}

/// `GET path` on a fresh connection: the status, or why there was none.
pub async fn get_status(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = http::Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(resp.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_token_needs_content_not_a_role_chunk() {
        let role = b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";
        assert!(!sse_has_content(role));
        let partial = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}";
        assert!(
            !sse_has_content(partial),
            "a line is complete only at its newline"
        );
        let mut both = role.to_vec();
        both.extend_from_slice(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n");
        assert!(sse_has_content(&both));
        assert!(!sse_has_content(b"data: [DONE]\n"));
        assert!(FirstToken::EventStream.seen(b"..:event-type\x07\x00\x11contentBlockDelta.."));
        assert!(!FirstToken::EventStream.seen(b"messageStart"));
    }
}
