//! Presigned GET links to result objects, signed with SigV4 directly (query-string signing, as
//! S3 presigns) for the bucket [`super::s3::Bucket`] addresses: `invoke` links results and
//! never reads or writes an object, and no function links the S3 SDK crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_smithy_runtime_api::client::identity::Identity;

use super::s3::{Bucket, host_header};
use inference_core::error::{ErrorKind, GatewayError};

/// How long a presigned result link is valid.
pub const PRESIGN_TTL: Duration = Duration::from_secs(900);

/// Presigned GET links into the results bucket.
#[derive(Clone, Debug)]
pub struct ResultLinks {
    bucket: Bucket,
}

fn presign_error(key: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::ServiceUnavailable,
        format!("results bucket: presigning {key} failed: {e}"),
    )
}

impl ResultLinks {
    /// Links for `bucket`, from the shared SDK configuration (region, credentials, endpoint).
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> ResultLinks {
        ResultLinks::of(Bucket::new(sdk, bucket))
    }

    /// Links into `bucket`.
    pub fn of(bucket: Bucket) -> ResultLinks {
        ResultLinks { bucket }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        self.bucket.name()
    }

    /// A presigned GET for `key`, valid for [`PRESIGN_TTL`]; returns the URL and its expiry
    /// (Unix seconds).
    pub async fn presign_get(&self, key: &str) -> Result<(String, i64), GatewayError> {
        let now = SystemTime::now();
        let credentials = self
            .bucket
            .credentials()
            .await
            .map_err(|e| presign_error(key, e))?;
        let url = self.presign_get_at(key, credentials, now)?;
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
        let mut url = self.bucket.object_url(key);
        url.push_str("?x-id=GetObject");
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(PRESIGN_TTL);
        let identity = Identity::from(credentials);
        let host = host_header(self.bucket.endpoint());
        let request = SignableRequest::new(
            "GET",
            &url,
            std::iter::once(("host", host)),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| presign_error(key, e))?;
        let instructions = self
            .bucket
            .sign(request, &identity, time, settings)
            .map_err(|e| presign_error(key, e))?;
        let mut signed = http::Request::builder()
            .uri(&url)
            .body(())
            .map_err(|e| presign_error(key, e))?;
        instructions.apply_to_request_http1x(&mut signed);
        Ok(signed.uri().to_string())
    }
}
