//! Bedrock's batch operations (the control plane's `bedrock` client, `AWS_ENDPOINT_URL_BEDROCK`
//! locally): CreateModelInvocationJob and GetModelInvocationJob.

use aws_sdk_bedrock::Client;
use aws_sdk_bedrock::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrock::types::{
    ModelInvocationJobInputDataConfig, ModelInvocationJobOutputDataConfig,
    ModelInvocationJobS3InputDataConfig, ModelInvocationJobS3OutputDataConfig,
    ModelInvocationJobStatus, S3InputFormat,
};

use super::BatchId;
use inference_core::error::{ErrorKind, GatewayError};

/// Where a Bedrock batch job stands, as the poller needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchState {
    /// Submitted, validating, scheduled, in progress or stopping: ask again later.
    Running,
    /// Completed or PartiallyCompleted: the output is written (records carry `error` where
    /// they failed).
    Finished,
    /// Failed, stopped or expired: no records to read; `message` says why.
    Ended {
        /// Bedrock's status and message.
        message: String,
    },
}

fn control_error<E, R>(what: &str, e: SdkError<E, R>) -> GatewayError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let validation = e.code() == Some("ValidationException");
    let text = format!("bedrock: {what} failed: {}", DisplayErrorContext(&e));
    if validation {
        GatewayError::new(ErrorKind::InvalidRequest, text)
    } else {
        GatewayError::new(ErrorKind::ServiceUnavailable, text)
    }
}

/// Creates the batch job for `batch` (job name and client request token are its ID, so a
/// repeated call after a crash answers the same job's ARN).
pub async fn create(
    client: &Client,
    batch: &BatchId,
    model: &str,
    role_arn: &str,
    input_uri: &str,
    output_uri: &str,
    timeout_hours: i32,
) -> Result<String, GatewayError> {
    let input = ModelInvocationJobS3InputDataConfig::builder()
        .s3_uri(input_uri)
        .s3_input_format(S3InputFormat::Jsonl)
        .build()
        .map_err(|e| GatewayError::internal(format!("batch input config: {e}")))?;
    let output = ModelInvocationJobS3OutputDataConfig::builder()
        .s3_uri(output_uri)
        .build()
        .map_err(|e| GatewayError::internal(format!("batch output config: {e}")))?;
    let out = client
        .create_model_invocation_job()
        .job_name(batch.as_str())
        .client_request_token(batch.as_str())
        .model_id(model)
        .role_arn(role_arn)
        .input_data_config(ModelInvocationJobInputDataConfig::S3InputDataConfig(input))
        .output_data_config(ModelInvocationJobOutputDataConfig::S3OutputDataConfig(
            output,
        ))
        .timeout_duration_in_hours(timeout_hours)
        .send()
        .await
        .map_err(|e| control_error("CreateModelInvocationJob", e))?;
    Ok(out.job_arn().to_owned())
}

/// Asks where the job stands.
pub async fn state(client: &Client, arn: &str) -> Result<BatchState, GatewayError> {
    let out = client
        .get_model_invocation_job()
        .job_identifier(arn)
        .send()
        .await
        .map_err(|e| control_error("GetModelInvocationJob", e))?;
    let status = out.status().cloned();
    Ok(match status {
        Some(
            ModelInvocationJobStatus::Completed | ModelInvocationJobStatus::PartiallyCompleted,
        ) => BatchState::Finished,
        Some(
            s @ (ModelInvocationJobStatus::Failed
            | ModelInvocationJobStatus::Stopped
            | ModelInvocationJobStatus::Expired),
        ) => BatchState::Ended {
            message: format!(
                "Bedrock batch job {}: {}",
                s.as_str(),
                out.message().unwrap_or("no message")
            ),
        },
        _ => BatchState::Running,
    })
}

/// The job ID at the end of its ARN (Bedrock's output folder is named after it).
pub fn job_id_of(arn: &str) -> &str {
    inference_core::ids::arn_resource_id(arn)
}
