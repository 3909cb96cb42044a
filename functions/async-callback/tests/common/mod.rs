//! What the moto tests of Bedrock batch share (`batch_moto`, `openai_batches_moto`): the
//! configuration read from the harness's jobs environment, this function's state with its
//! batch driver pointed at bedrock-local, and the jobs queue read as Lambda's SQS trigger would.

use async_callback::batch::BatchWorker;
use async_callback::inbox::InboxSettings;
use async_callback::jobs::JobsWorker;
use async_callback::storage::Storage;
use async_callback::{GatewayRunner, State};
use gateway_jobs::queue::JobQueue;
use gateway_jobs::results::ResultStore;
use gateway_jobs::url_guard::UrlPolicy;
use gateway_jobs::webhook::{WebhookSecret, WebhookSender};
use gateway_jobs::{JobStore, JobsSettings};
use gateway_tests::Emulator;
use gateway_tests::jobs::{Env, JOBS_TABLE, JobsAws, RESULTS_BUCKET};
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use serde_json::{Value, json};

/// The gateway (calling `emulator`) and the jobs settings a deployment with `env` reads.
pub fn gateway(env: &Env, emulator: &Emulator) -> (Gateway, JobsSettings) {
    let config = Config::from_lookup(|k| env.lookup(k)).expect("configuration");
    let settings = JobsSettings::from_lookup(&config, |k| env.lookup(k))
        .expect("jobs settings")
        .expect("jobs configured");
    let catalog = Catalog::load(&config).expect("catalog");
    let client = BedrockClient::for_endpoint(&config, &emulator.url);
    (Gateway::new(config, catalog, client), settings)
}

/// async-callback's state over `aws`: the jobs worker, its batch driver calling `emulator`'s
/// control plane, webhooks to loopback signed with `secret`.
pub fn worker_state(
    aws: &JobsAws,
    emulator: &Emulator,
    gateway: &Gateway,
    settings: &JobsSettings,
    secret: Option<WebhookSecret>,
) -> State {
    let sdk = &aws.sdk;
    let bedrock = aws_sdk_bedrock::Client::from_conf(
        aws_sdk_bedrock::config::Builder::from(sdk)
            .endpoint_url(&emulator.url)
            .build(),
    );
    State {
        runner: Box::new(GatewayRunner(gateway.clone())),
        storage: Storage::new(sdk),
        inbox: InboxSettings::default(),
        jobs: Some(JobsWorker {
            store: JobStore::new(sdk, JOBS_TABLE),
            results: ResultStore::new(sdk, RESULTS_BUCKET),
            webhooks: WebhookSender::new(UrlPolicy::local_development(true), secret),
            max_receive_count: 3,
            batch: Some(BatchWorker {
                settings: settings.batch.clone().expect("batch on"),
                bedrock,
                queue: JobQueue::new(sdk, &aws.queue_url),
            }),
        }),
    }
}

/// One receive from the jobs queue: up to 10 messages, hidden for a second (so an undeleted one
/// comes back quickly, as a failed SQS delivery would).
pub async fn receive(aws: &JobsAws) -> Vec<aws_sdk_sqs::types::Message> {
    aws_sdk_sqs::Client::new(&aws.sdk)
        .receive_message()
        .queue_url(&aws.queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(1)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
}

/// The SQS event that delivers each of `messages` `copies` times (as SQS redelivery can); copy
/// `c` of message `id` has the message ID `{id}-{c}`, which `batchItemFailures` names.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], copies: usize) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .flat_map(|m| {
            (0..copies).map(move |c| {
                json!({
                    "eventSource": "aws:sqs",
                    "messageId": format!("{}-{c}", m.message_id().unwrap_or("")),
                    "body": m.body().unwrap_or(""),
                    "attributes": {"ApproximateReceiveCount": "1"},
                })
            })
        })
        .collect();
    json!({"Records": records})
}

/// Acknowledges `message` (what Lambda does for a record not reported as failed).
pub async fn delete(aws: &JobsAws, message: &aws_sdk_sqs::types::Message) {
    aws_sdk_sqs::Client::new(&aws.sdk)
        .delete_message()
        .queue_url(&aws.queue_url)
        .receipt_handle(message.receipt_handle().unwrap_or(""))
        .send()
        .await
        .expect("delete");
}
