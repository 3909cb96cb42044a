//! S3 `inbox/` objects against moto's S3 and DynamoDB (docs/jobs.md, "S3 inbox"): per-line
//! checkpoints in the jobs table make a re-delivered S3 event run no line twice, and a run cut
//! off after k lines resume at line k+1; an object over the size cap gets one error line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_callback::handler::{Answer, RunFuture};
use async_callback::inbox::InboxSettings;
use async_callback::jobs::JobsWorker;
use async_callback::storage::Storage;
use async_callback::{Runner, State, handle};
use gateway_jobs::JobStore;
use gateway_jobs::results::ResultStore;
use gateway_jobs::url_guard::UrlPolicy;
use gateway_jobs::webhook::WebhookSender;
use gateway_tests::Moto;
use gateway_tests::jobs::{JOBS_TABLE, create_jobs_table};
use inference_core::CallContext;
use serde_json::{Value, json};

const BUCKET: &str = "gateway-results";

/// Counts model calls (what would be billed); never returns from call number `hang_at`, like
/// an invocation that dies there.
struct CountingRunner {
    calls: Arc<AtomicUsize>,
    hang_at: Option<usize>,
}

impl Runner for CountingRunner {
    fn converse<'a>(&'a self, request: Value, _ctx: &'a CallContext) -> RunFuture<'a, Answer> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let hang = self.hang_at == Some(n);
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Ok(Answer::untyped(json!({
                "echo": request["messages"][0]["content"][0]["text"],
                "call": n,
            })))
        })
    }
}

struct Fixture {
    _moto: Moto,
    sdk: aws_config::SdkConfig,
}

async fn fixture() -> Fixture {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    create_jobs_table(&sdk).await;
    s3(&sdk)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    Fixture { _moto: moto, sdk }
}

fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl Fixture {
    fn state(&self, runner: CountingRunner, inbox: InboxSettings) -> State {
        State {
            runner: Box::new(runner),
            storage: Storage::new(&self.sdk),
            jobs: Some(JobsWorker {
                store: JobStore::new(&self.sdk, JOBS_TABLE),
                results: ResultStore::new(&self.sdk, BUCKET),
                webhooks: WebhookSender::new(UrlPolicy::default(), None),
                max_receive_count: 3,
                batch: None,
            }),
            inbox,
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        s3(&self.sdk)
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put");
    }

    async fn outbox(&self, key: &str) -> Vec<Value> {
        let out = s3(&self.sdk)
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("outbox object");
        let bytes = out.body.collect().await.unwrap().into_bytes();
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A direct S3 ObjectCreated event for `key`.
fn event(key: &str) -> Value {
    json!({"Records": [{
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}},
    }]})
}

fn batch(lines: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 1..=lines {
        out.push_str(
            &json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": format!("line {i}")}]}]})
                .to_string(),
        );
        out.push('\n');
    }
    out.push_str("not json\n");
    out.into_bytes()
}

fn counting(hang_at: Option<usize>) -> (CountingRunner, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let runner = CountingRunner {
        calls: calls.clone(),
        hang_at,
    };
    (runner, calls)
}

#[tokio::test]
async fn the_same_s3_event_delivered_twice_runs_each_line_once() {
    let f = fixture().await;
    f.put("inbox/twice.jsonl", batch(3)).await;
    let (runner, calls) = counting(None);
    let state = f.state(runner, InboxSettings::default());
    let ctx = CallContext::new("async-callback");
    handle(&state, event("inbox/twice.jsonl"), &ctx)
        .await
        .unwrap();
    let first = f.outbox("outbox/twice.jsonl").await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    handle(&state, event("inbox/twice.jsonl"), &ctx)
        .await
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the second delivery ran nothing"
    );
    let second = f.outbox("outbox/twice.jsonl").await;
    assert_eq!(second, first, "the same outbox, no line twice");
    let lines: Vec<u64> = second.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![1, 2, 3, 4]);
    assert_eq!(second[3]["error"]["type"], "invalid_request");

    // A new upload under the same key is a new version: it runs afresh.
    f.put("inbox/twice.jsonl", batch(2)).await;
    handle(&state, event("inbox/twice.jsonl"), &ctx)
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(f.outbox("outbox/twice.jsonl").await.len(), 3);
}

#[tokio::test]
async fn a_run_cut_off_after_k_lines_resumes_at_line_k_plus_1() {
    let f = fixture().await;
    f.put("inbox/cut.jsonl", batch(4)).await;
    // The first run dies in line 3's model call (k = 2 lines done); its lease ends with its
    // invocation's deadline.
    let (runner, calls) = counting(Some(3));
    let state = f.state(runner, InboxSettings::default());
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3_000;
    let ctx = CallContext::new("async-callback").with_deadline_epoch_ms(deadline);
    let cut = tokio::time::timeout(
        Duration::from_millis(800),
        handle(&state, event("inbox/cut.jsonl"), &ctx),
    )
    .await;
    assert!(cut.is_err(), "the first run hangs in line 3");
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // While that lease lives, another delivery leaves line 3 to it and comes back later.
    let (runner, resumed_calls) = counting(None);
    let state = f.state(runner, InboxSettings::default());
    let ctx = CallContext::new("async-callback");
    let busy = handle(&state, event("inbox/cut.jsonl"), &ctx)
        .await
        .unwrap_err();
    assert!(busy.to_string().contains("will be retried"), "{busy}");
    // Line 4 ran meanwhile (no one held it); lines 1-2 came from their checkpoints.
    assert_eq!(resumed_calls.load(Ordering::SeqCst), 1);

    // Past the dead run's deadline, its lease has ended.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    handle(&state, event("inbox/cut.jsonl"), &ctx)
        .await
        .unwrap();
    assert_eq!(
        resumed_calls.load(Ordering::SeqCst),
        2,
        "only line 3 ran again"
    );
    let out = f.outbox("outbox/cut.jsonl").await;
    let lines: Vec<u64> = out.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![1, 2, 3, 4, 5]);
    // Lines 1 and 2 are the first run's answers (calls 1 and 2), not new calls.
    assert_eq!(out[0]["response"]["call"], 1);
    assert_eq!(out[1]["response"]["call"], 2);
    assert_eq!(out[2]["response"]["echo"], "line 3");
}

#[tokio::test]
async fn an_object_over_the_size_cap_gets_one_error_line_and_runs_nothing() {
    let f = fixture().await;
    let body = batch(3);
    let size = body.len();
    f.put("inbox/big.jsonl", body).await;
    let (runner, calls) = counting(None);
    let state = f.state(runner, InboxSettings { max_bytes: 100 });
    handle(
        &state,
        event("inbox/big.jsonl"),
        &CallContext::new("async-callback"),
    )
    .await
    .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let out = f.outbox("outbox/big.jsonl").await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["ok"], false);
    assert_eq!(out[0]["error"]["type"], "payload_too_large");
    let message = out[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains(&size.to_string()) && message.contains("GATEWAY_INBOX_MAX_BYTES"));
}
