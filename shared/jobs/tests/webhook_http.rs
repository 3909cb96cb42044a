//! Webhook delivery over plain http on loopback (allowed by the local-development policy):
//! the request's head, a redirect that is never followed, and the per-attempt timeout.

use std::time::{Duration, Instant};

use gateway_jobs::url_guard::UrlPolicy;
use gateway_jobs::webhook::{WebhookSecret, WebhookSender};
use gateway_jobs::{JobOwner, SIGNATURE_HEADER, WebhookStatus, verify_signature};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A receiver that answers every request with `answer` and reports each request's head and
/// body.
async fn receiver(answer: &'static str) -> (u16, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..i]).into_owned();
                    let len = head
                        .to_ascii_lowercase()
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(str::to_owned))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + len {
                        let _ = tx.send((head, buf[i + 4..i + 4 + len].to_vec()));
                        if answer.is_empty() {
                            // Never answers (the connection stays open).
                            std::future::pending::<()>().await;
                        }
                        let _ = s.write_all(answer.as_bytes()).await;
                        let _ = s.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

fn sender() -> WebhookSender {
    WebhookSender::new(
        UrlPolicy::local_development(true),
        Some(WebhookSecret::new("k")),
    )
}

const BODY: &[u8] = br#"{"job_id":"job_0123456789abcdef0123456789abcdef"}"#;

#[tokio::test]
async fn the_post_carries_host_type_agent_and_signature() {
    let (port, mut rx) = receiver("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
    let o = sender()
        .deliver(
            &format!("http://localhost:{port}/hook?tenant=a"),
            BODY,
            &JobOwner::Deployment,
            None,
        )
        .await;
    assert_eq!(o.status, WebhookStatus::Delivered, "{o:?}");
    assert_eq!((o.attempts, o.last_status_code), (1, Some(204)));
    let (head, body) = rx.recv().await.unwrap();
    assert_eq!(body, BODY);
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.starts_with("post /hook?tenant=a http/1.1\r\n"),
        "{head}"
    );
    assert!(
        lower.contains(&format!("\r\nhost: localhost:{port}")),
        "{head}"
    );
    assert!(
        lower.contains("\r\ncontent-type: application/json"),
        "{head}"
    );
    assert!(
        lower.contains("\r\nuser-agent: bedrock-gateway-webhook/1"),
        "{head}"
    );
    let signature = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(SIGNATURE_HEADER)
                .then(|| v.trim().to_owned())
        })
        .expect("the signature header");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    verify_signature(b"k", &signature, &body, now, 300).unwrap();
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (target, mut target_rx) = receiver("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let redirect: &'static str = Box::leak(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{target}/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (port, mut rx) = receiver(redirect).await;
    let o = sender()
        .deliver(
            &format!("http://127.0.0.1:{port}/hook"),
            BODY,
            &JobOwner::Deployment,
            None,
        )
        .await;
    assert_eq!(o.status, WebhookStatus::Failed, "{o:?}");
    assert_eq!(o.last_status_code, Some(307));
    assert!(rx.recv().await.is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(target_rx.try_recv().is_err(), "the redirect was followed");
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let (port, _rx) = receiver("").await;
    let start = Instant::now();
    // A deadline that leaves room for one attempt only.
    let deadline = Some(start + Duration::from_secs(6));
    let o = tokio::time::timeout(
        Duration::from_secs(20),
        sender().deliver(
            &format!("http://127.0.0.1:{port}/hook"),
            BODY,
            &JobOwner::Deployment,
            deadline,
        ),
    )
    .await
    .expect("the attempt's own timeout ends it");
    assert_eq!(o.status, WebhookStatus::Failed, "{o:?}");
    assert_eq!(o.attempts, 1);
    assert_eq!(o.last_error.as_deref(), Some("timed out"));
    assert!(
        start.elapsed() >= Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
