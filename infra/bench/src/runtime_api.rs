//! A minimal Lambda Runtime API (2018-06-01) on 127.0.0.1, enough to run an unmodified Lambda
//! function binary or `awslambdaric`: `invocation/next`, `invocation/{id}/response`,
//! `invocation/{id}/error` and `init/error`. Each call is reported to the harness as a
//! timestamped [`Signal`]; events are queued with [`RuntimeApi::push`].
//!
//! One server per function process: a killed process's pending `next` can never take an event
//! meant for the next process.
//!
//! Response bodies are read frame by frame as they arrive, each arrival timestamped
//! ([`Arrival`]), so a streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`,
//! chunked) yields its time to first byte, not only its completion. Accepted sockets get
//! `TCP_NODELAY` by default (see [`ApiOptions`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use http_body_util::BodyExt;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

/// One event to hand out.
#[derive(Debug)]
pub struct Invocation {
    pub id: String,
    pub body: Bytes,
}

/// What the function did, and when the server saw it.
#[derive(Debug)]
pub enum Signal {
    /// A `GET next` arrived (before an event was available or not).
    NextCalled { at: Instant },
    /// `next` returned this invocation to the function.
    HandedOut { id: String, at: Instant },
    /// The whole response body was received (`at` is after the last byte).
    Response {
        id: String,
        at: Instant,
        body: Bytes,
        streaming: bool,
        /// When each body frame arrived (in order; the last one ends at `body.len()`).
        arrivals: Vec<Arrival>,
        /// `Lambda-Runtime-Function-Error-Type` trailer of a streamed response (a mid-stream
        /// error), or the read error that cut the body short.
        error: Option<String>,
    },
    /// `invocation/{id}/error`.
    Error {
        id: String,
        at: Instant,
        body: Bytes,
    },
    /// `init/error`.
    InitError { at: Instant, body: Bytes },
}

/// One body frame's arrival: when it was read and the body length after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub at: Instant,
    pub end: usize,
}

/// Socket options of the server.
#[derive(Debug, Clone, Copy)]
pub struct ApiOptions {
    /// `TCP_NODELAY` on accepted connections. What Lambda's own runtime API endpoint does is not
    /// documented; on by default so the harness adds no Nagle delay to its own writes. Only the
    /// server's sends are affected: the function's socket keeps whatever its runtime client set.
    pub nodelay: bool,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions { nodelay: true }
    }
}

/// What a routed response sends as it arrives (see [`RuntimeApi::start_live`]).
#[derive(Debug)]
pub enum LiveFrame {
    Data(Bytes),
    /// The end of the response: `None` when complete, else the error (a function error, an error
    /// trailer, or a body read failure).
    End(Option<String>),
}

/// Request ID → where its response's frames go. Registered before the event is pushed.
pub type LiveRoutes = Arc<std::sync::Mutex<HashMap<String, mpsc::UnboundedSender<LiveFrame>>>>;

/// Queues events from anywhere (a clone of the server's queue).
#[derive(Clone)]
pub struct Pusher {
    events: mpsc::UnboundedSender<Invocation>,
    seq: Arc<AtomicU64>,
    routes: Option<LiveRoutes>,
}

impl Pusher {
    /// Queues an event; returns its request ID.
    pub fn push(&self, body: Bytes) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("00000000-0000-4000-8000-{n:012x}");
        let _ = self.events.send(Invocation {
            id: id.clone(),
            body,
        });
        id
    }

    /// Queues an event whose response is relayed frame by frame to the returned receiver
    /// (a live server only; on another the receiver ends at once).
    pub fn push_live(&self, body: Bytes) -> mpsc::UnboundedReceiver<LiveFrame> {
        let (tx, rx) = mpsc::unbounded_channel();
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("00000000-0000-4000-8000-{n:012x}");
        if let Some(r) = &self.routes
            && let Ok(mut m) = r.lock()
        {
            m.insert(id.clone(), tx);
        }
        let _ = self.events.send(Invocation { id, body });
        rx
    }
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    signals: mpsc::UnboundedSender<Signal>,
    function_name: String,
    /// Set by [`RuntimeApi::start_live`]: responses are relayed, not buffered into signals.
    live: Option<LiveRoutes>,
}

impl Shared {
    fn route(&self, id: &str) -> Option<mpsc::UnboundedSender<LiveFrame>> {
        self.live.as_ref()?.lock().ok()?.remove(id)
    }
}

/// The server; stopped when dropped.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    pusher: Pusher,
    signals: mpsc::UnboundedReceiver<Signal>,
    task: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Binds 127.0.0.1 on a free port and serves in the background (default options).
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        Self::start_with(function_name, ApiOptions::default()).await
    }

    /// As [`RuntimeApi::start`], with explicit socket options.
    pub async fn start_with(function_name: &str, opts: ApiOptions) -> std::io::Result<Self> {
        Self::serve(function_name, opts, None).await
    }

    /// A server that relays each response pushed with [`Pusher::push_live`] frame by frame as
    /// it arrives (an HTTP front in the bench's peers section), instead of buffering it into a
    /// [`Signal::Response`].
    pub async fn start_live(function_name: &str, opts: ApiOptions) -> std::io::Result<Self> {
        Self::serve(function_name, opts, Some(LiveRoutes::default())).await
    }

    async fn serve(
        function_name: &str,
        opts: ApiOptions,
        live: Option<LiveRoutes>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let nodelay = opts.nodelay;
        let listener = listener.tap_io(move |tcp| {
            if nodelay {
                let _ = tcp.set_nodelay(true);
            }
        });
        let (etx, erx) = mpsc::unbounded_channel();
        let (stx, srx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(erx),
            signals: stx,
            function_name: function_name.to_string(),
            live: live.clone(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .layer(DefaultBodyLimit::disable())
            .with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            pusher: Pusher {
                events: etx,
                seq: Arc::new(AtomicU64::new(0)),
                routes: live,
            },
            signals: srx,
            task,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; returns its request ID.
    pub fn push(&self, body: Bytes) -> String {
        self.pusher.push(body)
    }

    /// A handle that queues events without borrowing the server.
    pub fn pusher(&self) -> Pusher {
        self.pusher.clone()
    }

    /// The next signal, or `None` after `timeout`.
    pub async fn signal(&mut self, timeout: Duration) -> Option<Signal> {
        tokio::time::timeout(timeout, self.signals.recv())
            .await
            .ok()
            .flatten()
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    let _ = s.signals.send(Signal::NextCalled { at: Instant::now() });
    let inv = {
        let mut rx = s.events.lock().await;
        rx.recv().await
    };
    let Some(inv) = inv else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "runtime API shutting down",
        )
            .into_response();
    };
    let mut headers = HeaderMap::new();
    let hv = |v: String| HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("invalid"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("lambda-runtime-aws-request-id", hv(inv.id.clone()));
    // 15 minutes from now, as Lambda's maximum timeout.
    headers.insert(
        "lambda-runtime-deadline-ms",
        hv((epoch_ms() + 900_000).to_string()),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        hv(format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            s.function_name
        )),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        hv(format!(
            "Root=1-00000000-{:024x};Parent=0000000000000001;Sampled=0",
            inv.id.len()
        )),
    );
    let _ = s.signals.send(Signal::HandedOut {
        id: inv.id,
        at: Instant::now(),
    });
    (StatusCode::OK, headers, inv.body).into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

/// The body as it arrives: all bytes, one [`Arrival`] per data frame, and the error trailer
/// (or read error) if any.
pub async fn read_timed(mut body: Body) -> (Bytes, Vec<Arrival>, Option<String>) {
    let mut buf = Vec::new();
    let mut arrivals = Vec::new();
    let mut error = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => match f.into_data() {
                Ok(d) => {
                    buf.extend_from_slice(&d);
                    arrivals.push(Arrival {
                        at: Instant::now(),
                        end: buf.len(),
                    });
                }
                Err(f) => {
                    if let Some(t) = f.trailers_ref()
                        && let Some(v) = t.get("lambda-runtime-function-error-type")
                    {
                        error = Some(String::from_utf8_lossy(v.as_bytes()).into_owned());
                    }
                }
            },
            Err(e) => {
                error = Some(format!("body read failed: {e}"));
                break;
            }
        }
    }
    (Bytes::from(buf), arrivals, error)
}

async fn response(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(tx) = s.route(&id) {
        relay(body, tx).await;
        return accepted();
    }
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
    let (body, arrivals, error) = read_timed(body).await;
    let _ = s.signals.send(Signal::Response {
        id,
        at: Instant::now(),
        body,
        streaming,
        arrivals,
        error,
    });
    accepted()
}

/// Sends each data frame on as it arrives, then the end (with the error trailer, if any).
async fn relay(mut body: Body, tx: mpsc::UnboundedSender<LiveFrame>) {
    let mut error = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => match f.into_data() {
                Ok(d) => {
                    let _ = tx.send(LiveFrame::Data(d));
                }
                Err(f) => {
                    if let Some(v) = f
                        .trailers_ref()
                        .and_then(|t| t.get("lambda-runtime-function-error-type"))
                    {
                        error = Some(String::from_utf8_lossy(v.as_bytes()).into_owned());
                    }
                }
            },
            Err(e) => {
                error = Some(format!("body read failed: {e}"));
                break;
            }
        }
    }
    let _ = tx.send(LiveFrame::End(error));
}

async fn error(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Some(tx) = s.route(&id) {
        let _ = tx.send(LiveFrame::End(Some(format!(
            "function error: {}",
            String::from_utf8_lossy(&body)
        ))));
        return accepted();
    }
    let _ = s.signals.send(Signal::Error {
        id,
        at: Instant::now(),
        body,
    });
    accepted()
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let _ = s.signals.send(Signal::InitError {
        at: Instant::now(),
        body,
    });
    accepted()
}
