//! The jobs table as template.yaml declares it (`job_id`, sparse index `by-idempotency-key`),
//! for the Rust tests of invoke's jobs API and async-callback's inbox checkpoints; with the
//! results bucket and the jobs queue ([`JobsAws`]), and bedrock-local running batch jobs, for
//! the tests that submit and run jobs.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::{Emulator, Moto};

/// The jobs table's name in tests (`GATEWAY_JOBS_TABLE`).
pub const JOBS_TABLE: &str = "gateway-jobs";

/// Creates the jobs table.
pub async fn create_jobs_table(sdk: &aws_config::SdkConfig) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let hash = |n: &str| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(KeyType::Hash)
            .build()
            .expect("key schema element")
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(JOBS_TABLE)
        .attribute_definitions(attr("job_id"))
        .attribute_definitions(attr("idempotency_key"))
        .key_schema(hash("job_id"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-idempotency-key")
                .key_schema(hash("idempotency_key"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("idempotency index"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("jobs table");
}

/// The results bucket's name in tests (`GATEWAY_RESULTS_BUCKET`).
pub const RESULTS_BUCKET: &str = "gateway-results";
/// The jobs queue's name in tests.
pub const JOBS_QUEUE: &str = "gateway-jobs";
/// The batch role tests configure (`GATEWAY_BATCH_ROLE_ARN`); bedrock-local does not check it.
pub const BATCH_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/gateway-batch";

/// Moto with what the jobs machinery writes to, as template.yaml declares it: the jobs table,
/// the results bucket and the jobs queue. The setup of every Rust test that submits or runs jobs.
pub struct JobsAws {
    /// The server (stopped when this is dropped).
    pub moto: Moto,
    /// An SDK configuration pointed at it.
    pub sdk: aws_config::SdkConfig,
    /// The jobs queue (`GATEWAY_JOBS_QUEUE_URL`).
    pub queue_url: String,
}

impl JobsAws {
    /// Starts moto and creates the table, the bucket and the queue.
    pub async fn start() -> JobsAws {
        let moto = Moto::start();
        let sdk = moto.sdk().await;
        create_jobs_table(&sdk).await;
        aws_sdk_s3::Client::new(&sdk)
            .create_bucket()
            .bucket(RESULTS_BUCKET)
            .send()
            .await
            .expect("results bucket");
        let queue_url = aws_sdk_sqs::Client::new(&sdk)
            .create_queue()
            .queue_name(JOBS_QUEUE)
            .send()
            .await
            .expect("jobs queue")
            .queue_url
            .expect("jobs queue url");
        JobsAws {
            moto,
            sdk,
            queue_url,
        }
    }

    /// [`jobs_env`] for this moto's queue.
    pub fn env(&self, extra: &[(&str, &str)]) -> Env {
        jobs_env(&self.queue_url, false, extra)
    }

    /// [`jobs_env`] for this moto's queue, with Bedrock batch on.
    pub fn batch_env(&self, extra: &[(&str, &str)]) -> Env {
        jobs_env(&self.queue_url, true, extra)
    }

    /// One receive from the jobs queue: up to 10 messages, hidden for a second (so one not
    /// acknowledged comes back quickly, as after a failed SQS delivery).
    pub async fn receive_jobs(&self) -> Vec<aws_sdk_sqs::types::Message> {
        aws_sdk_sqs::Client::new(&self.sdk)
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(1)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default()
    }

    /// Deletes `message` from the jobs queue (what Lambda does for a record not reported as
    /// failed).
    pub async fn acknowledge(&self, message: &aws_sdk_sqs::types::Message) {
        aws_sdk_sqs::Client::new(&self.sdk)
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(message.receipt_handle().unwrap_or(""))
            .send()
            .await
            .expect("delete");
    }

    /// bedrock-local running batch jobs quickly (a 30 ms step, at least [`BATCH_MIN_RECORDS`]
    /// records), their input and output in this moto's S3.
    pub fn batch_emulator(&self) -> Emulator {
        let min = BATCH_MIN_RECORDS.to_string();
        Emulator::start_with_env(
            &["--batch-step-ms", "30", "--batch-min-records", &min],
            &[
                ("AWS_ENDPOINT_URL_S3", self.moto.url.as_str()),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
            ],
        )
    }
}

/// The smallest Bedrock batch, in the gateway's settings and in bedrock-local alike.
pub const BATCH_MIN_RECORDS: u32 = 100;

/// A deployment's environment variables, read by `lookup` as the functions read theirs.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    /// The value of `key`, as `std::env::var(key).ok()` would be.
    pub fn lookup(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

/// The environment of a deployment with jobs (region, table, bucket, `queue_url`; no metrics;
/// with `batch`, Bedrock batch from [`BATCH_MIN_RECORDS`] records), then `extra`, which wins.
pub fn jobs_env(queue_url: &str, batch: bool, extra: &[(&str, &str)]) -> Env {
    let min = BATCH_MIN_RECORDS.to_string();
    let base = [
        ("AWS_REGION", "us-east-1"),
        ("GATEWAY_METRICS", "false"),
        ("GATEWAY_JOBS_TABLE", JOBS_TABLE),
        ("GATEWAY_RESULTS_BUCKET", RESULTS_BUCKET),
        ("GATEWAY_JOBS_QUEUE_URL", queue_url),
    ];
    let batch_vars = [
        ("GATEWAY_BATCH_ROLE_ARN", BATCH_ROLE_ARN),
        ("GATEWAY_BATCH_MIN_RECORDS", min.as_str()),
    ];
    let batch_vars = if batch { &batch_vars[..] } else { &[] };
    Env(base
        .iter()
        .chain(batch_vars)
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_environment_takes_batch_and_extras_last() {
        let plain = jobs_env(
            "http://q",
            false,
            &[("GATEWAY_METRICS", "true"), ("X", "1")],
        );
        assert_eq!(
            plain.lookup("GATEWAY_JOBS_QUEUE_URL").as_deref(),
            Some("http://q")
        );
        assert_eq!(plain.lookup("GATEWAY_METRICS").as_deref(), Some("true"));
        assert_eq!(plain.lookup("X").as_deref(), Some("1"));
        assert_eq!(plain.lookup("GATEWAY_BATCH_ROLE_ARN"), None);
        let batch = jobs_env("http://q", true, &[]);
        assert_eq!(
            batch.lookup("GATEWAY_BATCH_MIN_RECORDS").as_deref(),
            Some("100")
        );
        assert_eq!(
            batch.lookup("GATEWAY_BATCH_ROLE_ARN").as_deref(),
            Some(BATCH_ROLE_ARN)
        );
    }
}
