//! The SDK's HTTPS client (`sdk_http`, rustls with `ring`) over real TLS: the workspace turns the
//! SDK's `default-https-client` off, so this is the only thing that sends the gateway's AWS
//! calls. A Bedrock client with it reaches an HTTPS endpoint whose certificate the trust store
//! vouches for (`SSL_CERT_FILE`, read by rustls-native-certs, points at a test CA here), and
//! refuses one it cannot verify.
//!
//! One test per binary: it sets `SSL_CERT_FILE` before any client loads the roots.

use std::sync::Arc;

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_bedrockruntime::error::SdkError;
use gateway_tests::workspace_root;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

fn tls_file(name: &str) -> std::path::PathBuf {
    workspace_root().join("tests/fixtures/tls").join(name)
}

/// An HTTPS server on a free loopback port presenting `cert`: sends each request's first line
/// to the returned channel and answers with a Bedrock `ValidationException`.
async fn server(cert: &str, key: &str) -> (u16, mpsc::UnboundedReceiver<String>) {
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
                // A refused handshake (the untrusted case) ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = tls.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf);
                let _ = tx.send(head.lines().next().unwrap_or_default().to_owned());
                let body = br#"{"message":"seen over TLS"}"#;
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-amzn-errortype: ValidationException\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, rx)
}

fn client(port: u16) -> aws_sdk_bedrockruntime::Client {
    let conf = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("https://localhost:{port}"))
        .http_client(gateway_model::sdk_http::https_client())
        .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(conf)
}

#[tokio::test]
async fn the_sdk_client_speaks_tls_to_a_trusted_endpoint_and_refuses_an_unknown_one() {
    // SAFETY: the only test in this binary, and it sets the variable before anything reads it.
    unsafe { std::env::set_var("SSL_CERT_FILE", tls_file("ca.pem")) };

    let (port, mut rx) = server("server.pem", "server.key").await;
    let err = client(port)
        .invoke_model()
        .model_id("amazon.nova-lite-v1:0")
        .body(aws_smithy_types::Blob::new(b"{}".to_vec()))
        .send()
        .await
        .expect_err("the server answers 400");
    match &err {
        SdkError::ServiceError(e) => assert!(e.err().is_validation_exception(), "{err:?}"),
        other => panic!("expected the server's answer, got {other:?}"),
    }
    let line = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .expect("in time")
        .expect("the request arrived over TLS");
    assert!(line.starts_with("POST /model/"), "{line}");

    // A certificate the trust store does not vouch for: the call fails before any request.
    let (port, mut rx) = server("untrusted.pem", "untrusted.key").await;
    let err = client(port)
        .invoke_model()
        .model_id("amazon.nova-lite-v1:0")
        .body(aws_smithy_types::Blob::new(b"{}".to_vec()))
        .send()
        .await
        .expect_err("an unverified server");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert!(
        rx.try_recv().is_err(),
        "nothing may reach an unverified server"
    );
}
