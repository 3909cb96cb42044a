//! OpenAI batches (issue 23 item 3) through the local stack: files uploaded and batches created
//! on stream-url's router with API keys (moto's DynamoDB), each line a job planned by the
//! planner; the lines run by this function's batch driver against bedrock-local's batch jobs
//! (their records in moto's S3) and, for records that fail there, on demand through the jobs
//! queue (moto's SQS); the output and error files read back in OpenAI's shape.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_callback::{State, handle};
use axum::body::Body;
use gateway_stores::auth::KeyStore;
use gateway_tests::Emulator;
use gateway_tests::jobs::{JobsAws, RESULTS_BUCKET};
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use http_body_util::BodyExt;
use inference_core::CallContext;
use inference_core::auth::{AuthMode, AuthSettings, KeyHeaders, Limits};
use serde_json::{Value, json};
use stream_url::batches::BatchesApi;
use tower::ServiceExt;

const LINES: usize = 120;

struct Stack {
    aws: JobsAws,
    _emulator: Emulator,
    app: axum::Router,
    state: State,
    keys: KeyStore,
}

async fn stack() -> Stack {
    let aws = JobsAws::start().await;
    let sdk = &aws.sdk;
    let emulator = aws.batch_emulator();
    create_key_tables(sdk).await;
    let (gateway, settings) = common::gateway(&aws.batch_env(&[]), &emulator);
    let auth = AuthSettings {
        mode: AuthMode::ApiKey,
        keys_table: Some(KEYS_TABLE.into()),
        usage_table: Some(USAGE_TABLE.into()),
        cache_ttl: Duration::ZERO,
        key_headers: KeyHeaders::Both,
        default_max_streams: None,
    };
    let gateway = gateway.with_auth(gateway_stores::auth::from_settings(sdk, &auth));
    let api = BatchesApi::new(sdk, settings.clone()).map(Arc::new);
    let app = stream_url::router_with(gateway.clone(), api);
    let state = common::worker_state(&aws, &emulator, &gateway, &settings, None);
    let keys = KeyStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        KEYS_TABLE,
        Duration::ZERO,
    );
    Stack {
        aws,
        _emulator: emulator,
        app,
        state,
        keys,
    }
}

/// A response: status and body text.
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

fn ctx() -> CallContext {
    CallContext::new("async-callback")
}

/// One chat line for `model`.
fn line(id: &str, model: &str, text: &str) -> Value {
    json!({
        "custom_id": id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "max_tokens": 60, "messages": [{"role": "user", "content": text}]},
    })
}

fn jsonl(lines: &[Value]) -> Vec<u8> {
    lines
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

fn form(purpose: &str, file: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "--BOUNDARY\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n"
    )
    .into_bytes();
    b.extend_from_slice(file);
    b.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
    b
}

impl Stack {
    async fn key(&self) -> String {
        self.keys
            .issue("team", vec![], false, Limits::default())
            .await
            .expect("key")
            .0
    }

    async fn send(&self, key: &str, method: &str, path: &str, ct: &str, body: Vec<u8>) -> Answer {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", ct)
            .body(Body::from(body))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn upload(&self, key: &str, purpose: &str, file: &[u8]) -> Answer {
        let ct = "multipart/form-data; boundary=BOUNDARY";
        self.send(key, "POST", "/v1/files", ct, form(purpose, file))
            .await
    }

    async fn get(&self, key: &str, path: &str) -> Answer {
        self.send(key, "GET", path, "application/json", vec![])
            .await
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> Answer {
        let body = body.to_string().into_bytes();
        self.send(key, "POST", path, "application/json", body).await
    }

    /// Ticks the batch driver and runs the queue until the batch is no longer in progress.
    async fn run_until_done(&self, key: &str, batch: &str) -> Value {
        let start = Instant::now();
        let schedule =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        loop {
            handle(&self.state, schedule.clone(), &ctx())
                .await
                .expect("tick");
            self.drain_queue().await;
            let b = self.get(key, &format!("/v1/batches/{batch}")).await;
            assert_eq!(b.status, 200, "{}", b.text);
            let b = b.json();
            if b["status"] != "in_progress" {
                return b;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "batch never finished: {b}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every message in the jobs queue, delivered to the handler once, until it is empty.
    async fn drain_queue(&self) {
        loop {
            let messages = self.aws.receive_jobs().await;
            if messages.is_empty() {
                return;
            }
            handle(&self.state, common::sqs_event(&messages, 1), &ctx())
                .await
                .expect("sqs batch");
            for m in &messages {
                self.aws.acknowledge(m).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_files_and_batches_are_400s_naming_the_line_or_field() {
    let s = stack().await;
    let key = s.key().await;
    let ok = line("a", "nova-lite", "hi");
    let cases: Vec<(Vec<Value>, &str)> = vec![
        (
            vec![ok.clone(), line("a", "nova-lite", "again")],
            "line 2: custom_id",
        ),
        (
            vec![ok.clone(), line("b", "haiku", "other model")],
            "line 2: body.model",
        ),
        (
            vec![
                ok.clone(),
                json!({"custom_id": "c", "method": "POST", "url": "/v1/embeddings", "body": {}}),
            ],
            "line 2: url",
        ),
        (
            vec![
                json!({"custom_id": "d", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "nova-lite", "messages": [{"role": "user", "content": "x"}], "seed": 7}}),
            ],
            "line 1: body.seed",
        ),
        (
            vec![
                json!({"custom_id": "e", "method": "GET", "url": "/v1/chat/completions", "body": {}}),
            ],
            "line 1: method",
        ),
        (vec![], "file"),
    ];
    for (lines, param) in cases {
        let r = s.upload(&key, "batch", &jsonl(&lines)).await;
        assert_eq!(r.status, 400, "{param}: {}", r.text);
        let e = r.json();
        assert_eq!(e["error"]["param"], param, "{}", r.text);
        assert_eq!(e["error"]["type"], "invalid_request_error", "{}", r.text);
    }
    let r = s
        .upload(&key, "batch", b"{\"custom_id\": \"x\"\nnot json\n")
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error"]["param"], "line 1", "{}", r.text);
    let r = s
        .upload(&key, "fine-tune", &jsonl(std::slice::from_ref(&ok)))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error"]["param"], "purpose");
    let r = s
        .send(
            &key,
            "POST",
            "/v1/files",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);

    let file = s.upload(&key, "batch", &jsonl(&[ok])).await;
    assert_eq!(file.status, 200, "{}", file.text);
    let file_id = file.json()["id"].as_str().unwrap().to_owned();
    for (body, param) in [
        (
            json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "1h"}),
            "completion_window",
        ),
        (
            json!({"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h"}),
            "endpoint",
        ),
        (
            json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h", "metadata": {"k": 1}}),
            "metadata.k",
        ),
        (
            json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h", "priority": 1}),
            "priority",
        ),
    ] {
        let r = s.post(&key, "/v1/batches", body).await;
        assert_eq!(r.status, 400, "{param}: {}", r.text);
        assert_eq!(r.json()["error"]["param"], param, "{}", r.text);
    }
    // Another key sees none of it: the same 404 as for IDs that do not exist.
    let other = s.key().await;
    let r = s.get(&other, &format!("/v1/files/{file_id}")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = s
        .post(&other, "/v1/batches", json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json()["error"]["param"], "input_file_id");
    let r = s.get(&other, "/v1/batches/batch_0123").await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = s.get(&key, &format!("/v1/files/{file_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["purpose"], "batch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_line_is_a_job_and_is_answered_once_in_openai_shape() {
    let s = stack().await;
    let key = s.key().await;
    // Two lines fail in the batch and again on demand: they end in the error file.
    let lines: Vec<Value> = (0..LINES)
        .map(|n| {
            let text = if n % 60 == 7 {
                format!("question {n} [[fault:model_error]]")
            } else {
                format!("question {n} [[say:tok{n}x]]")
            };
            line(&format!("req-{n}"), "nova-lite", &text)
        })
        .collect();
    let file = s.upload(&key, "batch", &jsonl(&lines)).await;
    assert_eq!(file.status, 200, "{}", file.text);
    let file = file.json();
    assert_eq!(file["object"], "file");
    let created = s
        .post(
            &key,
            "/v1/batches",
            json!({"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                   "completion_window": "24h", "metadata": {"team": "eval"}}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let created = created.json();
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["request_counts"]["total"], LINES);
    // The completion window is each line's deadline: the planner chose Bedrock batch.
    assert_eq!(created["plans"], json!({"batch": LINES}), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let done = s.run_until_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["request_counts"],
        json!({"total": LINES, "completed": LINES - 2, "failed": 2})
    );
    assert_eq!(done["metadata"], json!({"team": "eval"}));

    let out = s
        .get(
            &key,
            &format!(
                "/v1/files/{}/content",
                done["output_file_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(out.status, 200);
    let mut seen = HashSet::new();
    for l in out.text.lines() {
        let l: Value = serde_json::from_str(l).unwrap();
        let n: usize = l["custom_id"].as_str().unwrap()["req-".len()..]
            .parse()
            .unwrap();
        assert!(seen.insert(n), "req-{n} answered twice");
        assert!(l["id"].as_str().unwrap().starts_with("batch_req_"));
        assert_eq!(l["error"], Value::Null);
        assert_eq!(l["response"]["status_code"], 200);
        let body = &l["response"]["body"];
        assert_eq!(body["object"], "chat.completion");
        let text = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.contains(&format!("tok{n}x")), "{l}");
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0, "{l}");
        assert_eq!(body["cost"]["tier"], "batch", "{l}");
        assert_eq!(l["plan"]["mode"], "batch");
    }
    assert_eq!(seen.len(), LINES - 2);
    let errors = s
        .get(
            &key,
            &format!(
                "/v1/files/{}/content",
                done["error_file_id"].as_str().unwrap()
            ),
        )
        .await;
    let errors: Vec<Value> = errors
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed: HashSet<&str> = errors
        .iter()
        .map(|l| l["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, HashSet::from(["req-7", "req-67"]));
    for l in &errors {
        assert_eq!(l["response"], Value::Null);
        assert!(
            l["error"]["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{l}"
        );
        assert!(l["error"]["message"].as_str().is_some(), "{l}");
    }
    // Read again: the same finished batch, files unchanged.
    let again = s.get(&key, &format!("/v1/batches/{id}")).await.json();
    assert_eq!(again["output_file_id"], done["output_file_id"]);
    assert_eq!(again["completed_at"], done["completed_at"]);
    let list = s.get(&key, "/v1/batches").await.json();
    assert_eq!(list["data"][0]["id"], id.as_str());
    let other = s.key().await;
    assert_eq!(
        s.get(&other, &format!("/v1/batches/{id}")).await.status,
        404
    );
    assert_eq!(s.get(&other, "/v1/batches").await.json()["data"], json!([]));
}

/// A direct S3 ObjectCreated event for `key` in the results bucket.
fn s3_event(key: &str) -> Value {
    json!({"Records": [{
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": RESULTS_BUCKET}, "object": {"key": key}},
    }]})
}

/// Inbox lines take `deadline` and `max_cost_usd` as `POST /v1/jobs` does (issue 23 item 2):
/// same parser, same messages, one error line each; a line planned for batch becomes a held job
/// (named on its result line), one with a short deadline runs now and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbox_lines_take_deadline_and_max_cost_usd() {
    let s = stack().await;
    let request = |n: usize| {
        json!({"model": "nova-lite", "inferenceConfig": {"maxTokens": 60},
               "messages": [{"role": "user", "content": [{"text": format!("inbox {n} [[say:ib{n}x]]")}]}]})
    };
    let with = |n: usize, extra: Value| {
        let mut r = request(n);
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let lines = [
        with(1, json!({"deadline": "24h"})),
        with(2, json!({"deadline": "1m"})),
        with(3, json!({"deadline": "5s"})),
        with(4, json!({"deadline": "1m", "max_cost_usd": 0.0000001})),
        with(5, json!({"max_cost_usd": "cheap"})),
        request(6),
    ];
    aws_sdk_s3::Client::new(&s.aws.sdk)
        .put_object()
        .bucket(RESULTS_BUCKET)
        .key("inbox/planned.jsonl")
        .body(jsonl(&lines).into())
        .send()
        .await
        .expect("put");
    handle(&s.state, s3_event("inbox/planned.jsonl"), &ctx())
        .await
        .expect("inbox");
    let out = aws_sdk_s3::Client::new(&s.aws.sdk)
        .get_object()
        .bucket(RESULTS_BUCKET)
        .key("outbox/planned.jsonl")
        .send()
        .await
        .expect("outbox");
    let text = String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap();
    let out: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 6, "{text}");
    // 24 h: held for a Bedrock batch as a job; the line names it and its plan.
    assert_eq!(out[0]["ok"], true, "{}", out[0]);
    assert_eq!(out[0]["job"]["plan"]["mode"], "batch", "{}", out[0]);
    assert_eq!(out[0]["job"]["status"], "queued");
    assert!(
        out[0]["job"]["job_id"]
            .as_str()
            .unwrap()
            .starts_with("job_")
    );
    // 1 m: run now, on demand, with the reason.
    assert_eq!(out[1]["ok"], true, "{}", out[1]);
    assert_eq!(out[1]["plan"]["mode"], "on_demand");
    assert!(
        out[1]["plan"]["reason"]
            .as_str()
            .unwrap()
            .contains("batch: needs a deadline of at least 24h")
    );
    assert!(
        out[1]["response"].to_string().contains("ib2x"),
        "{}",
        out[1]
    );
    // The API's 400s, one error line each, naming the field.
    for (i, field) in [(2, "deadline:"), (3, "max_cost_usd:"), (4, "max_cost_usd:")] {
        assert_eq!(out[i]["ok"], false, "{}", out[i]);
        assert_eq!(out[i]["error"]["type"], "invalid_request", "{}", out[i]);
        assert!(
            out[i]["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{}",
            out[i]
        );
    }
    // A line without either runs as before, no plan.
    assert_eq!(out[5]["ok"], true);
    assert!(out[5].get("plan").is_none(), "{}", out[5]);
}
