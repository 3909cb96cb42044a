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
    /// A job message that should come back later (retryable failure, job busy, async
    /// invocation in progress). Reported as a batch item failure, never as a function error.
    #[error("job will be retried: {0}")]
    JobRetry(String),
    /// Lines of an inbox object another run holds under a live lease: the event comes back
    /// and finds them done (their results are checkpointed).
    #[error("{key}: {lines} line(s) running under another delivery; will be retried")]
    InboxBusy { key: String, lines: usize },
}

impl From<CallbackError> for lambda_runtime::Diagnostic {
    /// How a failed invocation is reported to Lambda (and so to the event source, which then
    /// retries the whole event). The message names the object, never a prompt.
    fn from(error: CallbackError) -> Self {
        let error_type = match &error {
            CallbackError::UnknownEvent(_) => "UnknownEvent",
            CallbackError::MalformedEvent(_) => "MalformedEvent",
            CallbackError::Storage { .. } => "StorageError",
            CallbackError::Gateway(_) => "GatewayError",
            CallbackError::JobRetry(_) => "JobRetry",
            CallbackError::InboxBusy { .. } => "InboxBusy",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: error.to_string(),
        }
    }
}
