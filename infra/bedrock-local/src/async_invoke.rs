//! StartAsyncInvoke / GetAsyncInvoke / ListAsyncInvokes. Jobs live in memory; a job completes
//! after `--async-complete-ms` by writing `output.mp4` (placeholder bytes) and `manifest.json`
//! to `<s3Uri>/<invocation id>/` with aws-sdk-s3 (path-style, so `AWS_ENDPOINT_URL_S3` can point
//! at moto).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::OnceCell;

use crate::errors::{BedrockError, validation};
use crate::models::{self, ACCOUNT, UNSUPPORTED_ACTION};
use crate::paging;
use crate::s3::{self, parse_s3_uri};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Completed,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "InProgress",
            Status::Completed => "Completed",
            Status::Failed => "Failed",
        }
    }
    fn parse(s: &str) -> Option<Status> {
        match s {
            "InProgress" => Some(Status::InProgress),
            "Completed" => Some(Status::Completed),
            "Failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Job {
    arn: String,
    model_arn: String,
    token: Option<String>,
    status: Status,
    failure: Option<String>,
    submit: OffsetDateTime,
    modified: OffsetDateTime,
    end: Option<OffsetDateTime>,
    output: Value,
}

/// ISO 8601 with milliseconds, the form Bedrock returns.
pub fn iso(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            s.parse::<f64>()
                .ok()
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs as i64).ok())
        })
}

impl Job {
    fn json(&self) -> Value {
        let mut v = json!({
            "invocationArn": self.arn,
            "modelArn": self.model_arn,
            "status": self.status.as_str(),
            "submitTime": iso(self.submit),
            "lastModifiedTime": iso(self.modified),
            "outputDataConfig": self.output,
        });
        if let Some(t) = &self.token {
            v["clientRequestToken"] = json!(t);
        }
        if let Some(f) = &self.failure {
            v["failureMessage"] = json!(f);
        }
        if let Some(e) = self.end {
            v["endTime"] = json!(iso(e));
        }
        v
    }
}

#[derive(Debug, Default)]
struct Inner {
    jobs: Vec<Job>,
    by_arn: HashMap<String, usize>,
    by_token: HashMap<String, usize>,
}

#[derive(Debug, Default)]
pub struct AsyncStore {
    inner: Mutex<Inner>,
    s3: OnceCell<aws_sdk_s3::Client>,
}

impl AsyncStore {
    /// Handles StartAsyncInvoke; returns the invocation ARN.
    pub fn start(
        self: &Arc<Self>,
        body: &Value,
        region: &str,
        complete_after: Duration,
    ) -> Result<String, BedrockError> {
        let model_id = body
            .get("modelId")
            .and_then(Value::as_str)
            .ok_or_else(|| BedrockError::Validation("1 validation error detected: Value null at 'modelId' failed to satisfy constraint: Member must not be null".into()))?;
        let model = models::parse(model_id)?.model;
        if !model.caps.asynchronous {
            return validation(
                format!(
                    "The model {} does not support asynchronous invocation. {UNSUPPORTED_ACTION}",
                    model.id
                )
                .replace(
                    " Try again with a supported text or chat model.",
                    " Use a model that supports StartAsyncInvoke.",
                ),
            );
        }
        let input = body.get("modelInput").filter(|v| v.is_object()).ok_or_else(|| {
            BedrockError::Validation("1 validation error detected: Value null at 'modelInput' failed to satisfy constraint: Member must not be null".into())
        })?;
        let prompt = validate_reel_input(input)?;
        let output = body.get("outputDataConfig").cloned().unwrap_or(Value::Null);
        let uri = output
            .get("s3OutputDataConfig")
            .and_then(|c| c.get("s3Uri"))
            .and_then(Value::as_str)
            .ok_or_else(|| BedrockError::Validation("1 validation error detected: Value null at 'outputDataConfig.s3OutputDataConfig.s3Uri' failed to satisfy constraint: Member must not be null".into()))?;
        let (bucket, prefix) = parse_s3_uri(uri).ok_or_else(|| {
            BedrockError::Validation(format!(
                "1 validation error detected: Value '{uri}' at 'outputDataConfig.s3OutputDataConfig.s3Uri' failed to satisfy constraint: Member must satisfy regular expression pattern: s3://[a-z0-9][\\.\\-a-z0-9]{{1,61}}[a-z0-9](/.*)?"
            ))
        })?;
        let token = body
            .get("clientRequestToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        let now = OffsetDateTime::now_utc();
        let (arn, id) = {
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| BedrockError::InternalServer("state poisoned".into()))?;
            if let Some(t) = &token
                && let Some(&i) = inner.by_token.get(t)
            {
                return Ok(inner.jobs[i].arn.clone());
            }
            let id: String = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .take(12)
                .collect();
            let arn = format!("arn:aws:bedrock:{region}:{ACCOUNT}:async-invoke/{id}");
            let idx = inner.jobs.len();
            inner.jobs.push(Job {
                arn: arn.clone(),
                model_arn: format!("arn:aws:bedrock:{region}::foundation-model/{}", model.id),
                token: token.clone(),
                status: Status::InProgress,
                failure: None,
                submit: now,
                modified: now,
                end: None,
                output,
            });
            inner.by_arn.insert(arn.clone(), idx);
            if let Some(t) = token {
                inner.by_token.insert(t, idx);
            }
            (arn, id)
        };
        let store = Arc::clone(self);
        let region = region.to_string();
        let fail = prompt.contains("[[fault:async_fail]]");
        let arn2 = arn.clone();
        let model_id = model.id;
        tokio::spawn(async move {
            tokio::time::sleep(complete_after).await;
            let result = if fail {
                Err(
                    "The model failed to generate the video: [[fault:async_fail]] requested."
                        .to_string(),
                )
            } else {
                store
                    .write_output(
                        &region,
                        &bucket,
                        &prefix,
                        &id,
                        &arn2,
                        model_id,
                        uri_for(&bucket, &prefix, &id),
                    )
                    .await
            };
            store.finish(&arn2, result);
        });
        Ok(arn)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_output(
        &self,
        region: &str,
        bucket: &str,
        prefix: &str,
        id: &str,
        arn: &str,
        model_id: &str,
        folder: String,
    ) -> Result<(), String> {
        let client = self.s3.get_or_init(|| s3::client(region.to_string())).await;
        let key = |name: &str| {
            if prefix.is_empty() {
                format!("{id}/{name}")
            } else {
                format!("{prefix}/{id}/{name}")
            }
        };
        // A tiny ISO BMFF header: enough for a file-type sniffer, not a playable video.
        let video: Vec<u8> =
            b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom bedrock-local placeholder video"
                .to_vec();
        let manifest = json!({
            "invocationArn": arn,
            "modelId": model_id,
            "status": "Completed",
            "outputs": [format!("{folder}/output.mp4")],
        });
        for (name, bytes, ctype) in [
            ("output.mp4", video, "video/mp4"),
            (
                "manifest.json",
                manifest.to_string().into_bytes(),
                "application/json",
            ),
        ] {
            client
                .put_object()
                .bucket(bucket)
                .key(key(name))
                .content_type(ctype)
                .body(bytes.into())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "Failed to write output to s3://{bucket}/{}: {}",
                        key(name),
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    )
                })?;
        }
        Ok(())
    }

    fn finish(&self, arn: &str, result: Result<(), String>) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some(&i) = inner.by_arn.get(arn)
        {
            let now = OffsetDateTime::now_utc();
            let job = &mut inner.jobs[i];
            job.modified = now;
            job.end = Some(now);
            match result {
                Ok(()) => job.status = Status::Completed,
                Err(e) => {
                    job.status = Status::Failed;
                    job.failure = Some(e);
                }
            }
        }
    }

    /// Handles GetAsyncInvoke (the ARN's form is checked against the service model first).
    pub fn get(&self, arn: &str) -> Result<Value, BedrockError> {
        let inner = self
            .inner
            .lock()
            .map_err(|_| BedrockError::InternalServer("state poisoned".into()))?;
        match inner.by_arn.get(arn) {
            Some(&i) => Ok(inner.jobs[i].json()),
            None => validation(format!("The provided invocation ARN {arn} doesn't exist.")),
        }
    }

    /// Handles ListAsyncInvokes with its filters, sort and pagination.
    pub fn list(&self, q: &HashMap<String, String>) -> Result<Value, BedrockError> {
        let status = match q.get("statusEquals") {
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                BedrockError::Validation(format!("1 validation error detected: Value '{s}' at 'statusEquals' failed to satisfy constraint: Member must satisfy enum value set: [InProgress, Completed, Failed]"))
            })?),
            None => None,
        };
        let time_param = |k: &str| -> Result<Option<OffsetDateTime>, BedrockError> {
            match q.get(k) {
                None => Ok(None),
                Some(s) => parse_time(s).map(Some).ok_or_else(|| {
                    BedrockError::Validation(format!(
                        "The value {s} for {k} is not a valid timestamp."
                    ))
                }),
            }
        };
        let after = time_param("submitTimeAfter")?;
        let before = time_param("submitTimeBefore")?;
        let max = match q.get("maxResults") {
            None => 1000,
            Some(s) => match s.parse::<usize>() {
                Ok(n @ 1..=1000) => n,
                _ => {
                    return validation(format!(
                        "1 validation error detected: Value '{s}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000"
                    ));
                }
            },
        };
        if let Some(s) = q.get("sortBy")
            && s != "SubmissionTime"
        {
            return validation(format!(
                "1 validation error detected: Value '{s}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [SubmissionTime]"
            ));
        }
        let ascending = match q.get("sortOrder").map(String::as_str) {
            None | Some("Descending") => false,
            Some("Ascending") => true,
            Some(s) => {
                return validation(format!(
                    "1 validation error detected: Value '{s}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [Ascending, Descending]"
                ));
            }
        };
        let start = paging::start(q)?;
        let inner = self
            .inner
            .lock()
            .map_err(|_| BedrockError::InternalServer("state poisoned".into()))?;
        let mut jobs: Vec<&Job> = inner
            .jobs
            .iter()
            .filter(|j| status.is_none_or(|s| j.status == s))
            .filter(|j| after.is_none_or(|t| j.submit > t))
            .filter(|j| before.is_none_or(|t| j.submit < t))
            .collect();
        // Stable sort keeps submission order between equal timestamps.
        jobs.sort_by_key(|j| j.submit);
        if !ascending {
            jobs.reverse();
        }
        Ok(paging::page(
            &jobs,
            start,
            max,
            "asyncInvokeSummaries",
            |x| x.json(),
        ))
    }
}

fn uri_for(bucket: &str, prefix: &str, id: &str) -> String {
    if prefix.is_empty() {
        format!("s3://{bucket}/{id}")
    } else {
        format!("s3://{bucket}/{prefix}/{id}")
    }
}

/// Nova Reel input: `taskType` and, for TEXT_VIDEO, `textToVideoParams.text`. Returns the text.
fn validate_reel_input(input: &Value) -> Result<String, BedrockError> {
    match input.get("taskType").and_then(Value::as_str) {
        Some("TEXT_VIDEO") => input
            .get("textToVideoParams")
            .and_then(|p| p.get("text"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| BedrockError::Validation("Malformed input request: #/textToVideoParams: required key [text] not found, please reformat your input and try again.".into())),
        Some("MULTI_SHOT_AUTOMATED" | "MULTI_SHOT_MANUAL") => Ok(input.to_string()),
        Some(other) => validation(format!("Malformed input request: #/taskType: {other} is not a valid enum value, please reformat your input and try again.")),
        None => validation("Malformed input request: #: required key [taskType] not found, please reformat your input and try again."),
    }
}
