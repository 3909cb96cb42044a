//! The one error type of `async-callback`.

use inference_core::GatewayError;

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("unsupported event: {0}")]
    UnknownEvent(String),
    #[error("malformed event: {0}")]
    MalformedEvent(#[from] serde_json::Error),
    #[error("s3://{bucket}/{key}: {message}")]
    Storage {
        bucket: String,
        key: String,
        message: String,
    },
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}
