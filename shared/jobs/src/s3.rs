//! The results bucket's object calls (PutObject, GetObject, ListObjectsV2), SigV4-signed here
//! and sent on the SDK's own HTTPS connector (`sdk_http::https_connector`). The S3 SDK crate
//! (endpoint rules, interceptors, checksums, the types of a hundred operations) was about 1 MB
//! of every binary that reads or writes a result, for these three calls. Path-style addressing;
//! the endpoint is the one the S3 client would use: `AWS_ENDPOINT_URL_S3` (or the shared
//! `AWS_ENDPOINT_URL`) when set, else `s3[-fips][.dualstack].<region>.<partition suffix>`.
//! Transient failures (connection, timeout, 500, 502, 503, 504) are retried as the SDK did.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningInstructions,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_types::service_config::ServiceConfigKey;

use super::transport::connect_failed;

/// Cached credentials are renewed this long before they expire (as the SDK's identity cache).
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// Attempts per call, and the pause before each retry.
const BACKOFF: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(800)];
/// The S3 client's default connect timeout; the answer's headers must come within the second.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One bucket: its endpoint, region and credentials. Cheap to clone (the connector and the
/// cached credentials are shared).
#[derive(Clone)]
pub struct Bucket {
    name: String,
    /// `https://host[:port][/path]`, no trailing slash.
    endpoint: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    /// The last credentials, reused until shortly before they expire.
    cached: Arc<Mutex<Option<Credentials>>>,
    /// Built at the first call (invoke only presigns and never needs it).
    connector: Arc<OnceLock<Connector>>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// A GetObject answer whose body has not been read yet.
#[derive(Debug)]
pub struct Object {
    /// `Content-Length`, when S3 sent it.
    pub content_length: Option<u64>,
    /// `x-amz-version-id` (absent or `null` in an unversioned bucket).
    pub version_id: Option<String>,
    /// `ETag`, quotes included.
    pub e_tag: Option<String>,
    body: SdkBody,
}

impl Object {
    /// Reads the body whole.
    pub async fn bytes(self) -> Result<Vec<u8>, String> {
        read_body(self.body).await
    }
}

/// The S3 endpoint the SDK's S3 client resolves for this configuration (path style).
fn endpoint(sdk: &aws_config::SdkConfig, region: &str) -> String {
    let key = ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every field is set");
    let configured = sdk
        .service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_owned));
    if let Some(url) = configured {
        return url.trim_end_matches('/').to_owned();
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let fips = if sdk.use_fips() == Some(true) {
        "-fips"
    } else {
        ""
    };
    let dual = if sdk.use_dual_stack() == Some(true) {
        ".dualstack"
    } else {
        ""
    };
    format!("https://s3{fips}{dual}.{region}.{suffix}")
}

/// RFC 3986 percent-encoding (unreserved characters stay).
pub(crate) fn encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// `host[:port]` of an endpoint URL (what the client sends as `Host`).
pub(crate) fn host_header(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    rest.split('/').next().unwrap_or(rest)
}

/// The `<tag>` elements' texts of an XML answer, entities decoded.
fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(text, _)| text))
        .map(|t| {
            t.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&#13;", "\r")
                .replace("&#10;", "\n")
                .replace("&amp;", "&")
        })
        .collect()
}

/// A body read whole.
async fn read_body(body: SdkBody) -> Result<Vec<u8>, String> {
    let bytes = ByteStream::new(body)
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?;
    Ok(bytes.into_bytes().to_vec())
}

/// An error answer as `<status> <Code>: <Message>` (no request or object data).
async fn failure(response: HttpResponse) -> String {
    let status = response.status().as_u16();
    let body = read_body(response.into_body())
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let code = xml_texts(&body, "Code").into_iter().next();
    let message = xml_texts(&body, "Message").into_iter().next();
    match (code, message) {
        (Some(c), Some(m)) => format!("{status} {c}: {m}"),
        (Some(c), None) => format!("{status} {c}"),
        _ => format!("status {status}"),
    }
}

impl Bucket {
    /// `bucket`, from the shared SDK configuration (region, credentials, endpoint).
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Bucket {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_else(|| "us-east-1".to_owned());
        Bucket {
            name: bucket.into(),
            endpoint: endpoint(sdk, &region),
            region,
            credentials: sdk.credentials_provider(),
            cached: Arc::new(Mutex::new(None)),
            connector: Arc::new(OnceLock::new()),
        }
    }

    /// Another bucket on the same endpoint, credentials and connector.
    pub fn named(&self, bucket: &str) -> Bucket {
        Bucket {
            name: bucket.to_owned(),
            ..self.clone()
        }
    }

    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `endpoint/bucket/key`, each segment percent-encoded.
    pub(crate) fn object_url(&self, key: &str) -> String {
        let mut url = self.endpoint.clone();
        for segment in std::iter::once(self.name.as_str()).chain(key.split('/')) {
            url.push('/');
            encode(segment, &mut url);
        }
        url
    }

    /// The credentials, cached until shortly before they expire.
    pub(crate) async fn credentials(&self) -> Result<Credentials, String> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + RENEW_BEFORE)
        };
        if let Some(c) = self.cached.lock().expect("not poisoned").as_ref()
            && fresh(c)
        {
            return Ok(c.clone());
        }
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| "no credentials provider".to_owned())?;
        let c = provider
            .provide_credentials()
            .await
            .map_err(|e| e.to_string())?;
        *self.cached.lock().expect("not poisoned") = Some(c.clone());
        Ok(c)
    }

    /// PutObject.
    pub async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), String> {
        let response = self
            .send("PUT", self.object_url(key), Some(content_type), body)
            .await?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        Ok(())
    }

    /// GetObject; `None` when there is no such key (S3's `NoSuchKey`).
    pub async fn get(&self, key: &str) -> Result<Option<Object>, String> {
        let response = self
            .send("GET", self.object_url(key), None, Vec::new())
            .await?;
        if !response.status().is_success() {
            let missing = response.status().as_u16() == 404;
            let e = failure(response).await;
            return if missing && e.contains("NoSuchKey") {
                Ok(None)
            } else {
                Err(e)
            };
        }
        let header = |name: &str| response.headers().get(name).map(str::to_owned);
        Ok(Some(Object {
            content_length: header("content-length").and_then(|l| l.parse().ok()),
            version_id: header("x-amz-version-id"),
            e_tag: header("etag"),
            body: response.into_body(),
        }))
    }

    /// ListObjectsV2: the keys under `prefix` (one page, at most 1,000).
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut url = format!("{}/", self.endpoint);
        encode(&self.name, &mut url);
        url.push_str("?list-type=2&prefix=");
        encode(prefix, &mut url);
        let response = self.send("GET", url, None, Vec::new()).await?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let body = read_body(response.into_body()).await?;
        Ok(xml_texts(&String::from_utf8_lossy(&body), "Key"))
    }

    /// Sends one signed request, retrying transient failures.
    async fn send(
        &self,
        method: &str,
        url: String,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<HttpResponse, String> {
        let mut last = String::new();
        for attempt in 0..=BACKOFF.len() {
            if attempt > 0 {
                tokio::time::sleep(BACKOFF[attempt - 1]).await;
            }
            let request = self.signed(method, &url, content_type, &body).await?;
            match self.connector().call(request).await {
                Ok(r) if matches!(r.status().as_u16(), 500 | 502 | 503 | 504) => {
                    last = failure(r).await;
                }
                Ok(r) => return Ok(r),
                Err(e) => last = connect_failed(&e),
            }
        }
        Err(last)
    }

    fn connector(&self) -> &Connector {
        self.connector.get_or_init(|| {
            inference_core::sdk_http::https_connector(
                HttpConnectorSettings::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(READ_TIMEOUT)
                    .build(),
            )
        })
    }

    /// SigV4 for S3 at `time`: the path as sent (encoded once, not normalised), with the rest of
    /// `settings` (where the signature goes, the payload hash, an expiry) the caller's.
    pub(crate) fn sign(
        &self,
        request: SignableRequest<'_>,
        identity: &Identity,
        time: SystemTime,
        mut settings: SigningSettings,
    ) -> Result<SigningInstructions, String> {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let (instructions, _) = sign(request, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        Ok(instructions)
    }

    /// The request signed with SigV4 in its headers (payload hash included, as S3 requires).
    async fn signed(
        &self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<aws_smithy_runtime_api::http::Request, String> {
        let identity = Identity::from(self.credentials().await?);
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let host = host_header(&self.endpoint);
        let headers: Vec<(&str, &str)> = std::iter::once(("host", host))
            .chain(content_type.map(|t| ("content-type", t)))
            .collect();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let instructions = self.sign(signable, &identity, SystemTime::now(), settings)?;
        let mut request = aws_smithy_runtime_api::http::Request::new(SdkBody::from(body.to_vec()));
        request.set_method(method).map_err(|e| e.to_string())?;
        request.set_uri(url).map_err(|e| e.to_string())?;
        let h = request.headers_mut();
        if let Some(t) = content_type {
            h.insert("content-type", t.to_owned());
        }
        h.insert("content-length", body.len().to_string());
        for (name, value) in instructions.headers() {
            h.insert(name.to_owned(), value.to_owned());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded_and_host_keeps_the_port() {
        let mut s = String::new();
        encode("a b+c~d.json", &mut s);
        assert_eq!(s, "a%20b%2Bc~d.json");
        assert_eq!(host_header("http://127.0.0.1:5000/base"), "127.0.0.1:5000");
        assert_eq!(
            host_header("https://s3.eu-west-1.amazonaws.com"),
            "s3.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn list_answers_and_errors_are_read_from_their_xml() {
        let xml = "<ListBucketResult><Contents><Key>a/b&amp;c.jsonl</Key></Contents>\
                   <Contents><Key>a/d.json</Key></Contents></ListBucketResult>";
        assert_eq!(xml_texts(xml, "Key"), ["a/b&c.jsonl", "a/d.json"]);
        let err = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
        assert_eq!(xml_texts(err, "Code"), ["NoSuchKey"]);
    }
}
