//! What the moto tests of Bedrock batch share (`batch_moto`, `openai_batches_moto`): the
//! configuration read from the harness's jobs environment, this function's state with its
//! batch driver pointed at bedrock-local, and the SQS event Lambda would build from the jobs
//! queue's messages (`JobsAws::receive_jobs`).

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
