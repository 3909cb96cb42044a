//! Batch inference jobs (CreateModelInvocationJob and friends): the jobs in memory, their views
//! and the status lifecycle. `request` reads the create body, `records` the JSONL in and out,
//! `run` moves a job through Submitted → Validating → Scheduled → InProgress → an end state,
//! reading its input from S3 and writing Bedrock's output layout back.
//!
//! The module knows nothing of the HTTP server: the handler hands each job an [`Invoker`] that
//! answers one native body the way InvokeModel would.

pub mod records;
pub mod request;
mod run;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::async_invoke::iso;
use crate::constraints;
use crate::errors::{BedrockError, validation};
use crate::faults::Fault;
use crate::models::{ACCOUNT, Model};
use crate::paging;
use records::{Outcome, Totals};
use request::{CreateJob, STATUSES};

/// Answers one record's `modelInput` for a model: the native response and its token counts,
/// or the error InvokeModel would answer.
pub type Invoker = Arc<dyn Fn(&'static Model, &Value) -> Outcome + Send + Sync>;

/// `ModelInvocationJobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Submitted,
    Validating,
    Scheduled,
    InProgress,
    Completed,
    PartiallyCompleted,
    Failed,
    Stopping,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "Submitted",
            Status::Validating => "Validating",
            Status::Scheduled => "Scheduled",
            Status::InProgress => "InProgress",
            Status::Completed => "Completed",
            Status::PartiallyCompleted => "PartiallyCompleted",
            Status::Failed => "Failed",
            Status::Stopping => "Stopping",
            Status::Stopped => "Stopped",
        }
    }

    /// Whether the job has ended (StopModelInvocationJob refuses these).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::PartiallyCompleted | Status::Failed | Status::Stopped
        )
    }
}

/// Timing and limits of batch jobs (from the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    /// Time spent in each of Submitted, Validating, Scheduled and InProgress.
    pub step: Duration,
    /// Bedrock's "Minimum number of records per batch inference job" quota.
    pub min_records: usize,
    /// Bedrock's "Batch inference input file size" quota, in bytes.
    pub max_file_bytes: u64,
}

#[derive(Debug, Clone)]
struct Job {
    id: String,
    arn: String,
    req: CreateJob,
    status: Status,
    message: Option<String>,
    submit: OffsetDateTime,
    modified: OffsetDateTime,
    end: Option<OffsetDateTime>,
    totals: Option<Totals>,
}

impl Job {
    fn json(&self) -> Value {
        let r = &self.req;
        let hours = r.timeout_hours.unwrap_or(24);
        let mut v = json!({
            "jobArn": self.arn,
            "jobName": r.name,
            "modelId": r.model_id,
            "roleArn": r.role_arn,
            "status": self.status.as_str(),
            "submitTime": iso(self.submit),
            "lastModifiedTime": iso(self.modified),
            "inputDataConfig": r.input_config,
            "outputDataConfig": r.output_config,
            "timeoutDurationInHours": hours,
            "jobExpirationTime": iso(self.submit + time::Duration::hours(i64::from(hours))),
            "modelInvocationType": "InvokeModel",
        });
        if let Some(t) = &r.token {
            v["clientRequestToken"] = json!(t);
        }
        if let Some(vpc) = &r.vpc_config {
            v["vpcConfig"] = vpc.clone();
        }
        if let Some(m) = &self.message {
            v["message"] = json!(m);
        }
        if let Some(e) = self.end {
            v["endTime"] = json!(iso(e));
        }
        if let Some(t) = &self.totals {
            v["totalRecordCount"] = json!(t.total);
            v["processedRecordCount"] = json!(t.processed);
            v["successRecordCount"] = json!(t.success);
            v["errorRecordCount"] = json!(t.error);
        }
        v
    }
}

/// Records made to fail on purpose (`POST /_local/batch/failures`), so PartiallyCompleted
/// and the `error` lines are testable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRule {
    /// These record IDs fail.
    #[serde(default, rename = "recordIds")]
    pub record_ids: HashSet<String>,
    /// Every Nth record of a job (1-based position across its files) fails.
    #[serde(default)]
    pub every: Option<u32>,
    /// The fault they fail with (a marker name, e.g. `throttle`); `model_error` by default.
    #[serde(default)]
    pub fault: Option<String>,
}

impl FailRule {
    /// The failure of a record at `position` (1-based), if the rule picks it.
    fn failure(
        &self,
        record_id: &str,
        position: u64,
        model_id: &str,
        region: &str,
    ) -> Option<Outcome> {
        let picked = self.record_ids.contains(record_id)
            || self
                .every
                .is_some_and(|n| n > 0 && position.is_multiple_of(u64::from(n)));
        if !picked {
            return None;
        }
        let fault = self
            .fault
            .as_deref()
            .and_then(Fault::parse)
            .unwrap_or(Fault::ModelError);
        Some(outcome_of(&fault.error(model_id, region)))
    }
}

/// An error as a record's `error` member.
pub fn outcome_of(e: &BedrockError) -> Outcome {
    Outcome::Error {
        code: e.status().as_u16(),
        message: e.message().to_string(),
    }
}

#[derive(Debug, Default)]
struct Inner {
    jobs: Vec<Job>,
}

impl Inner {
    fn find(&self, identifier: &str) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|j| j.arn == identifier || j.id == identifier)
    }
    fn find_mut(&mut self, id: &str) -> Option<&mut Job> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }
}

/// The batch jobs of this emulator.
#[derive(Debug, Default)]
pub struct BatchStore {
    inner: Mutex<Inner>,
    failures: Mutex<FailRule>,
    s3: OnceCell<aws_sdk_s3::Client>,
}

fn not_found(identifier: &str) -> BedrockError {
    BedrockError::ResourceNotFound(format!(
        "The batch inference job {identifier} does not exist."
    ))
}

impl BatchStore {
    fn lock(&self) -> Result<MutexGuard<'_, Inner>, BedrockError> {
        self.inner
            .lock()
            .map_err(|_| BedrockError::InternalServer("state poisoned".into()))
    }

    /// Replaces the record-failure rule (an empty rule clears it).
    pub fn set_failures(&self, rule: FailRule) {
        if let Ok(mut f) = self.failures.lock() {
            *f = rule;
        }
    }

    fn failures(&self) -> FailRule {
        self.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// CreateModelInvocationJob: registers the job and starts its lifecycle. A repeated
    /// `clientRequestToken` answers the first job's ARN; a name in use is a ConflictException.
    pub fn create(
        self: &Arc<Self>,
        req: CreateJob,
        model: &'static Model,
        settings: Settings,
        invoker: Invoker,
    ) -> Result<String, BedrockError> {
        let mut inner = self.lock()?;
        if let Some(t) = &req.token
            && let Some(j) = inner.jobs.iter().find(|j| j.req.token.as_ref() == Some(t))
        {
            return Ok(j.arn.clone());
        }
        if inner.jobs.iter().any(|j| j.req.name == req.name) {
            return Err(BedrockError::Conflict(format!(
                "A batch inference job named {} already exists.",
                req.name
            )));
        }
        let id = paging::short_id();
        let arn = format!(
            "arn:aws:bedrock:{}:{ACCOUNT}:model-invocation-job/{id}",
            settings.region
        );
        let now = OffsetDateTime::now_utc();
        inner.jobs.push(Job {
            id: id.clone(),
            arn: arn.clone(),
            req: req.clone(),
            status: Status::Submitted,
            message: None,
            submit: now,
            modified: now,
            end: None,
            totals: None,
        });
        drop(inner);
        let store = Arc::clone(self);
        tokio::spawn(run::run(store, id, req, model, settings, invoker));
        Ok(arn)
    }

    /// GetModelInvocationJob by ID or ARN.
    pub fn get(&self, identifier: &str) -> Result<Value, BedrockError> {
        request::identifier(identifier)?;
        let inner = self.lock()?;
        inner
            .find(identifier)
            .map(Job::json)
            .ok_or_else(|| not_found(identifier))
    }

    /// StopModelInvocationJob: a running job becomes Stopping, then Stopped at its next step;
    /// an ended one is refused.
    pub fn stop(&self, identifier: &str) -> Result<(), BedrockError> {
        request::identifier(identifier)?;
        let mut inner = self.lock()?;
        let id = match inner.find(identifier) {
            Some(j) => j.id.clone(),
            None => return Err(not_found(identifier)),
        };
        let job = inner.find_mut(&id).ok_or_else(|| not_found(identifier))?;
        if job.status.is_final() {
            return validation(format!(
                "The batch inference job {identifier} is {} and cannot be stopped.",
                job.status.as_str()
            ));
        }
        if job.status != Status::Stopping {
            job.status = Status::Stopping;
            job.modified = OffsetDateTime::now_utc();
        }
        Ok(())
    }

    /// ListModelInvocationJobs with its filters, sort and paging.
    pub fn list(&self, q: &HashMap<String, String>) -> Result<Value, BedrockError> {
        let status = q.get("statusEquals");
        if let Some(s) = status {
            constraints::one_of("statusEquals", s, &STATUSES)?;
        }
        let name = q.get("nameContains");
        if let Some(n) = name {
            constraints::length("nameContains", n, 1, 63)?;
        }
        let after = time_param(q, "submitTimeAfter")?;
        let before = time_param(q, "submitTimeBefore")?;
        if let Some(s) = q.get("sortBy") {
            constraints::one_of("sortBy", s, &["CreationTime"])?;
        }
        let ascending = match q.get("sortOrder") {
            None => false,
            Some(s) => {
                constraints::one_of("sortOrder", s, &["Ascending", "Descending"])?;
                s == "Ascending"
            }
        };
        let max = constraints::max_results(q.get("maxResults").map(String::as_str), 1000)?;
        let start = paging::start(q)?;
        let inner = self.lock()?;
        let mut jobs: Vec<&Job> = inner
            .jobs
            .iter()
            .filter(|j| status.is_none_or(|s| j.status.as_str() == s))
            .filter(|j| name.is_none_or(|n| j.req.name.contains(n.as_str())))
            .filter(|j| after.is_none_or(|t| j.submit > t))
            .filter(|j| before.is_none_or(|t| j.submit < t))
            .collect();
        // Creation order breaks ties between equal timestamps.
        if !ascending {
            jobs.reverse();
        }
        Ok(paging::page(
            &jobs,
            start,
            max,
            "invocationJobSummaries",
            |x| x.json(),
        ))
    }

    /// Moves a job on to `next`, unless a stop was asked: then it ends Stopped and the
    /// lifecycle ends (false).
    fn advance(&self, id: &str, next: Status, message: Option<String>) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        let Some(job) = inner.find_mut(id) else {
            return false;
        };
        let now = OffsetDateTime::now_utc();
        job.modified = now;
        if job.status == Status::Stopping {
            job.status = Status::Stopped;
            job.end = Some(now);
            return false;
        }
        job.status = next;
        if message.is_some() {
            job.message = message;
        }
        if next.is_final() {
            job.end = Some(now);
        }
        true
    }

    fn set_totals(&self, id: &str, totals: Totals) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some(job) = inner.find_mut(id)
        {
            job.totals = Some(totals);
        }
    }
}

fn time_param(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<Option<OffsetDateTime>, BedrockError> {
    match q.get(key) {
        None => Ok(None),
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|_| {
                BedrockError::Validation(format!(
                    "The value {s} for {key} is not a valid timestamp."
                ))
            }),
    }
}
