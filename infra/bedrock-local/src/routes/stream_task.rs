//! The producer task of a streamed answer: paced frames, scripted mid-stream faults and the
//! stream counters.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::HeaderValue;
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::pace;
use super::plan::Planned;
use crate::errors::BedrockError;
use crate::eventstream;
use crate::faults::Fault;
use crate::server::AppState;
use crate::stream::{Encoder, Step, StreamEnd};
use crate::timing::Timing;

/// How a stream ended, for the counters.
enum StreamOutcome {
    Cancelled,
    Failed,
}

struct Sink {
    tx: mpsc::Sender<Bytes>,
    sent: u32,
    fault: Option<(u32, BedrockError)>,
}

impl Sink {
    async fn send(&mut self, frame: Bytes) -> Result<(), StreamOutcome> {
        if let Some((after, err)) = &self.fault
            && self.sent >= *after
        {
            let _ = self.tx.send(eventstream::exception(err)).await;
            return Err(StreamOutcome::Failed);
        }
        self.tx
            .send(frame)
            .await
            .map_err(|_| StreamOutcome::Cancelled)?;
        self.sent += 1;
        Ok(())
    }

    /// Sleeps, but gives up as soon as the client has gone.
    async fn wait(&self, d: Duration) -> Result<(), StreamOutcome> {
        if d.is_zero() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = self.tx.closed() => Err(StreamOutcome::Cancelled),
        }
    }
}

struct ActiveStream(Arc<AppState>);

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.stats.active_streams.fetch_sub(1, Relaxed);
    }
}

/// When the request started and how this stream is paced.
pub(super) struct Clock {
    pub(super) started: Instant,
    pub(super) timing: Timing,
}

/// Starts the producer task and returns the 200 event-stream response at once; frames are
/// written one per channel message, so each reaches the socket as soon as it is produced.
pub(super) fn spawn_stream(
    st: Arc<AppState>,
    mut enc: Encoder,
    steps: Vec<Step>,
    planned: Planned,
    fault: Option<Fault>,
    clock: Clock,
    native_content_type: Option<&'static str>,
) -> Response {
    let Clock { started, timing } = clock;
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    st.stats.streams_started.fetch_add(1, Relaxed);
    st.stats.active_streams.fetch_add(1, Relaxed);
    let region = st.config.region.clone();
    let model_id = enc.model_id();
    let task_state = Arc::clone(&st);
    tokio::spawn(async move {
        let st = task_state;
        let _active = ActiveStream(Arc::clone(&st));
        let mut sink = Sink {
            tx,
            sent: 0,
            fault: fault.map(|f| (f.after(), f.error(model_id, &region))),
        };
        let outcome = async {
            for f in enc.start(&planned.usage) {
                sink.send(f).await?;
            }
            sink.wait(Duration::from_millis(timing.ttft_ms)).await?;
            let first_byte_ms = started.elapsed().as_millis() as u64;
            for s in &steps {
                if let Step::Delta { tokens, .. } = s {
                    sink.wait(pace(*tokens, timing.tokens_per_sec)).await?;
                }
                if let Some(f) = enc.step(s) {
                    sink.send(f).await?;
                }
            }
            let end = StreamEnd {
                stop_reason: planned.generation.stop_reason,
                stop_sequence: planned.generation.stop_sequence.clone(),
                usage: planned.usage,
                latency_ms: started.elapsed().as_millis() as u64,
                first_byte_ms,
                guardrail_trace: planned.trace.clone(),
                guardrail_intervened: planned.intervened,
            };
            for f in enc.finish(&end) {
                sink.send(f).await?;
            }
            Ok::<(), StreamOutcome>(())
        }
        .await;
        let counter = match outcome {
            Ok(()) => &st.stats.streams_completed,
            Err(StreamOutcome::Cancelled) => &st.stats.streams_cancelled,
            Err(StreamOutcome::Failed) => &st.stats.streams_failed,
        };
        counter.fetch_add(1, Relaxed);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(eventstream::CONTENT_TYPE),
    );
    if let Some(ct) = native_content_type {
        h.insert("X-Amzn-Bedrock-Content-Type", HeaderValue::from_static(ct));
    }
    r
}
