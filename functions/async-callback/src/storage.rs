//! Objects of any bucket the function reads or writes (inboxes, batch files), through
//! `gateway_jobs::s3` (SigV4 on the SDK's connector, no S3 SDK crate; moto locally via
//! `AWS_ENDPOINT_URL_S3`).

use gateway_jobs::s3::Bucket;

use crate::error::CallbackError;

/// An inbox object as read by [`Storage::get_inbox`].
#[derive(Debug)]
pub enum Fetched {
    /// Over the size cap: not downloaded.
    TooLarge { size: u64 },
    /// Its bytes and version.
    Object {
        bytes: Vec<u8>,
        version: Option<String>,
    },
}

/// Reads and writes objects; one client per cold start.
#[derive(Clone, Debug)]
pub struct Storage {
    /// Endpoint, credentials and connector; its name is replaced per call.
    s3: Bucket,
}

impl Storage {
    pub fn new(sdk_config: &aws_config::SdkConfig) -> Self {
        Storage {
            s3: Bucket::new(sdk_config, ""),
        }
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, CallbackError> {
        let fail = |message: String| storage_error(bucket, key, message);
        self.get_object(bucket, key)
            .await?
            .bytes()
            .await
            .map_err(fail)
    }

    /// GetObject, its failure (a missing key too) named by bucket and key.
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<gateway_jobs::s3::Object, CallbackError> {
        let fail = |message: String| storage_error(bucket, key, message);
        self.s3
            .named(bucket)
            .get(key)
            .await
            .map_err(fail)?
            .ok_or_else(|| fail("404 NoSuchKey".into()))
    }

    /// Reads an inbox object unless it is larger than `max_bytes` (then only its size is read:
    /// the body is never downloaded). With it, its version for checkpoints: the version ID, or
    /// the ETag in an unversioned bucket (`None` when S3 gave neither).
    pub async fn get_inbox(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Fetched, CallbackError> {
        let fail = |message: String| storage_error(bucket, key, message);
        let out = self.get_object(bucket, key).await?;
        if let Some(size) = out.content_length.filter(|&l| l > max_bytes) {
            return Ok(Fetched::TooLarge { size });
        }
        let version = out
            .version_id
            .as_deref()
            .filter(|v| !v.is_empty() && *v != "null")
            .map(|v| format!("v:{v}"))
            .or_else(|| {
                out.e_tag
                    .as_deref()
                    .map(|e| format!("etag:{}", e.trim_matches('"')))
            });
        let bytes = out.bytes().await.map_err(fail)?;
        // No declared length (some S3 stand-ins): checked after the read.
        if bytes.len() as u64 > max_bytes {
            return Ok(Fetched::TooLarge {
                size: bytes.len() as u64,
            });
        }
        Ok(Fetched::Object { bytes, version })
    }

    pub async fn put_jsonl(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), CallbackError> {
        self.s3
            .named(bucket)
            .put(key, "application/x-ndjson", body)
            .await
            .map_err(|message| storage_error(bucket, key, message))
    }
}

/// A storage failure on `bucket`/`key`.
fn storage_error(bucket: &str, key: &str, message: String) -> CallbackError {
    CallbackError::Storage {
        bucket: bucket.to_string(),
        key: key.to_string(),
        message,
    }
}
