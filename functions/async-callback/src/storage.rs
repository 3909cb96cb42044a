//! The results bucket, through the S3 SDK (moto locally via `AWS_ENDPOINT_URL_S3`).

use aws_sdk_s3::primitives::ByteStream;

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
    client: aws_sdk_s3::Client,
}

impl Storage {
    pub fn new(sdk_config: &aws_config::SdkConfig) -> Self {
        // Path-style addressing works with S3 and with local stand-ins (bucket in the path).
        let config = aws_sdk_s3::config::Builder::from(sdk_config)
            .force_path_style(true)
            .build();
        Storage {
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, CallbackError> {
        let out = self.get_object(bucket, key).await?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| storage_error(bucket, key, e.to_string()))?;
        Ok(bytes.into_bytes().to_vec())
    }

    /// GetObject, its failure named by bucket and key.
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, CallbackError> {
        self.client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                storage_error(
                    bucket,
                    key,
                    aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                )
            })
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
        let declared = out.content_length().and_then(|l| u64::try_from(l).ok());
        if let Some(size) = declared.filter(|&l| l > max_bytes) {
            return Ok(Fetched::TooLarge { size });
        }
        let version = out
            .version_id()
            .filter(|v| !v.is_empty() && *v != "null")
            .map(|v| format!("v:{v}"))
            .or_else(|| out.e_tag().map(|e| format!("etag:{}", e.trim_matches('"'))));
        let bytes = out.body.collect().await.map_err(|e| fail(e.to_string()))?;
        let bytes = bytes.into_bytes().to_vec();
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
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| CallbackError::Storage {
                bucket: bucket.to_string(),
                key: key.to_string(),
                message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(())
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
