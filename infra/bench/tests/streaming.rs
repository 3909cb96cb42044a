//! The runtime API's streaming response reader, in well under a second: a client posts a
//! streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`, chunked, prelude +
//! 8 NULs + SSE, then an error trailer) in paced chunks, and the server reports every chunk with
//! its arrival time, so the harness can time the first content event.

use std::time::Duration;

use bench::runtime_api::{ApiOptions, RuntimeApi, Signal};
use bench::stream_body::StreamedBody;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

/// A request body fed frame by frame from a channel (data, then trailers), like the runtime's.
struct ChanBody(mpsc::Receiver<Frame<Bytes>>);

impl hyper::body::Body for ChanBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|f| f.map(Ok))
    }
}

async fn connect(api: &RuntimeApi) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(api.addr).await.unwrap()
}

#[tokio::test]
async fn streamed_response_is_read_chunk_by_chunk_with_arrival_times() {
    let mut api = RuntimeApi::start_with("stream-test", ApiOptions { nodelay: true })
        .await
        .unwrap();
    let id = api.push(Bytes::from_static(b"{}"));

    // GET next, as a runtime would.
    let (mut next, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(connect(&api).await))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("/2018-06-01/runtime/invocation/next")
        .header("host", api.host_port())
        .body(Empty::new())
        .unwrap();
    let resp = next.send_request(req).await.unwrap();
    assert_eq!(resp.headers()["lambda-runtime-aws-request-id"], id.as_str());

    // POST the streamed response in three paced chunks, then an error trailer.
    let (tx, rx) = mpsc::channel(4);
    let body = ChanBody(rx);
    let stream = connect(&api).await;
    stream.set_nodelay(true).unwrap();
    let (mut post, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::post(format!("/2018-06-01/runtime/invocation/{id}/response"))
        .header("host", api.host_port())
        .header("lambda-runtime-function-response-mode", "streaming")
        .header("transfer-encoding", "chunked")
        .header("trailer", "Lambda-Runtime-Function-Error-Type")
        .body(body)
        .unwrap();
    let sent = tokio::spawn(async move { post.send_request(req).await.map(|r| r.status()) });
    let mut prelude =
        br#"{"statusCode":200,"headers":{"content-type":"text/event-stream"}}"#.to_vec();
    prelude.extend_from_slice(&[0; 8]);
    tx.send(Frame::data(Bytes::from(prelude))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    tx.send(Frame::data(Bytes::from_static(
        b"event: messageStart\ndata: {}\n\n",
    )))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    tx.send(Frame::data(Bytes::from_static(
        b"event: contentBlockDelta\ndata: {\"delta\":{\"text\":\"hi\"}}\n\n",
    )))
    .await
    .unwrap();
    let mut trailers = http::HeaderMap::new();
    trailers.insert(
        "lambda-runtime-function-error-type",
        "Runtime.Test".parse().unwrap(),
    );
    tx.send(Frame::trailers(trailers)).await.unwrap();
    drop(tx);
    assert_eq!(sent.await.unwrap().unwrap().as_u16(), 202);

    let (body, arrivals, error, streaming) = loop {
        match api.signal(Duration::from_secs(5)).await.expect("a signal") {
            Signal::Response {
                id: got,
                body,
                arrivals,
                error,
                streaming,
                ..
            } => {
                assert_eq!(got, id);
                break (body, arrivals, error, streaming);
            }
            _ => continue,
        }
    };
    assert!(streaming);
    assert_eq!(error.as_deref(), Some("Runtime.Test"));
    assert!(arrivals.len() >= 3, "{arrivals:?}");
    assert_eq!(arrivals.last().unwrap().end, body.len());
    assert!(
        arrivals
            .windows(2)
            .all(|w| w[0].at <= w[1].at && w[0].end < w[1].end)
    );
    // The paced chunks arrived apart: the first content event after the first byte.
    let parsed = StreamedBody::parse(&body).unwrap();
    let first = parsed.first_content().unwrap().start;
    let at = arrivals.iter().find(|a| a.end > first).unwrap().at;
    assert!(at.duration_since(arrivals[0].at) >= Duration::from_millis(50));
}
