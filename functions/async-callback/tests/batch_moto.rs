//! Issue 23's acceptance, through the local stack: jobs submitted with `POST /v1/jobs` (invoke's
//! router) and a deadline are planned, held per model, flushed into a bedrock-local batch job
//! (its input and output in moto's S3), and recorded from the batch output by async-callback's
//! batch driver (the schedule's event), each exactly once; records that fail in the batch are
//! retried on demand through the jobs queue (moto's SQS), redelivered messages included.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_callback::{State, handle};
use aws_sdk_dynamodb::types::AttributeValue;
use gateway_jobs::webhook::WebhookSecret;
use gateway_tests::Emulator;
use gateway_tests::jobs::{JOBS_TABLE, JobsAws, RESULTS_BUCKET};
use gateway_tests::router::call;
use inference_core::catalog::PricingScope;
use inference_core::cost::{Usage, cost_of};
use inference_core::{CallContext, Gateway};
use invoke::{AppState, JobsApi, router};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const JOBS: usize = 300;

struct Stack {
    aws: JobsAws,
    emulator: Emulator,
    app: axum::Router,
    state: State,
    gateway: Gateway,
}

async fn stack() -> Stack {
    let aws = JobsAws::start().await;
    let emulator = aws.batch_emulator();
    // The test's webhook receiver listens on loopback over http.
    let env = aws.batch_env(&[("GATEWAY_ALLOW_HTTP_WEBHOOKS", "true")]);
    let (gateway, settings) = common::gateway(&env, &emulator);
    let app = router(Arc::new(
        AppState::new(gateway.clone()).with_jobs(JobsApi::new(&aws.sdk, settings.clone())),
    ));
    let secret = WebhookSecret::new(b"test-secret".to_vec());
    let state = common::worker_state(&aws, &emulator, &gateway, &settings, Some(secret));
    Stack {
        aws,
        emulator,
        app,
        state,
        gateway,
    }
}

/// A webhook receiver on loopback counting deliveries per job (from the body's `job_id`).
async fn receiver() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let counts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let seen = Arc::clone(&counts);
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0usize);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let body: Value =
                        serde_json::from_slice(&buf[end + 4..end + 4 + length]).unwrap_or_default();
                    if let Some(id) = body["job_id"].as_str() {
                        *seen.lock().unwrap().entry(id.to_owned()).or_default() += 1;
                    }
                    let _ = conn
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    return;
                }
            });
        }
    });
    (url, counts)
}

fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

fn ctx() -> CallContext {
    CallContext::new("async-callback")
}

fn job(n: usize, deadline: &str) -> Value {
    job_with_hook(n, deadline, None)
}

fn job_with_hook(n: usize, deadline: &str, hook: Option<&str>) -> Value {
    json!({
        "webhook_url": hook,
        "request": {
            "model": "nova-lite",
            "messages": [{"role": "user", "content": [{"text": format!("question {n} [[say:tok{n}x]]")}]}],
            "inferenceConfig": {"maxTokens": 60}
        },
        "deadline": deadline,
    })
}

fn schedule() -> Value {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

impl Stack {
    /// Submits `JOBS` jobs with a 24 h deadline (and `hook`); returns their IDs in order.
    async fn submit_all(&self, hook: Option<&str>) -> Vec<String> {
        let mut ids = Vec::new();
        for n in 0..JOBS {
            let body = job_with_hook(n, "24h", hook);
            let r = call(&self.app, "POST", "/v1/jobs", &[], Some(body)).await;
            assert_eq!(r.status, 202, "{}", r.text);
            assert_eq!(r.body["plan"]["mode"], "batch", "{}", r.text);
            assert_eq!(r.body["status"], "queued");
            ids.push(r.body["job_id"].as_str().unwrap().to_owned());
        }
        ids
    }

    async fn tick(&self) -> Value {
        handle(&self.state, schedule(), &ctx()).await.expect("tick")
    }

    /// Ticks until a batch is recorded (bedrock-local needs 4 steps of 30 ms, plus the work).
    async fn tick_until_finished(&self) {
        let start = Instant::now();
        loop {
            let t = self.tick().await;
            if t["finished"].as_u64().unwrap_or(0) > 0 {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "batch never finished: {t}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Puts a recorded batch back in the open list, as if its poll had stopped before closing it.
    async fn reopen(&self, batch_id: &str) {
        let db = aws_sdk_dynamodb::Client::new(&self.aws.sdk);
        db.update_item()
            .table_name(JOBS_TABLE)
            .key("job_id", AttributeValue::S(format!("batch#run#{batch_id}")))
            .update_expression("REMOVE #state")
            .expression_attribute_names("#state", "state")
            .send()
            .await
            .expect("reopen run");
        db.update_item()
            .table_name(JOBS_TABLE)
            .key("job_id", AttributeValue::S("batch#index".into()))
            .update_expression("ADD #open :id")
            .expression_attribute_names("#open", "open")
            .expression_attribute_values(":id", AttributeValue::Ss(vec![batch_id.to_owned()]))
            .send()
            .await
            .expect("reopen index");
    }

    async fn job(&self, id: &str) -> Value {
        let r = call(&self.app, "GET", &format!("/v1/jobs/{id}"), &[], None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    async fn result(&self, id: &str) -> Value {
        let o = s3(&self.aws.sdk)
            .get_object()
            .bucket(RESULTS_BUCKET)
            .key(format!("results/{id}.json"))
            .send()
            .await
            .expect("result object");
        serde_json::from_slice(&o.body.collect().await.unwrap().to_vec()).unwrap()
    }

    /// Receives every message in the queue (each delivered `copies` times to the handler, as
    /// SQS redelivery would), until it stays empty.
    async fn drain_queue(&self, copies: usize) -> usize {
        let mut seen = 0;
        let mut empty = 0;
        while empty < 3 {
            let messages = self.aws.receive_jobs().await;
            if messages.is_empty() {
                empty += 1;
                tokio::time::sleep(Duration::from_millis(1_200)).await;
                continue;
            }
            empty = 0;
            let answer = handle(&self.state, common::sqs_event(&messages, copies), &ctx())
                .await
                .expect("sqs batch");
            let failed: Vec<String> = answer["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect();
            for m in &messages {
                let id = m.message_id().unwrap_or("");
                // A copy that lost the claim to its twin comes back; the other acknowledges.
                if (0..copies).all(|c| failed.contains(&format!("{id}-{c}"))) {
                    continue;
                }
                self.aws.acknowledge(m).await;
                seen += 1;
            }
        }
        seen
    }

    fn converse_calls(&self) -> u64 {
        self.emulator.stats()["requests"]["Converse"]
            .as_u64()
            .unwrap_or(0)
    }
}

/// The on-demand price of `usage` for nova-lite (what the same tokens cost on demand).
fn on_demand_cost(gw: &Gateway, usage: &Value) -> Decimal {
    let catalog = gw.catalog();
    let model = catalog.by_name("nova-lite").unwrap();
    let u = Usage::new(
        usage["inputTokens"].as_u64().unwrap(),
        usage["outputTokens"].as_u64().unwrap(),
    );
    cost_of(&catalog, model, PricingScope::Global, &u).total()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hundred_jobs_run_as_one_batch_at_half_the_on_demand_price() {
    let s = stack().await;
    // Bad values are 400s naming their field.
    for (body, field) in [
        (job(0, "5s"), "deadline:"),
        (job(0, "3w"), "deadline:"),
        (
            json!({"request": job(0, "1m")["request"], "deadline": "1m", "max_cost_usd": 0.0000001}),
            "max_cost_usd:",
        ),
        (
            json!({"request": job(0, "1m")["request"], "max_cost_usd": "cheap"}),
            "max_cost_usd:",
        ),
    ] {
        let r = call(&s.app, "POST", "/v1/jobs", &[], Some(body)).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{}",
            r.text
        );
    }
    let (hook, deliveries) = receiver().await;
    let ids = s.submit_all(Some(&hook)).await;
    // A one-minute deadline cannot wait for a batch: on demand, and the plan says why.
    let now = call(&s.app, "POST", "/v1/jobs", &[], Some(job(9_999, "1m"))).await;
    assert_eq!(now.status, 202, "{}", now.text);
    assert_eq!(now.body["plan"]["mode"], "on_demand");
    let reason = now.body["plan"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("batch: needs a deadline of at least 24h"),
        "{reason}"
    );

    let t = s.tick().await;
    assert_eq!(t["flushed"].as_array().unwrap().len(), 1, "{t}");
    // Held jobs are in their batch now; a redelivered message for one runs nothing.
    let j = s.job(&ids[0]).await;
    assert_eq!(j["status"], "running", "{j}");
    assert!(j["batch_id"].as_str().unwrap().starts_with("gwbatch-"));
    let batch_id = j["batch_id"].as_str().unwrap().to_owned();
    s.tick_until_finished().await;
    // The poll that recorded the batch is repeated, as after a crash before it closed the batch
    // (moto's conditional writes are not atomic under concurrent requests, so overlapping polls
    // are not tested here): no job is recorded, charged or notified again.
    let before = deliveries.lock().unwrap().clone();
    s.reopen(&batch_id).await;
    let t = s.tick().await;
    assert_eq!(
        (t["polled"].as_u64(), t["finished"].as_u64()),
        (Some(1), Some(1)),
        "{t}"
    );
    assert_eq!(*deliveries.lock().unwrap(), before);
    let counts = deliveries.lock().unwrap().clone();
    assert_eq!(counts.len(), JOBS, "a webhook per job");

    let mut batch_total = Decimal::ZERO;
    let mut on_demand_total = Decimal::ZERO;
    for (n, id) in ids.iter().enumerate() {
        let j = s.job(id).await;
        assert_eq!(j["status"], "succeeded", "{j}");
        assert_eq!(j["attempts"], 1, "{j}");
        assert_eq!(j["cost"]["tier"], "batch", "{j}");
        // Delivered by one poll only: the POSTs received are the POSTs that poll recorded (a
        // delivery may take more than one POST; a second poll's would be extra).
        assert_eq!(j["webhook"]["status"], "delivered", "{j}");
        assert_eq!(json!(counts[id.as_str()]), j["webhook"]["attempts"], "{j}");
        let result = s.result(id).await;
        let text = result["output"]["message"]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(
            text.contains(&format!("tok{n}x")),
            "job {n} got another's answer: {text}"
        );
        batch_total += dec(&j["cost"]["total"]);
        on_demand_total += on_demand_cost(&s.gateway, &j["usage"]);
        // The estimate on the plan is the worst case (maxTokens), halved.
        assert_eq!(
            dec(&j["plan"]["estimated_cost_usd"]) * Decimal::TWO,
            dec(&j["plan"]["on_demand_cost_usd"])
        );
    }
    assert!(batch_total > Decimal::ZERO);
    assert_eq!(
        batch_total * Decimal::TWO,
        on_demand_total,
        "batch {batch_total} vs on demand {on_demand_total}"
    );
    // No model call on demand for the batch jobs: only the one-minute job's message remains.
    assert_eq!(s.converse_calls(), 0);
    assert_eq!(s.drain_queue(2).await, 1);
    assert_eq!(s.converse_calls(), 1);
    assert_eq!(
        s.job(now.body["job_id"].as_str().unwrap()).await["status"],
        "succeeded"
    );
    // Ticking again finds nothing to flush or poll.
    let t = s.tick().await;
    assert_eq!(t["flushed"].as_array().unwrap().len(), 0, "{t}");
    assert_eq!(t["polled"], 0, "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_records_are_retried_on_demand_once_even_with_redelivery() {
    let s = stack().await;
    let (status, _) = s.emulator.control(
        "POST",
        "/_local/batch/failures",
        Some(&json!({"every": 3, "fault": "model_error"})),
    );
    assert_eq!(status, 200);
    let ids = s.submit_all(None).await;
    let t = s.tick().await;
    assert_eq!(t["flushed"].as_array().unwrap().len(), 1, "{t}");
    s.tick_until_finished().await;
    // Every third record failed in the batch: those jobs went back to on demand, queued.
    let mut failed = Vec::new();
    for id in &ids {
        let j = s.job(id).await;
        if j["status"] == "queued" {
            assert_eq!(j["plan"]["mode"], "on_demand", "{j}");
            let reason = j["plan"]["reason"].as_str().unwrap();
            assert!(reason.contains("batch record failed"), "{j}");
            failed.push(id.clone());
        } else {
            assert_eq!(j["status"], "succeeded", "{j}");
        }
    }
    assert_eq!(failed.len(), JOBS / 3);
    // Each retry message delivered twice (SQS redelivery): each job runs once.
    assert_eq!(s.drain_queue(2).await, JOBS / 3);
    // At least one model call per retried job. (More only if the SDK itself resent a call it
    // saw time out, which a loaded machine can provoke; that is not a second run of the job:
    // each run is a claim, and the claims are counted below.)
    let calls = s.converse_calls();
    assert!(
        calls >= (JOBS / 3) as u64,
        "{calls}: {}",
        s.emulator.stats()
    );
    for (n, id) in ids.iter().enumerate() {
        let j = s.job(id).await;
        assert_eq!(j["status"], "succeeded", "job {n}: {j}");
        // One claim into the batch, and one on demand for the retried: never a second run.
        let claims = if failed.contains(id) { 2 } else { 1 };
        assert_eq!(j["attempts"], claims, "job {n}: {j}");
        let result = s.result(id).await;
        let text = result["output"]["message"]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(text.contains(&format!("tok{n}x")), "job {n}: {text}");
        let tier = &j["cost"]["tier"];
        if failed.contains(id) {
            assert!(tier.is_null(), "retried on demand, priced on demand: {j}");
        } else {
            assert_eq!(tier, "batch", "{j}");
        }
    }
    // A repeated poll changes nothing.
    let t = s.tick().await;
    assert_eq!(t["polled"], 0, "{t}");
}
