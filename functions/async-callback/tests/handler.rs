//! Handler tests: recorded SQS and S3 events in, responses checked.
//!
//! The full path (moto's S3, bedrock-local, the bridge) is covered end to end in
//! `tests/python/test_async_inbox_e2e.py`; here the event handling itself is pinned down.

use std::sync::Mutex;

use async_callback::handler::{Answer, RunFuture};
use async_callback::storage::Storage;
use async_callback::{Runner, State, handle};
use inference_core::{CallContext, GatewayError};
use serde_json::Value;

/// Records what it was asked to run; the tests below must not reach it.
struct RecordingRunner(Mutex<Vec<Value>>);

impl Runner for RecordingRunner {
    fn converse<'a>(&'a self, request: Value, _ctx: &'a CallContext) -> RunFuture<'a, Answer> {
        self.0.lock().unwrap().push(request);
        Box::pin(async { Err(GatewayError::internal("not expected in this test")) })
    }
}

/// S3 pointed at a loopback port nobody listens on: every storage call fails fast.
async fn unreachable_storage() -> Storage {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(inference_core::sdk_http::https_client())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    Storage::new(&sdk)
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

async fn state() -> State {
    State {
        runner: Box::new(RecordingRunner(Mutex::new(Vec::new()))),
        storage: unreachable_storage().await,
        jobs: None,
        inbox: Default::default(),
    }
}

#[tokio::test]
async fn sqs_batch_reports_only_the_messages_that_failed() {
    let state = state().await;
    let ctx = CallContext::new("async-callback");
    let response = handle(&state, fixture("sqs-s3-notifications.json"), &ctx)
        .await
        .expect("an SQS batch always gets a partial batch response");
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    // The s3:TestEvent is acknowledged; the notification whose object cannot be read (storage is
    // unreachable here) and the message nobody understands both come back to the queue.
    assert_eq!(
        failed,
        vec![
            "0b6c9a1e-5b7d-4e6f-8a9b-2c3d4e5f6a02",
            "059f36b4-87a3-44ab-83d2-661975830a7d"
        ]
    );
}

#[tokio::test]
async fn direct_s3_event_fails_the_invocation_when_the_object_cannot_be_read() {
    let state = state().await;
    let ctx = CallContext::new("async-callback");
    let err = handle(&state, fixture("s3-object-created-inbox.json"), &ctx)
        .await
        .expect_err("Lambda must retry the S3 event");
    let message = err.to_string();
    assert!(
        message.contains("s3://gateway-results/inbox/batch-2026-11-26.jsonl"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_events_are_refused_not_ignored() {
    let state = state().await;
    let ctx = CallContext::new("async-callback");
    let err = handle(&state, serde_json::json!({"hello": "world"}), &ctx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unsupported event"));
}

#[tokio::test]
async fn job_messages_without_a_jobs_configuration_come_back_rather_than_vanish() {
    let state = state().await;
    let ctx = CallContext::new("async-callback");
    let response = handle(&state, fixture("sqs-job-messages.json"), &ctx)
        .await
        .expect("an SQS batch always gets a partial batch response");
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    // Both job messages (first and last delivery) and the malformed pointer are reported: with no
    // table to consult nothing may be acknowledged, so they end in the DLQ, not lost.
    assert_eq!(
        failed,
        vec![
            "7d3f2c1a-0b4e-4f5a-9c6d-1e2f3a4b5c01",
            "7d3f2c1a-0b4e-4f5a-9c6d-1e2f3a4b5c02",
            "7d3f2c1a-0b4e-4f5a-9c6d-1e2f3a4b5c03"
        ]
    );
}

#[tokio::test]
async fn job_messages_reach_the_job_store_and_its_failure_brings_them_back() {
    use async_callback::jobs::JobsWorker;
    use gateway_jobs::JobStore;
    use gateway_jobs::results::ResultStore;
    use gateway_jobs::url_guard::UrlPolicy;
    use gateway_jobs::webhook::WebhookSender;

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(inference_core::sdk_http::https_client())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let mut state = state().await;
    state.jobs = Some(JobsWorker {
        store: JobStore::new(&sdk, "gateway-jobs"),
        results: ResultStore::new(&sdk, "gateway-results"),
        webhooks: WebhookSender::new(UrlPolicy::default(), None),
        max_receive_count: 3,
        batch: None,
    });
    let ctx = CallContext::new("async-callback");
    let response = handle(&state, fixture("sqs-job-messages.json"), &ctx)
        .await
        .unwrap();
    // The store is unreachable: the two job messages come back (the runner was never asked to
    // run anything); the malformed pointer is not a job and comes back as unknown.
    assert_eq!(response["batchItemFailures"].as_array().unwrap().len(), 3);
}
