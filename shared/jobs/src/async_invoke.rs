//! StartAsyncInvoke / GetAsyncInvoke for models Bedrock only runs asynchronously (catalog
//! capability `async_invoke`, e.g. Nova Reel). The job's ID is the client request token, so a
//! repeated start (a crash before the ARN was recorded) returns the same invocation.

use aws_sdk_bedrockruntime::types::{
    AsyncInvokeOutputDataConfig, AsyncInvokeS3OutputDataConfig, AsyncInvokeStatus,
};

use super::id::JobId;
use inference_core::catalog::Capability;
use inference_core::convert::json_to_document;
use inference_core::cost::{Cost, video_cost};
use inference_core::error::{GatewayError, from_sdk_error};
use inference_core::pipeline::Gateway;

/// Where an async invocation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncState {
    /// Still running: ask again later.
    InProgress,
    /// Done; the output is under this S3 URI.
    Completed {
        /// `s3://bucket/prefix/<invocation id>/...`
        output_uri: String,
    },
    /// Bedrock gave up; its message.
    Failed {
        /// Bedrock's `failureMessage`.
        message: String,
    },
}

/// Starts the invocation of `request` (`{"model", "native"}`), writing under `output_s3_uri`.
/// Returns its ARN.
pub async fn start(
    gw: &Gateway,
    job_id: &JobId,
    request: &serde_json::Value,
    output_s3_uri: &str,
) -> Result<String, GatewayError> {
    let model = request["model"]
        .as_str()
        .ok_or_else(|| GatewayError::internal("job request has no model"))?;
    let resolved = gw.resolve_allowed(model, Capability::AsyncInvoke)?;
    let output = AsyncInvokeS3OutputDataConfig::builder()
        .s3_uri(output_s3_uri)
        .build()
        .map_err(|e| GatewayError::internal(format!("async output config: {e}")))?;
    // clientRequestToken allows letters, digits and hyphens only.
    let token = job_id.as_str().replace('_', "-");
    let out = gw
        .client()
        .sdk()
        .start_async_invoke()
        .model_id(resolved.target.id())
        .model_input(json_to_document(&request["native"]))
        .output_data_config(AsyncInvokeOutputDataConfig::S3OutputDataConfig(output))
        .client_request_token(token)
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(out.invocation_arn().to_owned())
}

/// Seconds of video Nova Reel bills for a TEXT_VIDEO request without `durationSeconds`.
const DEFAULT_VIDEO_SECONDS: u32 = 6;

/// Refuses a `videoGenerationConfig.durationSeconds` that is not a positive whole number: the
/// job's cost is that number times the per-second price, so a `6.5` or `"6"` would run a video
/// that is neither priced nor charged.
pub fn check_video_seconds(native: &serde_json::Value) -> Result<(), GatewayError> {
    match native.pointer("/videoGenerationConfig/durationSeconds") {
        None => Ok(()),
        Some(v)
            if v.as_u64()
                .is_some_and(|n| (1..=u64::from(u32::MAX)).contains(&n)) =>
        {
            Ok(())
        }
        Some(v) => Err(GatewayError::invalid_request(format!(
            "native.videoGenerationConfig.durationSeconds: expected a positive whole number of seconds, got {}",
            inference_core::error::clip(&v.to_string())
        ))),
    }
}

/// What the invocation of `request` (`{"model", "native"}`) costs once its output exists, for
/// models priced per second of video: `videoGenerationConfig.durationSeconds` x the catalog's
/// per-second price. `None` when the model is not priced that way (no guess is recorded).
pub fn output_cost(gw: &Gateway, request: &serde_json::Value) -> Option<Cost> {
    let resolved = gw
        .resolve_allowed(request["model"].as_str()?, Capability::AsyncInvoke)
        .ok()?;
    let seconds = match request["native"].pointer("/videoGenerationConfig/durationSeconds") {
        None => DEFAULT_VIDEO_SECONDS,
        Some(v) => u32::try_from(v.as_u64()?).ok()?,
    };
    video_cost(&gw.catalog(), &resolved.model, resolved.pricing, seconds)
}

/// Asks how the invocation is going.
pub async fn poll(gw: &Gateway, arn: &str) -> Result<AsyncState, GatewayError> {
    let out = gw
        .client()
        .sdk()
        .get_async_invoke()
        .invocation_arn(arn)
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(match out.status() {
        AsyncInvokeStatus::Completed => AsyncState::Completed {
            output_uri: out
                .output_data_config()
                .and_then(|c| c.as_s3_output_data_config().ok())
                .map(|c| c.s3_uri().to_owned())
                .unwrap_or_default(),
        },
        AsyncInvokeStatus::Failed => AsyncState::Failed {
            message: out
                .failure_message()
                .unwrap_or("the async invocation failed")
                .to_owned(),
        },
        _ => AsyncState::InProgress,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn video_seconds_must_be_a_positive_whole_number() {
        let with = |v: serde_json::Value| json!({"videoGenerationConfig": {"durationSeconds": v}});
        assert!(check_video_seconds(&json!({})).is_ok());
        assert!(check_video_seconds(&with(json!(6))).is_ok());
        assert!(check_video_seconds(&with(json!(120))).is_ok());
        for bad in [
            json!(6.5),
            json!(6.0),
            json!("6"),
            json!(0),
            json!(-6),
            json!(1e20),
            json!(null),
        ] {
            let e = check_video_seconds(&with(bad.clone())).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{bad}");
            assert!(e.message().contains("durationSeconds"), "{e}");
        }
    }
}
