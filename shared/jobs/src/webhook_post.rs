//! One webhook POST on hyper's HTTP/1 client connection over the address `url_guard` checked
//! (rustls with `ring` for https, the SDK's TLS stack): no connection pool, no proxy, and no
//! redirect is ever followed (hyper's connection API does not follow them). reqwest did this
//! before; it was the only user of its own client stack in async-callback's binary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::{Host, Url};

use super::signature::SIGNATURE_HEADER;
use super::transport::connect_failed;

/// POSTs `body` with its `signature` header to `url` at `addr` within `timeout` (connect and
/// answer); the answer's status code.
pub(crate) async fn post(
    tls: Option<&Arc<rustls::ClientConfig>>,
    url: &Url,
    addr: SocketAddr,
    body: &[u8],
    signature: String,
    timeout: Duration,
) -> Result<u16, String> {
    let request = request(url, body, signature)?;
    match tokio::time::timeout(timeout, exchange(tls, url, addr, request)).await {
        Ok(result) => result,
        Err(_) => Err("timed out".to_owned()),
    }
}

fn request(
    url: &Url,
    body: &[u8],
    signature: String,
) -> Result<http::Request<Full<Bytes>>, String> {
    let host = url.host_str().ok_or("request failed")?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    http::Request::post(path)
        .header(HOST, authority)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .header(USER_AGENT, "bedrock-gateway-webhook/1")
        .header(SIGNATURE_HEADER, signature)
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|_| "request failed".to_owned())
}

async fn exchange(
    tls: Option<&Arc<rustls::ClientConfig>>,
    url: &Url,
    addr: SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> Result<u16, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| connect_failed(&e))?;
    let _ = tcp.set_nodelay(true);
    if url.scheme() != "https" {
        return send(tcp, request).await;
    }
    let tls = tls.ok_or("connection failed: no TLS configuration")?;
    let name = match url.host() {
        Some(Host::Domain(d)) => {
            ServerName::try_from(d.to_owned()).map_err(|e| connect_failed(&e))?
        }
        Some(Host::Ipv4(ip)) => ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
        Some(Host::Ipv6(ip)) => ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
        None => return Err("request failed".to_owned()),
    };
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| connect_failed(&e))?;
    send(stream, request).await
}

async fn send<S>(io: S, request: http::Request<Full<Bytes>>) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| connect_failed(&e))?;
    // Drives the connection; it ends when the answer is in and `sender` is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|_| "request failed".to_owned())?;
    Ok(response.status().as_u16())
}
