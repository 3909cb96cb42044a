//! Presigned GET links to result objects, signed with SigV4 directly (query-string signing, as
//! S3 presigns): `invoke` links results and never reads or writes an object, so it does without
//! the S3 SDK crate, which was about 1 MB of its binary (endpoint rules, interceptors,
//! checksums) for this one call. Path-style addressing as [`super::results::ResultStore`]; the
//! endpoint is the one the S3 client would use: `AWS_ENDPOINT_URL_S3` (or the shared
//! `AWS_ENDPOINT_URL`) when set, else `s3[-fips][.dualstack].<region>.<partition suffix>`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_types::service_config::ServiceConfigKey;

use super::results::PRESIGN_TTL;
use inference_core::error::{ErrorKind, GatewayError};

/// Cached credentials are renewed this long before they expire (as the SDK's identity cache).
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Presigned GET links into the results bucket.
#[derive(Clone)]
pub struct ResultLinks {
    bucket: String,
    /// `https://host[:port][/path]`, no trailing slash.
    endpoint: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    /// The last credentials, reused until shortly before they expire.
    cached: Arc<Mutex<Option<Credentials>>>,
}

impl std::fmt::Debug for ResultLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultLinks")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

fn presign_error(key: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::ServiceUnavailable,
        format!("results bucket: presigning {key} failed: {e}"),
    )
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

/// RFC 3986 percent-encoding of one path segment (unreserved characters stay).
fn encode_segment(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

impl ResultLinks {
    /// Links for `bucket`, from the shared SDK configuration (region, credentials, endpoint).
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> ResultLinks {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_else(|| "us-east-1".to_owned());
        ResultLinks {
            bucket: bucket.into(),
            endpoint: endpoint(sdk, &region),
            region,
            credentials: sdk.credentials_provider(),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn credentials(&self, key: &str) -> Result<Credentials, GatewayError> {
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
            .ok_or_else(|| presign_error(key, "no credentials provider"))?;
        let c = provider
            .provide_credentials()
            .await
            .map_err(|e| presign_error(key, e))?;
        *self.cached.lock().expect("not poisoned") = Some(c.clone());
        Ok(c)
    }

    /// A presigned GET for `key`, valid for [`PRESIGN_TTL`]; returns the URL and its expiry
    /// (Unix seconds).
    pub async fn presign_get(&self, key: &str) -> Result<(String, i64), GatewayError> {
        let now = SystemTime::now();
        let url = self.presign_get_at(key, self.credentials(key).await?, now)?;
        let start = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
        Ok((url, start + PRESIGN_TTL.as_secs() as i64))
    }

    /// The link signed at `time` (deterministic: the test compares it with the S3 client's).
    pub fn presign_get_at(
        &self,
        key: &str,
        credentials: Credentials,
        time: SystemTime,
    ) -> Result<String, GatewayError> {
        let mut url = self.endpoint.clone();
        for segment in std::iter::once(self.bucket.as_str()).chain(key.split('/')) {
            url.push('/');
            encode_segment(segment, &mut url);
        }
        url.push_str("?x-id=GetObject");
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(PRESIGN_TTL);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let identity = Identity::from(credentials);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| presign_error(key, e))?
            .into();
        let host = host_header(&self.endpoint);
        let request = SignableRequest::new(
            "GET",
            &url,
            std::iter::once(("host", host)),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| presign_error(key, e))?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| presign_error(key, e))?
            .into_parts();
        let mut signed = http::Request::builder()
            .uri(&url)
            .body(())
            .map_err(|e| presign_error(key, e))?;
        instructions.apply_to_request_http1x(&mut signed);
        Ok(signed.uri().to_string())
    }
}

/// `host[:port]` of an endpoint URL (what the client sends as `Host`).
fn host_header(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded_and_host_keeps_the_port() {
        let mut s = String::new();
        encode_segment("a b+c~d.json", &mut s);
        assert_eq!(s, "a%20b%2Bc~d.json");
        assert_eq!(host_header("http://127.0.0.1:5000/base"), "127.0.0.1:5000");
        assert_eq!(
            host_header("https://s3.eu-west-1.amazonaws.com"),
            "s3.eu-west-1.amazonaws.com"
        );
    }
}
