//! `POST /v1/batches`: every line of the input file becomes a job with the completion window as
//! its deadline. All lines are checked and planned first, so a line that cannot run is a 400
//! naming it and no job is created; then the jobs are recorded (held for a Bedrock batch, or
//! enqueued) and the batch is stored with their IDs.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::{StreamExt, TryStreamExt, stream};
use gateway_jobs::record::now_ms;
use gateway_jobs::submit::{self, Submission};
use gateway_jobs::{JobId, charge};
use inference_core::auth::KeyId;
use inference_core::{CallContext, Gateway, GatewayError};
use serde_json::{Map, Value, json};

use super::input::{self, BatchInput, BatchLine, CHAT_ENDPOINT, line_error};
use super::objects::{BatchMeta, Counts, IdKind, Member, ObjectId};
use super::{Api, BatchesApi, configured};
use crate::compat::error::{CResult, Provider, refuse};
use crate::compat::{json_response, read_json};
use inference_core::clock::unix_seconds;

/// The one completion window (OpenAI's), which is also each line's job deadline.
pub const WINDOW: &str = "24h";

/// Jobs recorded at once.
const CONCURRENCY: usize = 16;

/// `POST /v1/batches`.
pub async fn create(
    State(gw): State<Gateway>,
    Extension(api): Extension<Api>,
    req: Request,
) -> Response {
    let (ctx, _, body) = read_json(&gw, req).await;
    let run = async {
        let api = configured(&api)?;
        start(&gw, api, &ctx, body?).await
    };
    match run.await {
        Ok(r) => r,
        Err(e) => e.into_response(Provider::OpenAi, &ctx.request_id),
    }
}

/// The request's fields.
struct Params {
    input_file_id: ObjectId,
    metadata: Option<Value>,
}

fn params(body: Value) -> CResult<Params> {
    let Value::Object(mut o) = body else {
        return Err(refuse("body", "expected a JSON object"));
    };
    if let Some(k) = o.keys().find(|k| {
        !["input_file_id", "endpoint", "completion_window", "metadata"].contains(&k.as_str())
    }) {
        return Err(refuse(k.as_str(), "unknown field"));
    }
    let input_file_id = match o.remove("input_file_id") {
        Some(Value::String(s)) => ObjectId::parse(IdKind::File, &s)
            .map_err(|_| refuse("input_file_id", format!("no file {s:?}")))?,
        _ => return Err(refuse("input_file_id", "expected a file ID")),
    };
    if o.remove("endpoint") != Some(json!(CHAT_ENDPOINT)) {
        return Err(refuse(
            "endpoint",
            format!("expected {CHAT_ENDPOINT:?} (the only endpoint batches run here)"),
        ));
    }
    if o.remove("completion_window") != Some(json!(WINDOW)) {
        return Err(refuse("completion_window", "expected \"24h\""));
    }
    let metadata = match o.remove("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(Value::Object(check_metadata(m)?)),
        Some(_) => return Err(refuse("metadata", "expected an object of strings")),
    };
    Ok(Params {
        input_file_id,
        metadata,
    })
}

/// OpenAI's rule: at most 16 pairs, keys up to 64 characters, string values up to 512.
fn check_metadata(m: Map<String, Value>) -> CResult<Map<String, Value>> {
    if m.len() > 16 {
        return Err(refuse("metadata", "at most 16 keys"));
    }
    for (k, v) in &m {
        let ok = k.chars().count() <= 64 && v.as_str().is_some_and(|s| s.chars().count() <= 512);
        if !ok {
            return Err(refuse(
                format!("metadata.{k}"),
                "keys up to 64 characters, values strings up to 512",
            ));
        }
    }
    Ok(m)
}

async fn start(
    gw: &Gateway,
    api: &BatchesApi,
    ctx: &CallContext,
    body: Value,
) -> CResult<Response> {
    let p = params(body)?;
    let objects = api.objects(ctx);
    let file = objects
        .file(&p.input_file_id)
        .await
        .map_err(|e| with_param(e, "input_file_id"))?;
    if file.purpose != "batch" {
        return Err(refuse(
            "input_file_id",
            "not a file uploaded with purpose batch",
        ));
    }
    let input = input::parse(gw, &objects.content(&file.id).await?)?;
    let subs = plan_all(gw, api, ctx, &input).await?;
    let id = ObjectId::random(IdKind::Batch);
    let mut plans: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (s, _) in &subs {
        *plans.entry(s.plan.mode.as_str()).or_default() += 1;
    }
    let plans = json!(plans);
    // Futures built first (an async fn per line): the stream then owns them.
    let jobs: Vec<_> = input
        .lines
        .iter()
        .zip(subs)
        .map(|(line, (sub, key_id))| member(api, line, sub, key_id))
        .collect();
    let members = stream::iter(jobs)
        .buffered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    let now = unix_seconds();
    let meta = BatchMeta {
        id,
        input_file_id: file.id,
        endpoint: CHAT_ENDPOINT.into(),
        completion_window: WINDOW.into(),
        metadata: p.metadata,
        model: input.model,
        status: "in_progress".into(),
        created_at: now,
        expires_at: now + 24 * 3600,
        finished_at: None,
        output_file_id: None,
        error_file_id: None,
        counts: Counts {
            total: members.len(),
            ..Counts::default()
        },
        plans,
        members,
    };
    objects.put_batch(&meta).await?;
    tracing::info!(batch_id = meta.id.as_str(), lines = meta.counts.total, plans = %meta.plans, "batch created");
    Ok(json_response(&meta.to_openai(), None))
}

fn with_param(e: GatewayError, param: &str) -> crate::compat::CompatError {
    crate::compat::CompatError {
        error: e,
        param: Some(param.into()),
    }
}

/// Every line checked and planned as `POST /v1/jobs` would (`deadline` = the window), with the
/// caller's key's models and budgets; nothing is recorded yet.
async fn plan_all(
    gw: &Gateway,
    api: &BatchesApi,
    ctx: &CallContext,
    input: &BatchInput,
) -> CResult<Vec<(Submission, Option<KeyId>)>> {
    let batch_on = api.settings.batch.is_some();
    let mut out = Vec::with_capacity(input.lines.len());
    for (i, line) in input.lines.iter().enumerate() {
        let job = json!({"request": line.converse, "deadline": WINDOW});
        let n = i + 1;
        let sub = submit::validate(gw, job, api.settings.url_policy, batch_on)
            .await
            .map_err(|e| line_error(n, e))?;
        let key_id = charge::admit_submission(gw, ctx, &sub)
            .await
            .map_err(|e| line_error(n, e))?;
        out.push((sub, key_id));
    }
    Ok(out)
}

/// One line's job, recorded.
async fn member(
    api: &BatchesApi,
    line: &BatchLine,
    sub: Submission,
    key_id: Option<KeyId>,
) -> Result<Member, GatewayError> {
    let job_id = record_job(api, sub, key_id).await?;
    Ok(Member {
        custom_id: line.custom_id.clone(),
        job_id: job_id.as_str().to_owned(),
        json_tool: line.json_tool.clone(),
    })
}

/// Records one line's job and holds it for a Bedrock batch or enqueues it, as `POST /v1/jobs`
/// does for a submission without an idempotency key. A line whose message cannot be sent is
/// marked failed (`enqueue_failed`) and ends in the error file.
async fn record_job(
    api: &BatchesApi,
    sub: Submission,
    key_id: Option<KeyId>,
) -> Result<JobId, GatewayError> {
    let record = submit::record_new(&api.store, sub, key_id, now_ms()).await?;
    // A job planned for Bedrock batch waits for its group, not for the queue.
    let queued = !record.is_batch_planned();
    let id = record.job_id;
    if queued {
        submit::enqueue_or_mark_failed(&api.store, &api.queue, &id, "the job could not be queued")
            .await;
    }
    Ok(id)
}
