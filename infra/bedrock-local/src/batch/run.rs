//! One job's lifecycle: a step (`--batch-step-ms`) in each of Submitted, Validating,
//! Scheduled and InProgress, then the end state. Validating reads the input from S3 (one
//! `.jsonl` object, or every `.jsonl` under a prefix) and checks Bedrock's quotas; InProgress
//! answers every record and writes `<output>/<jobId>/<file>.out` and `manifest.json.out`.

use std::sync::Arc;

use serde_json::Value;

use super::records::{self, InputFile, Outcome, Totals};
use super::request::CreateJob;
use super::{BatchStore, Invoker, Settings, Status};
use crate::faults;
use crate::models::Model;
use crate::s3::{self, parse_s3_uri};

pub(super) async fn run(
    store: Arc<BatchStore>,
    id: String,
    req: CreateJob,
    model: &'static Model,
    settings: Settings,
    invoker: Invoker,
) {
    tokio::time::sleep(settings.step).await;
    if !store.advance(&id, Status::Validating, None) {
        return;
    }
    let client = store
        .s3
        .get_or_init(|| s3::client(settings.region.clone()))
        .await;
    let files = match read_input(client, &req.input_uri, &settings).await {
        Ok(files) => files,
        Err(message) => {
            store.advance(&id, Status::Failed, Some(message));
            return;
        }
    };
    let total: usize = files.iter().map(|f| f.records.len()).sum();
    store.set_totals(
        &id,
        Totals {
            total: total as u64,
            ..Totals::default()
        },
    );
    if total < settings.min_records {
        let message = format!(
            "The input contains {total} records, fewer than the minimum of {} records per batch inference job.",
            settings.min_records
        );
        store.advance(&id, Status::Failed, Some(message));
        return;
    }
    tokio::time::sleep(settings.step).await;
    if !store.advance(&id, Status::Scheduled, None) {
        return;
    }
    tokio::time::sleep(settings.step).await;
    if !store.advance(&id, Status::InProgress, None) {
        return;
    }
    tokio::time::sleep(settings.step).await;
    let rule = store.failures();
    let mut totals = Totals {
        total: total as u64,
        ..Totals::default()
    };
    let mut outputs = Vec::with_capacity(files.len());
    for file in &files {
        let mut lines = String::new();
        for record in &file.records {
            let position = totals.processed + 1;
            let outcome = rule
                .failure(&record.id, position, model.id, &settings.region)
                .unwrap_or_else(|| answer(model, &record.model_input, &settings, &invoker));
            totals.add(&outcome);
            lines.push_str(&records::line(record, &outcome));
            lines.push('\n');
        }
        outputs.push((format!("{}.out", file.name), lines));
    }
    outputs.push((
        "manifest.json.out".to_string(),
        totals.manifest().to_string(),
    ));
    let written = write_output(client, &req.output_uri, &id, outputs).await;
    store.set_totals(&id, totals);
    let (status, message) = match written {
        Err(message) => (Status::Failed, Some(message)),
        Ok(()) if totals.error == 0 => (Status::Completed, None),
        Ok(()) if totals.success == 0 => (
            Status::Failed,
            Some(format!(
                "All {} records failed; see the error member of each line of the output.",
                totals.error
            )),
        ),
        Ok(()) => (
            Status::PartiallyCompleted,
            Some(format!(
                "{} of {} records failed; see the error member of their lines in the output.",
                totals.error, totals.total
            )),
        ),
    };
    store.advance(&id, status, message);
}

/// A record's answer: a fault marker in its body makes it fail with that fault's error;
/// otherwise the model answers it as InvokeModel would.
fn answer(model: &'static Model, input: &Value, settings: &Settings, invoker: &Invoker) -> Outcome {
    let body = input.to_string();
    match faults::from_body(body.as_bytes()).filter(|f| !f.is_stream()) {
        Some(f) => super::outcome_of(&f.error(model.id, &settings.region)),
        None => invoker(model, input),
    }
}

/// The input files of a job: the object the URI names, or every `.jsonl` under it.
async fn read_input(
    client: &aws_sdk_s3::Client,
    uri: &str,
    settings: &Settings,
) -> Result<Vec<InputFile>, String> {
    let (bucket, key) =
        parse_s3_uri(uri).ok_or_else(|| format!("The input location {uri} is not valid."))?;
    let mut objects = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&key)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| format!("Cannot read the input at {uri}: {}", s3::describe(&e)))?;
        for o in page.contents() {
            if let Some(k) = o.key() {
                objects.push((k.to_string(), o.size().unwrap_or(0).max(0) as u64));
            }
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let chosen: Vec<(String, u64)> = match objects.iter().find(|(k, _)| *k == key) {
        Some(exact) => vec![exact.clone()],
        None => objects
            .into_iter()
            .filter(|(k, _)| {
                k.ends_with(".jsonl") && (key.is_empty() || k.starts_with(&format!("{key}/")))
            })
            .collect(),
    };
    if chosen.is_empty() {
        return Err(format!("No .jsonl input file was found at {uri}."));
    }
    let mut files = Vec::with_capacity(chosen.len());
    for (k, size) in chosen {
        if size > settings.max_file_bytes {
            return Err(format!(
                "The input file s3://{bucket}/{k} is {size} bytes, more than the {} bytes allowed per file.",
                settings.max_file_bytes
            ));
        }
        let name = relative_name(&key, &k);
        let body = client
            .get_object()
            .bucket(&bucket)
            .key(&k)
            .send()
            .await
            .map_err(|e| format!("Cannot read s3://{bucket}/{k}: {}", s3::describe(&e)))?
            .body
            .collect()
            .await
            .map_err(|e| format!("Cannot read s3://{bucket}/{k}: {e}"))?
            .into_bytes();
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| format!("The input file s3://{bucket}/{k} is not UTF-8."))?;
        files.push(records::parse(&name, &text)?);
    }
    Ok(files)
}

/// An input key relative to the URI's key (a single file: its last segment).
fn relative_name(uri_key: &str, key: &str) -> String {
    match key.strip_prefix(&format!("{uri_key}/")) {
        Some(rest) if !uri_key.is_empty() => rest.to_string(),
        _ => key.rsplit('/').next().unwrap_or(key).to_string(),
    }
}

async fn write_output(
    client: &aws_sdk_s3::Client,
    uri: &str,
    job_id: &str,
    outputs: Vec<(String, String)>,
) -> Result<(), String> {
    let (bucket, prefix) =
        parse_s3_uri(uri).ok_or_else(|| format!("The output location {uri} is not valid."))?;
    for (name, body) in outputs {
        let key = if prefix.is_empty() {
            format!("{job_id}/{name}")
        } else {
            format!("{prefix}/{job_id}/{name}")
        };
        client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type("application/jsonl")
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Failed to write output to s3://{bucket}/{key}: {}",
                    s3::describe(&e)
                )
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::relative_name;

    #[test]
    fn output_names_follow_the_input_layout() {
        assert_eq!(relative_name("jobs/a.jsonl", "jobs/a.jsonl"), "a.jsonl");
        assert_eq!(relative_name("jobs", "jobs/x/b.jsonl"), "x/b.jsonl");
        assert_eq!(relative_name("", "c.jsonl"), "c.jsonl");
    }
}
