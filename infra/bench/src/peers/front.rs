//! This gateway as it runs on AWS, behind an HTTP front: the release `stream-url` binary under
//! the harness's Lambda Runtime API, and a loopback HTTP server standing in for the Function URL
//! front end. Each HTTP request becomes a Function URL event (payload 2.0); the function's
//! streamed response (JSON prelude, 8 NUL bytes, body) is relayed to the client frame by frame.
//!
//! Classic Lambda: several processes, one invocation each at a time. Lambda Managed Instances:
//! one process with `AWS_LAMBDA_MAX_CONCURRENCY`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use http_body_util::BodyExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::procs::ChildGuard;
use crate::runtime_api::{LiveFrame, Pusher, RuntimeApi};
use crate::session::{LaunchCtx, rust_function};

/// How the function runs.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// `processes` execution environments, one invocation each at a time.
    Classic { processes: usize },
    /// One environment with `AWS_LAMBDA_MAX_CONCURRENCY = max`.
    Managed { max: usize },
}

/// The running function and its front; everything stops when dropped.
pub struct Ours {
    pub addr: SocketAddr,
    pub children: Vec<ChildGuard>,
    front: JoinHandle<()>,
    drain: JoinHandle<()>,
}

impl Drop for Ours {
    /// The processes first: stopping the Runtime API (with `drain`) while they still wait in
    /// `next` would answer them with an error, which `lambda_runtime` reports with a panic.
    fn drop(&mut self) {
        for child in self.children.drain(..) {
            child.stop();
        }
        self.front.abort();
        self.drain.abort();
    }
}

impl Ours {
    /// Sum of the processes' peak RSS (`VmHWM`), kB.
    pub fn peak_rss_kb(&self) -> u64 {
        self.children
            .iter()
            .filter_map(|c| c.proc_status_kb("VmHWM"))
            .sum()
    }
}

#[derive(Clone)]
struct Front {
    pusher: Pusher,
    template: serde_json::Value,
}

/// Starts the runtime API, the function processes and the front.
pub async fn start(
    bin: &Path,
    ctx: &LaunchCtx,
    name: &str,
    mode: Mode,
    template: &serde_json::Value,
) -> Result<Ours, String> {
    let mut api = RuntimeApi::start_live(name, ctx.api)
        .await
        .map_err(|e| format!("runtime API: {e}"))?;
    let (count, max) = match mode {
        Mode::Classic { processes } => (processes, None),
        Mode::Managed { max } => (1, Some(max)),
    };
    let mut children = Vec::new();
    for i in 0..count {
        let cmd = rust_function(bin, name, ctx, &api, max);
        let log = ctx.log_dir.join(format!("{name}-{i}.log"));
        children.push(
            ChildGuard::spawn(cmd, name, Some(&log)).map_err(|e| format!("spawn {name}: {e}"))?,
        );
    }
    let state = Front {
        pusher: api.pusher(),
        template: template.clone(),
    };
    // Signals (next called, handed out) are not needed here: drained so they do not pile up.
    let drain = tokio::spawn(async move {
        loop {
            let _ = api.signal(Duration::from_secs(3600)).await;
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("front: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().fallback(handle).with_state(state);
    let front = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Ours {
        addr,
        children,
        front,
        drain,
    })
}

/// The Function URL event of one HTTP request (payload format 2.0), from the fixture's shape.
fn event(template: &serde_json::Value, req: &http::request::Parts, body: &[u8]) -> Bytes {
    let mut ev = template.clone();
    let path = req.uri.path().to_string();
    let mut headers = serde_json::Map::new();
    for (k, v) in &req.headers {
        if let Ok(v) = v.to_str() {
            headers.insert(k.as_str().to_string(), v.into());
        }
    }
    ev["rawPath"] = path.clone().into();
    ev["rawQueryString"] = req.uri.query().unwrap_or("").into();
    ev["headers"] = headers.into();
    ev["requestContext"]["http"]["method"] = req.method.as_str().into();
    ev["requestContext"]["http"]["path"] = path.into();
    ev["body"] = String::from_utf8_lossy(body).into_owned().into();
    ev["isBase64Encoded"] = false.into();
    Bytes::from(ev.to_string())
}

fn bad_gateway(why: String) -> Response {
    (StatusCode::BAD_GATEWAY, why).into_response()
}

/// The response's status and headers from the streamed prelude (or a buffered response's JSON).
fn head(prelude: &[u8]) -> (StatusCode, Vec<(String, String)>, Option<Bytes>) {
    let v: serde_json::Value = serde_json::from_slice(prelude).unwrap_or_default();
    let status = v
        .get("statusCode")
        .and_then(|s| s.as_u64())
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let headers = v
        .get("headers")
        .and_then(|h| h.as_object())
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let body = v
        .get("body")
        .and_then(|b| b.as_str())
        .map(|b| Bytes::from(b.to_string()));
    (status, headers, body)
}

async fn handle(State(f): State<Front>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad_gateway(format!("request body: {e}")),
    };
    let mut rx = f.pusher.push_live(event(&f.template, &parts, &body));
    let mut buf = Vec::new();
    let split = loop {
        match rx.recv().await {
            Some(LiveFrame::Data(d)) => {
                buf.extend_from_slice(&d);
                if let Some(i) = buf.windows(8).position(|w| w == [0u8; 8]) {
                    break Some(i);
                }
            }
            Some(LiveFrame::End(Some(e))) => return bad_gateway(e),
            Some(LiveFrame::End(None)) | None => break None,
        }
    };
    let (status, headers, buffered) = head(&buf[..split.unwrap_or(buf.len())]);
    let mut resp = match split {
        // Streamed: what follows the NULs now, then the frames as they come.
        Some(i) => {
            let first = Bytes::copy_from_slice(&buf[i + 8..]);
            Response::new(Body::from_stream(Frames {
                first: (!first.is_empty()).then_some(first),
                rx,
            }))
        }
        None => Response::new(Body::from(buffered.unwrap_or_default())),
    };
    *resp.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// The remaining frames of a relayed response, as a body stream.
struct Frames {
    first: Option<Bytes>,
    rx: mpsc::UnboundedReceiver<LiveFrame>,
}

impl futures_util::Stream for Frames {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(b)));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(LiveFrame::Data(d))) => Poll::Ready(Some(Ok(d))),
            Poll::Ready(Some(LiveFrame::End(Some(e)))) => {
                Poll::Ready(Some(Err(std::io::Error::other(e))))
            }
            Poll::Ready(Some(LiveFrame::End(None))) | Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
