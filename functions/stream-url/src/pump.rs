//! The pump: upstream events -> SSE frames -> a bounded channel -> the response body.
//!
//! One spawned task per response pulls the next upstream event and writes its frame at once
//! (nothing is buffered to the end; past the first content, a fast stream's frames share
//! writes: `bursts`). It stops, dropping the upstream call (which cancels the model call), when
//! the stream ends, fails, nears the Lambda deadline, or the body's receiver is dropped because
//! the client went away.

use std::convert::Infallible;
use std::future::Future;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use inference_core::{ConverseStreamCall, GatewayError, InvokeStreamCall};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use crate::bursts::{Bursts, Frame};
use crate::sse;

/// Frames in flight between the pump and the body: small, so a slow client slows the pump.
const CHANNEL_CAPACITY: usize = 16;

/// Name of the closing event (usage, cost, model).
pub const DONE: &str = "done";
/// Name of the event that reports a failure after the stream started.
pub const ERROR: &str = "error";
/// Name of a native (InvokeModel) chunk event.
pub const CHUNK: &str = inference_core::CHUNK_EVENT;
/// Name of the event that reports guardrail interventions (sent before `done`).
pub const GUARDRAIL: &str = inference_core::GUARDRAIL_EVENT;

/// One upstream event: its SSE name and JSON payload.
pub type Event = (String, Value);

/// An open upstream stream.
pub trait Upstream: Send + 'static {
    /// The next event, `None` at the end.
    fn next_event(&mut self) -> impl Future<Output = Result<Option<Event>, GatewayError>> + Send;
    /// The closing `done` payload (usage, cost, model).
    fn summary(&self) -> Value;
    /// Whether an event carries generated content (for time to first token).
    fn is_content(event: &Event) -> bool;
}

impl Upstream for ConverseStreamCall {
    /// Converse events keep their Bedrock name; the payload is the object under that name.
    async fn next_event(&mut self) -> Result<Option<Event>, GatewayError> {
        Ok(self.recv().await?.map(|(name, mut v)| {
            let inner = v.get_mut(&name).map(Value::take).unwrap_or(v);
            (name, inner)
        }))
    }

    fn summary(&self) -> Value {
        ConverseStreamCall::summary(self)
    }

    fn is_content(event: &Event) -> bool {
        event.0 == "contentBlockDelta"
    }
}

impl Upstream for InvokeStreamCall {
    /// Native chunks are `chunk` events carrying the model's own JSON; a `guardrail` event
    /// reports interventions before `done`.
    async fn next_event(&mut self) -> Result<Option<Event>, GatewayError> {
        InvokeStreamCall::next_event(self).await
    }

    fn summary(&self) -> Value {
        InvokeStreamCall::summary(self)
    }

    fn is_content(event: &Event) -> bool {
        InvokeStreamCall::is_content(&event.1)
    }
}

/// What the pump needs besides the upstream.
#[derive(Debug, Clone)]
pub struct PumpContext {
    /// For error bodies.
    pub request_id: String,
    /// When to stop with a `timeout` error event (Lambda deadline minus the safety margin).
    pub stop_at: Option<Instant>,
    /// When the request arrived (for the `done` event's `metrics`).
    pub started: Instant,
}

/// Opens the response: waits for the first upstream event so that a failure there is still a
/// plain JSON error with its status, then streams the rest from a spawned pump task.
pub async fn open<U: Upstream>(upstream: U, cx: PumpContext) -> Result<Response, GatewayError> {
    open_with(upstream, GatewayFormat, cx).await
}

/// How events become bytes on the wire. The gateway's own format is [`GatewayFormat`]; the
/// OpenAI/Anthropic-compatible routes (`compat`) bring theirs, so they share the pump (deadline,
/// cancel on disconnect, write batching) instead of copying it.
pub trait Format: Send + 'static {
    /// The frame(s) for one upstream event; empty when the event maps to nothing on this wire.
    fn event(&mut self, event: &Event) -> Bytes;
    /// The closing frame(s), from the upstream's summary (with `metrics` added).
    fn done(&mut self, summary: Value) -> Bytes;
    /// The frame(s) reporting a failure after the stream started.
    fn error(&mut self, error: &GatewayError, request_id: &str) -> Bytes;
}

/// The gateway's own SSE: one named event per upstream event, then `done` or `error`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GatewayFormat;

impl Format for GatewayFormat {
    fn event(&mut self, event: &Event) -> Bytes {
        sse::frame(&event.0, &event.1)
    }
    fn done(&mut self, summary: Value) -> Bytes {
        sse::frame(DONE, &summary)
    }
    fn error(&mut self, error: &GatewayError, request_id: &str) -> Bytes {
        sse::frame(ERROR, &error.to_body(request_id))
    }
}

/// [`open`] with another wire format.
pub async fn open_with<U: Upstream, F: Format>(
    mut upstream: U,
    format: F,
    cx: PumpContext,
) -> Result<Response, GatewayError> {
    let first = tokio::select! {
        r = upstream.next_event() => r?,
        () = sleep_until(cx.stop_at) => return Err(deadline_error()),
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    // The pump outlives the handler: keep it in the request's log span.
    tokio::spawn(run(upstream, format, first, tx, cx).in_current_span());
    Ok(sse_response(rx))
}

/// The pump loop (see the module docs).
async fn run<U: Upstream, F: Format>(
    mut upstream: U,
    mut format: F,
    first: Option<Event>,
    tx: mpsc::Sender<Frame>,
    cx: PumpContext,
) {
    let mut next: Result<Option<Event>, GatewayError> = Ok(first);
    let mut first_token = None;
    // One timer for the whole stream, not one registered and dropped per event.
    let deadline = sleep_until(cx.stop_at);
    tokio::pin!(deadline);
    loop {
        // Frames after the first content may be gathered into larger writes (`Bursts`).
        let gather = first_token.is_some();
        let frame = match next {
            Ok(Some(event)) => {
                if first_token.is_none() && U::is_content(&event) {
                    first_token = Some(cx.started.elapsed());
                }
                format.event(&event)
            }
            Ok(None) => {
                let mut done = upstream.summary();
                done["metrics"] = json!({
                    "latencyMs": cx.started.elapsed().as_millis() as u64,
                    "timeToFirstTokenMs": first_token.map(|d| d.as_millis() as u64),
                });
                let _ = tx.send((format.done(done), gather)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(request_id = %cx.request_id, error_type = e.error_type(), error = %e, "stream failed after it started");
                let _ = tx.send((format.error(&e, &cx.request_id), gather)).await;
                return;
            }
        };
        // An event with nothing to say on this wire: read on without writing.
        if !frame.is_empty() && tx.send((frame, gather)).await.is_err() {
            break;
        }
        next = tokio::select! {
            r = upstream.next_event() => r,
            () = tx.closed() => break,
            () = &mut deadline => Err(deadline_error()),
        };
    }
    // Client gone: dropping the upstream cancels the model call and records the metrics.
    tracing::info!(request_id = %cx.request_id, "client disconnected; upstream cancelled");
}

fn deadline_error() -> GatewayError {
    GatewayError::timeout("the function's time limit is near: the stream was cut short")
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A `200 text/event-stream` response whose body yields the channel's frames as they come.
fn sse_response(rx: mpsc::Receiver<Frame>) -> Response {
    let stream = futures_util::stream::unfold(Bursts::new(rx), |mut b| async move {
        let burst = b.next().await?;
        Some((Ok::<_, Infallible>(burst), b))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(sse::CONTENT_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use serde_json::json;
    use std::collections::VecDeque;

    struct Scripted(VecDeque<Result<Option<Event>, GatewayError>>);

    impl Upstream for Scripted {
        async fn next_event(&mut self) -> Result<Option<Event>, GatewayError> {
            self.0.pop_front().unwrap_or(Ok(None))
        }
        fn summary(&self) -> Value {
            json!({"usage": {}})
        }
        fn is_content(event: &Event) -> bool {
            event.0 == "delta"
        }
    }

    fn cx() -> PumpContext {
        PumpContext {
            request_id: "r-1".into(),
            stop_at: None,
            started: Instant::now(),
        }
    }

    async fn body_text(resp: Response) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn error_after_start_is_an_event_then_the_end() {
        let up = Scripted(VecDeque::from([
            Ok(Some(("messageStart".into(), json!({"role": "assistant"})))),
            Err(GatewayError::timeout("slow")),
        ]));
        let text = body_text(open(up, cx()).await.unwrap()).await;
        assert!(text.starts_with("event: messageStart\n"));
        let last = text.trim_end().rsplit("\n\n").next().unwrap();
        assert!(
            last.starts_with("event: error\ndata: {\"error\":{"),
            "{last}"
        );
        assert!(last.contains("\"type\":\"timeout\"") && last.contains("\"request_id\":\"r-1\""));
        assert!(!text.contains("event: done"));
    }

    #[tokio::test]
    async fn error_before_the_first_event_is_returned() {
        let up = Scripted(VecDeque::from([Err(GatewayError::timeout("slow"))]));
        assert_eq!(open(up, cx()).await.unwrap_err().status(), 504);
    }

    #[tokio::test]
    async fn deadline_cuts_the_stream() {
        let up = Scripted(VecDeque::from([Ok(Some(("a".into(), json!({}))))]));
        struct Stall(Option<Scripted>);
        impl Upstream for Stall {
            async fn next_event(&mut self) -> Result<Option<Event>, GatewayError> {
                match self.0.take() {
                    Some(mut s) => s.next_event().await,
                    None => std::future::pending().await,
                }
            }
            fn summary(&self) -> Value {
                json!({})
            }
            fn is_content(_: &Event) -> bool {
                false
            }
        }
        let mut c = cx();
        c.stop_at = Some(Instant::now() + std::time::Duration::from_millis(50));
        let text = body_text(open(Stall(Some(up)), c).await.unwrap()).await;
        assert!(text.contains("event: error\n") && text.contains("\"type\":\"timeout\""));
    }
}
