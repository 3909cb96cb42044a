//! Webhooks over HTTPS, as deployed (https is the only scheme without the local flag): the
//! sender's production TLS setup verifies the receiver's certificate against the trust store
//! (`SSL_CERT_FILE`, which rustls-native-certs reads, points at a test CA here), delivers a signed
//! body to a trusted receiver, and refuses one whose certificate it cannot verify.
//!
//! One test per binary: it sets `SSL_CERT_FILE` before any sender exists.

use std::sync::Arc;
use std::time::Instant;

use gateway_jobs::url_guard::UrlPolicy;
use gateway_jobs::webhook::{WebhookSecret, WebhookSender};
use gateway_jobs::{JobOwner, SIGNATURE_HEADER, WebhookStatus, verify_signature};
use gateway_tests::workspace_root;
use inference_core::auth::KeyId;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const KEY: &[u8] = b"webhook-test-key";

fn tls_file(name: &str) -> std::path::PathBuf {
    workspace_root().join("tests/fixtures/tls").join(name)
}

/// An HTTPS receiver on a free loopback port presenting `cert`; sends each request's
/// (signature header, body) to the returned channel and answers 200.
async fn receiver(cert: &str, key: &str) -> (u16, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls_file(cert))
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(tls_file(key)).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A refused handshake (the untrusted case) simply ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_len, content_length) = loop {
                    let n = tls.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_len + content_length {
                    let n = tls.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
                let signature = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case(SIGNATURE_HEADER)
                            .then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default();
                let body = buf[head_len..head_len + content_length].to_vec();
                let _ = tx.send((signature, body));
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn https_webhooks_verify_the_receiver_and_arrive_signed() {
    // SAFETY: the only test in this binary, and it sets the variable before anything reads it.
    unsafe { std::env::set_var("SSL_CERT_FILE", tls_file("ca.pem")) };
    // https is always allowed; the local flag is needed here only because the receiver is on
    // loopback (which a deployed gateway refuses).
    let sender = WebhookSender::new(
        UrlPolicy::local_development(true),
        Some(WebhookSecret::new(KEY.to_vec())),
    );
    let body = br#"{"job_id":"job_0123456789abcdef0123456789abcdef","status":"succeeded"}"#;
    let deadline = Some(Instant::now() + std::time::Duration::from_secs(30));

    // Without keys the deployment key signs; a job of an API key is signed with that key's
    // derived secret, which verifies it and the deployment key does not (nor another key's).
    let tenant = JobOwner::Key(KeyId::parse("key_00000000000000aa").unwrap());
    let other = JobOwner::Key(KeyId::parse("key_00000000000000bb").unwrap());
    let deployment = WebhookSecret::new(KEY.to_vec());
    for (host, owner) in [("localhost", JobOwner::Deployment), ("127.0.0.1", tenant)] {
        let (port, mut rx) = receiver("server.pem", "server.key").await;
        let outcome = sender
            .deliver(
                &format!("https://{host}:{port}/hook"),
                body,
                &owner,
                deadline,
            )
            .await;
        assert_eq!(
            outcome.status,
            WebhookStatus::Delivered,
            "{host}: {outcome:?}"
        );
        let (signature, received) = rx.recv().await.expect("the receiver got the POST");
        assert_eq!(received, body);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let own = deployment.for_owner(&owner);
        verify_signature(own.expose(), &signature, &received, now, 300).expect("a valid signature");
        if owner != JobOwner::Deployment {
            assert!(verify_signature(KEY, &signature, &received, now, 300).is_err());
            let theirs = deployment.for_owner(&other);
            assert!(verify_signature(theirs.expose(), &signature, &received, now, 300).is_err());
        }
    }

    // A certificate the trust store does not vouch for: never delivered, the job says why.
    let (port, mut rx) = receiver("untrusted.pem", "untrusted.key").await;
    let outcome = sender
        .deliver(
            &format!("https://localhost:{port}/hook"),
            body,
            &JobOwner::Deployment,
            deadline,
        )
        .await;
    assert_eq!(outcome.status, WebhookStatus::Failed, "{outcome:?}");
    let why = outcome.last_error.as_deref().unwrap_or_default();
    assert!(why.contains("certificate"), "{outcome:?}");
    assert!(
        rx.try_recv().is_err(),
        "nothing may reach an unverified receiver"
    );
}
