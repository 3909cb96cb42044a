//! `GET /v1/batches/{id}` and `GET /v1/batches`: a batch is read back from its jobs. While any
//! is unfinished the answer counts them; once all are finished (or the window has passed) the
//! output file (one line per answered request, OpenAI's shape) and the error file (one per
//! failed request) are written and the batch is stored as finished. Two readers finishing at
//! once write the same files under the same IDs, so the result is the same.

use axum::Extension;
use axum::extract::Path;
use axum::response::Response;
use futures_util::{StreamExt, TryStreamExt, stream};
use gateway_jobs::{JobId, JobRecord, JobStatus};
use inference_core::GatewayError;
use inference_core::web::Ctx;
use serde_json::{Value, json};

use super::objects::{BatchMeta, Counts, FileMeta, IdKind, Member, ObjectId, Objects};
use super::{Api, BatchesApi, configured};
use crate::compat::json_response;
use crate::compat::openai::to_openai;
use inference_core::clock::unix_seconds;

/// Job records read at once.
const CONCURRENCY: usize = 16;

/// `GET /v1/batches/{id}`.
pub async fn get(
    Extension(api): Extension<Api>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let api = configured(&api)?;
    let id = ObjectId::parse(IdKind::Batch, &id)?;
    let objects = api.objects(&ctx);
    let meta = refresh(api, &objects, objects.batch(&id).await?).await?;
    Ok(json_response(&meta.to_openai(), None))
}

/// `GET /v1/batches`: the caller's batches, newest first, as last read (the list does not read
/// their jobs; `GET /v1/batches/{id}` does).
pub async fn list(Extension(api): Extension<Api>, Ctx(ctx): Ctx) -> Result<Response, GatewayError> {
    let api = configured(&api)?;
    let objects = api.objects(&ctx);
    let mut metas = Vec::new();
    for id in objects.batch_ids().await? {
        metas.push(objects.batch(&id).await?);
    }
    metas.sort_by_key(|m| std::cmp::Reverse(m.created_at));
    let data: Vec<Value> = metas.iter().map(BatchMeta::to_openai).collect();
    let body = json!({
        "object": "list",
        "first_id": metas.first().map(|m| m.id.as_str()),
        "last_id": metas.last().map(|m| m.id.as_str()),
        "has_more": false,
        "data": data,
    });
    Ok(json_response(&body, None))
}

/// The batch as its jobs stand; finished (and stored) when they all are.
pub async fn refresh(
    api: &BatchesApi,
    objects: &Objects,
    mut meta: BatchMeta,
) -> Result<BatchMeta, GatewayError> {
    if meta.status != "in_progress" {
        return Ok(meta);
    }
    let reads: Vec<_> = meta.members.iter().map(|m| record(api, m)).collect();
    let records: Vec<Option<JobRecord>> = stream::iter(reads)
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let status = |s: JobStatus| {
        records
            .iter()
            .filter(|r| r.as_ref().is_some_and(|r| r.status == s))
            .count()
    };
    meta.counts = Counts {
        total: meta.members.len(),
        completed: status(JobStatus::Succeeded),
        failed: status(JobStatus::Failed),
    };
    let unfinished = meta.counts.total - meta.counts.completed - meta.counts.failed;
    let expired = unix_seconds() >= meta.expires_at;
    if unfinished > 0 && !expired {
        return Ok(meta);
    }
    finish(objects, &mut meta, &records, unfinished > 0).await?;
    objects.put_batch(&meta).await?;
    tracing::info!(batch_id = meta.id.as_str(), status = %meta.status, completed = meta.counts.completed, failed = meta.counts.failed, "batch finished");
    Ok(meta)
}

/// A line's job record (`None`: gone).
async fn record(api: &BatchesApi, m: &Member) -> Result<Option<JobRecord>, GatewayError> {
    match JobId::parse(&m.job_id) {
        Ok(id) => api.store.get(&id).await,
        Err(_) => Ok(None),
    }
}

/// Writes the output and error files and marks the batch finished.
async fn finish(
    objects: &Objects,
    meta: &mut BatchMeta,
    records: &[Option<JobRecord>],
    expired: bool,
) -> Result<(), GatewayError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (m, r) in meta.members.iter().zip(records) {
        match line(objects, m, r.as_ref()).await? {
            Ok(v) => out.push(v),
            Err(v) => errors.push(v),
        }
    }
    meta.counts.completed = out.len();
    meta.counts.failed = errors.len();
    meta.output_file_id = write(objects, meta, "output", &out).await?;
    meta.error_file_id = write(objects, meta, "errors", &errors).await?;
    meta.status = if expired { "expired" } else { "completed" }.into();
    meta.finished_at = Some(unix_seconds());
    Ok(())
}

/// One output line (`Ok`) or error line (`Err`) in OpenAI's shape, plus the gateway's `job_id`
/// and `plan` (how the line ran, and why).
async fn line(
    objects: &Objects,
    m: &Member,
    r: Option<&JobRecord>,
) -> Result<Result<Value, Value>, GatewayError> {
    let id = format!("batch_req_{}", m.job_id.trim_start_matches("job_"));
    let plan = r
        .and_then(|r| r.plan.as_ref())
        .and_then(|p| serde_json::to_value(p).ok());
    let error = |code: &str, message: &str| {
        json!({
            "id": id, "custom_id": m.custom_id, "response": null,
            "error": {"code": code, "message": message},
            "job_id": m.job_id, "plan": plan,
        })
    };
    let Some(r) = r else {
        return Ok(Err(error("job_missing", "the request's job was not found")));
    };
    match r.status {
        JobStatus::Succeeded => {}
        JobStatus::Failed => {
            let (code, message) = r
                .error
                .as_ref()
                .map_or(("failed", "the request failed"), |e| {
                    (e.error_type.as_str(), e.message.as_str())
                });
            return Ok(Err(error(code, message)));
        }
        _ => {
            return Ok(Err(error(
                "batch_expired",
                "this request was not finished within the batch's completion window (its job may still finish: GET /v1/jobs/{job_id})",
            )));
        }
    }
    let answer = match &r.result_key {
        Some(key) => objects.result(key).await?,
        None => None,
    };
    let Some(answer) = answer.and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return Ok(Err(error(
            "result_missing",
            "the request's result object was not found",
        )));
    };
    let body = to_openai(&answer, m.json_tool.as_deref(), &m.job_id);
    Ok(Ok(json!({
        "id": id,
        "custom_id": m.custom_id,
        "response": {"status_code": 200, "request_id": m.job_id, "body": body},
        "error": null,
        "job_id": m.job_id,
        "plan": plan,
    })))
}

/// Stores `lines` as the batch's `which` file (`None`, and nothing written, when empty).
async fn write(
    objects: &Objects,
    meta: &BatchMeta,
    which: &str,
    lines: &[Value],
) -> Result<Option<ObjectId>, GatewayError> {
    if lines.is_empty() {
        return Ok(None);
    }
    let mut content = Vec::new();
    for l in lines {
        content.extend_from_slice(l.to_string().as_bytes());
        content.push(b'\n');
    }
    let file = FileMeta {
        id: ObjectId::derived(IdKind::File, &format!("{}-{which}", meta.id.suffix())),
        bytes: content.len() as u64,
        created_at: unix_seconds(),
        filename: format!("{}_{which}.jsonl", meta.id.as_str()),
        purpose: "batch_output".into(),
    };
    objects.put_file(&file, content).await?;
    Ok(Some(file.id))
}
