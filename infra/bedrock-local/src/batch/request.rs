//! CreateModelInvocationJob's body, read and checked against the service model's constraints
//! (`bedrock` 2023-04-20), in Bedrock's "1 validation error detected" wording.

use serde_json::Value;

use crate::constraints::{length, one_of, pattern};
use crate::errors::{BedrockError, validation};
use crate::profiles::request::{Tag, missing, required, string, tags};

const NAME_PATTERN: &str = r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}";
const ROLE_PATTERN: &str = r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+";
const TOKEN_PATTERN: &str = "[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}";
const MODEL_ID_PATTERN: &str = r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/[a-z0-9-]{1,63}[.]{1}[a-z0-9-:]{1,63}/[a-z0-9]{12}$)|(:foundation-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)$)|([0-9]{12}:(inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+$)))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)";
const S3_URI_PATTERN: &str =
    r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?";
const ACCOUNT_PATTERN: &str = "[0-9]{12}";
const KMS_PATTERN: &str = r"(arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)))|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)";
/// `ModelInvocationJobIdentifier`: a job ID or its ARN.
pub const IDENTIFIER_PATTERN: &str =
    r"((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-invocation-job/)?[a-z0-9]{12})";
/// `ModelInvocationJobStatus`.
pub const STATUSES: [&str; 10] = [
    "Submitted",
    "InProgress",
    "Completed",
    "Failed",
    "Stopping",
    "Stopped",
    "PartiallyCompleted",
    "Expired",
    "Validating",
    "Scheduled",
];

/// A checked CreateModelInvocationJob request.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateJob {
    pub name: String,
    pub role_arn: String,
    pub token: Option<String>,
    pub model_id: String,
    /// `inputDataConfig` and `outputDataConfig` as sent (echoed by Get and List).
    pub input_config: Value,
    pub output_config: Value,
    pub input_uri: String,
    pub output_uri: String,
    pub vpc_config: Option<Value>,
    pub timeout_hours: Option<u32>,
    pub tags: Vec<Tag>,
}

fn object<'a>(body: &'a Value, member: &str) -> Result<Option<&'a Value>, BedrockError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => validation(format!("The member {member} must be a structure.")),
    }
}

/// `inputDataConfig.s3InputDataConfig` or `outputDataConfig.s3OutputDataConfig`: the union's
/// one member, its `s3Uri` (checked) and the optional members' constraints.
fn s3_config(body: &Value, outer: &str, inner: &str) -> Result<(Value, String), BedrockError> {
    let Some(config) = object(body, outer)? else {
        return missing(outer);
    };
    let at = format!("{outer}.{inner}");
    let Some(s3) = object(config, inner)? else {
        return validation(format!(
            "1 validation error detected: Value at '{outer}' failed to satisfy constraint: Member must have exactly one member set"
        ));
    };
    let uri = string(s3, "s3Uri")?.map_or_else(|| missing(&format!("{at}.s3Uri")), Ok)?;
    length(&format!("{at}.s3Uri"), uri, 1, 1024)?;
    pattern(&format!("{at}.s3Uri"), uri, S3_URI_PATTERN)?;
    if let Some(f) = string(s3, "s3InputFormat")? {
        one_of(&format!("{at}.s3InputFormat"), f, &["JSONL"])?;
    }
    if let Some(owner) = string(s3, "s3BucketOwner")? {
        pattern(&format!("{at}.s3BucketOwner"), owner, ACCOUNT_PATTERN)?;
    }
    if let Some(key) = string(s3, "s3EncryptionKeyId")? {
        length(&format!("{at}.s3EncryptionKeyId"), key, 1, 2048)?;
        pattern(&format!("{at}.s3EncryptionKeyId"), key, KMS_PATTERN)?;
    }
    Ok((config.clone(), uri.to_string()))
}

fn timeout_hours(body: &Value) -> Result<Option<u32>, BedrockError> {
    let Some(v) = body.get("timeoutDurationInHours").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match v.as_u64() {
        Some(h @ 24..=168) => Ok(Some(h as u32)),
        _ => validation(format!(
            "1 validation error detected: Value '{v}' at 'timeoutDurationInHours' failed to satisfy constraint: Member must have value between 24 and 168"
        )),
    }
}

/// Reads and checks CreateModelInvocationJob's body, member by member.
pub fn create(body: &Value) -> Result<CreateJob, BedrockError> {
    let name = required(body, "jobName")?;
    length("jobName", name, 1, 63)?;
    pattern("jobName", name, NAME_PATTERN)?;
    let role = required(body, "roleArn")?;
    length("roleArn", role, 0, 2048)?;
    pattern("roleArn", role, ROLE_PATTERN)?;
    let token = string(body, "clientRequestToken")?;
    if let Some(t) = token {
        length("clientRequestToken", t, 1, 256)?;
        pattern("clientRequestToken", t, TOKEN_PATTERN)?;
    }
    let model_id = required(body, "modelId")?;
    length("modelId", model_id, 1, 2048)?;
    pattern("modelId", model_id, MODEL_ID_PATTERN)?;
    let (input_config, input_uri) = s3_config(body, "inputDataConfig", "s3InputDataConfig")?;
    let (output_config, output_uri) = s3_config(body, "outputDataConfig", "s3OutputDataConfig")?;
    if let Some(kind) = string(body, "modelInvocationType")? {
        one_of("modelInvocationType", kind, &["InvokeModel", "Converse"])?;
        if kind == "Converse" {
            return validation(
                "bedrock-local runs batch jobs of modelInvocationType InvokeModel only (native model bodies).",
            );
        }
    }
    Ok(CreateJob {
        name: name.to_string(),
        role_arn: role.to_string(),
        token: token.map(str::to_string),
        model_id: model_id.to_string(),
        input_config,
        output_config,
        input_uri,
        output_uri,
        vpc_config: object(body, "vpcConfig")?.cloned(),
        timeout_hours: timeout_hours(body)?,
        tags: tags(body, "tags")?.unwrap_or_default(),
    })
}

/// Checks a job identifier (path label) against the service model.
pub fn identifier(id: &str) -> Result<(), BedrockError> {
    length("jobIdentifier", id, 0, 1011)?;
    pattern("jobIdentifier", id, IDENTIFIER_PATTERN)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body() -> Value {
        json!({
            "jobName": "nightly-1",
            "roleArn": "arn:aws:iam::123456789012:role/BatchRole",
            "modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://in-bucket/jobs/a.jsonl"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://out-bucket/results/"}},
        })
    }

    fn err(patch: Value) -> String {
        let mut b = body();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        create(&b).unwrap_err().message().to_string()
    }

    #[test]
    fn a_valid_job_is_read_and_each_member_is_checked() {
        let ok = create(&body()).unwrap();
        assert_eq!(ok.input_uri, "s3://in-bucket/jobs/a.jsonl");
        assert_eq!(ok.output_uri, "s3://out-bucket/results/");
        assert!(err(json!({"jobName": "bad name"})).contains("'jobName'"));
        assert!(err(json!({"jobName": "a".repeat(64)})).contains("less than or equal to 63"));
        assert!(err(json!({"jobName": null})).contains("Value null at 'jobName'"));
        assert!(err(json!({"roleArn": "arn:aws:iam::123:user/x"})).contains("'roleArn'"));
        assert!(err(json!({"modelId": "not a model!"})).contains("'modelId'"));
        assert!(
            err(json!({"inputDataConfig": {"s3InputDataConfig": {"s3Uri": "http://x/y"}}}))
                .contains("inputDataConfig.s3InputDataConfig.s3Uri")
        );
        assert!(err(json!({"outputDataConfig": {}})).contains("exactly one member"));
        assert!(err(json!({"timeoutDurationInHours": 12})).contains("between 24 and 168"));
        assert!(err(json!({"modelInvocationType": "Chat"})).contains("enum value set"));
        assert!(identifier("abcdef123456").is_ok());
        assert!(
            identifier("arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdef123456")
                .is_ok()
        );
        assert!(identifier("nope").is_err());
    }
}
