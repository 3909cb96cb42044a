//! Job results in the results bucket: written by async-callback, linked (presigned GET) by the
//! API, OpenAI batch files written and read by stream-url. The calls are [`super::s3`]'s (no S3
//! SDK crate); path-style addressing works with S3 and with moto.

use inference_core::error::{ErrorKind, GatewayError};

use super::presign::ResultLinks;
use super::s3::Bucket;

pub use super::presign::PRESIGN_TTL;

/// The results bucket.
#[derive(Debug, Clone)]
pub struct ResultStore {
    bucket: Bucket,
    links: ResultLinks,
}

/// A failed call on the bucket: a 503 naming the call and the key.
fn s3_error(what: &str, key: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::ServiceUnavailable,
        format!("results bucket: {what} {key} failed: {e}"),
    )
}

impl ResultStore {
    /// The bucket, from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> ResultStore {
        let bucket = Bucket::new(sdk, bucket);
        ResultStore {
            links: ResultLinks::of(bucket.clone()),
            bucket,
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        self.bucket.name()
    }

    /// Writes a JSON object (idempotent: a repeated run overwrites the same key).
    pub async fn put_json(&self, key: &str, body: Vec<u8>) -> Result<(), GatewayError> {
        self.bucket
            .put(key, "application/json", body)
            .await
            .map_err(|e| s3_error("PutObject", key, e))
    }

    /// Reads an object whole (batch input and output files): a missing key is a fault here.
    pub async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, GatewayError> {
        self.get_if_exists(key)
            .await?
            .ok_or_else(|| s3_error("GetObject", key, "404 NoSuchKey"))
    }

    /// Reads an object whole, `None` when there is no such key (OpenAI batch files and batches,
    /// where a missing object is the caller's 404, not a fault).
    pub async fn get_if_exists(&self, key: &str) -> Result<Option<Vec<u8>>, GatewayError> {
        let Some(object) = self
            .bucket
            .get(key)
            .await
            .map_err(|e| s3_error("GetObject", key, e))?
        else {
            return Ok(None);
        };
        let bytes = object
            .bytes()
            .await
            .map_err(|e| s3_error("GetObject (body)", key, e))?;
        Ok(Some(bytes))
    }

    /// Keys under `prefix` (at most 1,000: a batch's output has a handful of files).
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, GatewayError> {
        self.bucket
            .list_keys(prefix)
            .await
            .map_err(|e| s3_error("ListObjectsV2", prefix, e))
    }

    /// A presigned GET for `key`, valid for [`PRESIGN_TTL`]; returns the URL and its expiry
    /// (Unix seconds).
    pub async fn presign_get(&self, key: &str) -> Result<(String, i64), GatewayError> {
        self.links.presign_get(key).await
    }
}
