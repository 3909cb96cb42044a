//! The jobs queue (SQS; moto locally via `AWS_ENDPOINT_URL_SQS`). A message is only a pointer,
//! `{"job_id": "..."}`: the record is the truth, so a duplicate or stale message is harmless.

use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};

use super::id::JobId;
use inference_core::error::{ErrorKind, GatewayError};

/// The body of a job message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    /// The job to run.
    pub job_id: String,
}

impl JobMessage {
    /// Reads a message body that is a job pointer; `None` for anything else.
    pub fn parse(body: &str) -> Option<JobId> {
        let m: JobMessage = serde_json::from_str(body).ok()?;
        JobId::parse(&m.job_id).ok()
    }
}

/// Sends job messages.
#[derive(Debug, Clone)]
pub struct JobQueue {
    client: Client,
    queue_url: String,
}

impl JobQueue {
    /// A sender for `queue_url`, from the shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> JobQueue {
        JobQueue {
            client: Client::new(sdk),
            queue_url: queue_url.into(),
        }
    }

    /// Enqueues a job. A failure is a retryable 503 (`service_unavailable`).
    pub async fn enqueue(&self, id: &JobId) -> Result<(), GatewayError> {
        let body = serde_json::json!({"job_id": id.as_str()}).to_string();
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                GatewayError::new(
                    ErrorKind::ServiceUnavailable,
                    format!(
                        "jobs queue: SendMessage failed: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    ),
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_job_pointers() {
        let id = JobId::random();
        let body = format!(r#"{{"job_id":"{id}"}}"#);
        assert_eq!(JobMessage::parse(&body), Some(id));
        assert_eq!(JobMessage::parse(r#"{"job_id":"nope"}"#), None);
        assert_eq!(JobMessage::parse(r#"{"Records":[]}"#), None);
        assert_eq!(JobMessage::parse("garbage"), None);
    }
}
