//! The results bucket, through the S3 SDK (moto locally via `AWS_ENDPOINT_URL_S3`).

use aws_sdk_s3::primitives::ByteStream;

use crate::error::CallbackError;

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
        let fail = |message: String| CallbackError::Storage {
            bucket: bucket.to_string(),
            key: key.to_string(),
            message,
        };
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        let bytes = out.body.collect().await.map_err(|e| fail(e.to_string()))?;
        Ok(bytes.into_bytes().to_vec())
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
