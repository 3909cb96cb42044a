//! Job results in the results bucket: written by async-callback, linked (presigned GET) by the
//! API. Path-style addressing works with S3 and with moto.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use inference_core::error::{ErrorKind, GatewayError};

/// How long a presigned result link is valid.
pub const PRESIGN_TTL: Duration = Duration::from_secs(900);

/// The results bucket.
#[derive(Debug, Clone)]
pub struct ResultStore {
    client: Client,
    bucket: String,
}

/// A failed call on the bucket: a 503 naming the call and the key.
fn s3_error(what: &str, key: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::ServiceUnavailable,
        format!("results bucket: {what} {key} failed: {e}"),
    )
}

/// [`s3_error`] for an SDK error, with its sources (the SDK's own `Display` is only "service
/// error").
fn sdk_error(what: &str, key: &str, e: impl std::error::Error) -> GatewayError {
    s3_error(what, key, aws_sdk_s3::error::DisplayErrorContext(e))
}

impl ResultStore {
    /// The bucket, from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> ResultStore {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build();
        ResultStore {
            client: Client::from_conf(config),
            bucket: bucket.into(),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Writes a JSON object (idempotent: a repeated run overwrites the same key).
    pub async fn put_json(&self, key: &str, body: Vec<u8>) -> Result<(), GatewayError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| sdk_error("PutObject", key, e))?;
        Ok(())
    }

    /// Reads an object whole (batch input and output files): a missing key is a fault here.
    pub async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, GatewayError> {
        self.get_if_exists(key)
            .await?
            .ok_or_else(|| s3_error("GetObject", key, "NoSuchKey: the object does not exist"))
    }

    /// Reads an object whole, `None` when there is no such key (OpenAI batch files and batches,
    /// where a missing object is the caller's 404, not a fault).
    pub async fn get_if_exists(&self, key: &str) -> Result<Option<Vec<u8>>, GatewayError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(sdk_error("GetObject", key, e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| s3_error("GetObject (body)", key, e))?;
        Ok(Some(bytes.to_vec()))
    }

    /// Keys under `prefix` (at most 1,000: a batch's output has a handful of files).
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, GatewayError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| sdk_error("ListObjectsV2", prefix, e))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }

    /// A presigned GET for `key`, valid for [`PRESIGN_TTL`]; returns the URL and its expiry
    /// (Unix seconds).
    pub async fn presign_get(&self, key: &str) -> Result<(String, i64), GatewayError> {
        let cfg = PresigningConfig::expires_in(PRESIGN_TTL)
            .map_err(|e| s3_error("presigning", key, e))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(cfg)
            .await
            .map_err(|e| sdk_error("presigning", key, e))?;
        let expires = super::record::now_ms() / 1000 + PRESIGN_TTL.as_secs() as i64;
        Ok((req.uri().to_owned(), expires))
    }
}
