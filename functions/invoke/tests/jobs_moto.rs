//! `POST /v1/jobs` idempotency and ownership, and `GET /v1/jobs/webhook-secret`, against moto's
//! DynamoDB and SQS (docs/jobs.md, "Idempotency" and "Webhooks"):
//! - an idempotency key is the submitting API key's own: another key's same idempotency key
//!   gets another job, and cannot read, re-enqueue or squat the first;
//! - job IDs are random even with an idempotency key;
//! - concurrent submissions with one key create exactly one job and one message;
//! - a submission that died between the idempotency item and the job converges on retry;
//! - each API key gets its own webhook signing key.

use std::sync::Arc;
use std::time::Duration;

use gateway_jobs::JobsSettings;
use gateway_jobs::idempotency::IdempotentJob;
use gateway_jobs::{IdempotencyKey, JobId, JobOwner, JobStore};
use gateway_stores::auth::KeyStore;
use gateway_tests::jobs::{JOBS_TABLE, JobsAws};
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use gateway_tests::router::{Reply, call};
use hmac::{Hmac, Mac};
use inference_core::auth::{AuthMode, AuthSettings, Limits};
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use invoke::{AppState, JobsApi, router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECRET: &str = "deployment-webhook-secret";

struct Fixture {
    aws: JobsAws,
    app: axum::Router,
    keys: Option<KeyStore>,
}

async fn fixture(with_keys: bool) -> Fixture {
    let aws = JobsAws::start().await;
    let sdk = &aws.sdk;
    let env = aws.env(&[("GATEWAY_WEBHOOK_SECRET_VALUE", SECRET)]);
    let config = Config::from_lookup(|k| env.lookup(k)).expect("configuration");
    let settings = JobsSettings::from_lookup(&config, |k| env.lookup(k))
        .expect("jobs settings")
        .expect("jobs configured");
    let catalog = Catalog::load(&config).expect("catalog");
    // Submissions are checked, never run here: no model is called.
    let client = BedrockClient::for_endpoint(&config, "http://127.0.0.1:9");
    let mut gateway = Gateway::new(config, catalog, client);
    let mut keys = None;
    if with_keys {
        create_key_tables(sdk).await;
        let auth = AuthSettings {
            mode: AuthMode::ApiKey,
            keys_table: Some(KEYS_TABLE.into()),
            usage_table: Some(USAGE_TABLE.into()),
            cache_ttl: Duration::ZERO,
            key_headers: inference_core::auth::KeyHeaders::Both,
            default_max_streams: None,
        };
        gateway = gateway.with_auth(gateway_stores::auth::from_settings(sdk, &auth));
        keys = Some(KeyStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            KEYS_TABLE,
            Duration::ZERO,
        ));
    }
    let jobs = JobsApi::new(sdk, settings);
    let app = router(Arc::new(AppState::new(gateway).with_jobs(jobs)));
    Fixture { aws, app, keys }
}

impl Fixture {
    async fn key(&self, owner: &str) -> (String, String) {
        let (key, record) = self
            .keys
            .as_ref()
            .expect("a fixture with keys")
            .issue(owner, vec![], false, Limits::default())
            .await
            .expect("issue");
        (key, record.id.as_str().to_owned())
    }

    async fn submit(&self, key: Option<&str>, body: Value) -> Reply {
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
        call(&self.app, "POST", "/v1/jobs", &headers, Some(body)).await
    }

    async fn get(&self, key: Option<&str>, path: &str) -> Reply {
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
        call(&self.app, "GET", path, &headers, None).await
    }

    /// Messages in the jobs queue (moto counts exactly).
    async fn messages(&self) -> u64 {
        let a = aws_sdk_sqs::Client::new(&self.aws.sdk)
            .get_queue_attributes()
            .queue_url(&self.aws.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("queue attributes");
        a.attributes()
            .and_then(|m| {
                m.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn job(text: &str, idempotency_key: &str) -> Value {
    json!({
        "request": {
            "model": "haiku",
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": 20},
        },
        "idempotency_key": idempotency_key,
    })
}

fn job_id(r: &Reply) -> String {
    r.body["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.text))
        .to_owned()
}

#[tokio::test]
async fn idempotency_keys_are_per_api_key_and_other_keys_see_404() {
    let f = fixture(true).await;
    let (a, _) = f.key("team-a").await;
    let (b, _) = f.key("team-b").await;

    let first = f.submit(Some(&a), job("A's job", "order-1")).await;
    assert_eq!(first.status, 202, "{}", first.text);
    let again = f.submit(Some(&a), job("A's job", "order-1")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(job_id(&again), job_id(&first));
    let conflict = f.submit(Some(&a), job("something else", "order-1")).await;
    assert_eq!(conflict.status, 409, "{}", conflict.text);
    assert_eq!(conflict.error_type(), "conflict");

    // B's same idempotency key is B's own: a new job, not A's (neither A's job returned nor a
    // 409 that tells B the key is in use), with a body that is not A's either.
    let theirs = f.submit(Some(&b), job("B's job", "order-1")).await;
    assert_eq!(theirs.status, 202, "{}", theirs.text);
    assert_ne!(job_id(&theirs), job_id(&first));
    let theirs_again = f.submit(Some(&b), job("B's job", "order-1")).await;
    assert_eq!(job_id(&theirs_again), job_id(&theirs));
    assert_eq!(f.messages().await, 2, "one message per job");

    // B reading A's job gets exactly what a job that does not exist answers.
    let a_job = f
        .get(Some(&b), &format!("/v1/jobs/{}", job_id(&first)))
        .await;
    let missing_id = JobId::random();
    let missing = f.get(Some(&b), &format!("/v1/jobs/{missing_id}")).await;
    assert_eq!(a_job.status, 404, "{}", a_job.text);
    assert_eq!(missing.status, 404);
    assert_eq!(a_job.error_type(), missing.error_type());
    assert_eq!(
        a_job.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&job_id(&first), "ID"),
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(missing_id.as_str(), "ID"),
    );
    assert_eq!(
        f.get(Some(&a), &format!("/v1/jobs/{}", job_id(&first)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn job_ids_are_random_even_with_an_idempotency_key() {
    let f = fixture(false).await;
    let r = f.submit(None, job("x", "order-42")).await;
    assert_eq!(r.status, 202, "{}", r.text);
    // Not derivable from the key (what it used to be: SHA-256 of "idempotency-key:<key>").
    let digest = Sha256::digest(b"idempotency-key:order-42");
    let derived = format!("job_{}", hex::encode(&digest[..16]));
    assert_ne!(job_id(&r), derived);
    JobId::parse(&job_id(&r)).unwrap();
}

#[tokio::test]
async fn concurrent_submissions_with_one_key_create_one_job_and_one_message() {
    let f = fixture(false).await;
    let replies = futures_util::future::join_all(
        (0..8).map(|_| f.submit(None, job("the same job", "burst-1"))),
    )
    .await;
    let ids: std::collections::BTreeSet<String> = replies.iter().map(job_id).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let created = replies.iter().filter(|r| r.status == 202).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.status == 202 || r.status == 200));
    assert_eq!(f.messages().await, 1);
}

#[tokio::test]
async fn a_submission_that_died_after_taking_its_key_converges_on_retry() {
    let f = fixture(false).await;
    let body = job("retry me", "crashy-1");
    // What a submission leaves when it dies right after taking the key: the key's item,
    // pointing at a job that was never written. Its request hash is what the API computes.
    let store = JobStore::new(&f.aws.sdk, JOBS_TABLE);
    let orphan = JobId::random();
    // The hash of `body` as the API computes it (kind, request and webhook URL, canonical).
    let hash = gateway_jobs::submit::hash(&json!({
        "kind": "converse",
        "request": body["request"],
        "webhook_url": null,
    }));
    let key = IdempotencyKey::parse("crashy-1").unwrap();
    let proposed = IdempotentJob {
        job_id: orphan.clone(),
        request_hash: hash,
    };
    store
        .claim_idempotency_key(&JobOwner::Deployment, &key, &proposed, 0)
        .await
        .unwrap();
    assert!(store.get(&orphan).await.unwrap().is_none());

    let retry = f.submit(None, body.clone()).await;
    assert_eq!(retry.status, 202, "{}", retry.text);
    assert_eq!(
        job_id(&retry),
        orphan.as_str(),
        "the key's job, written now"
    );
    assert!(store.get(&orphan).await.unwrap().is_some());
    let again = f.submit(None, body).await;
    assert_eq!((again.status, job_id(&again)), (200, orphan.to_string()));
    assert_eq!(f.messages().await, 1);
}

#[tokio::test]
async fn each_api_key_gets_its_own_webhook_key() {
    let f = fixture(true).await;
    let (a, a_id) = f.key("team-a").await;
    let (b, b_id) = f.key("team-b").await;
    let ra = f.get(Some(&a), "/v1/jobs/webhook-secret").await;
    let rb = f.get(Some(&b), "/v1/jobs/webhook-secret").await;
    assert_eq!(ra.status, 200, "{}", ra.text);
    assert_eq!(ra.header("cache-control"), Some("no-store"));
    assert_eq!(ra.body["key_id"], a_id);
    let (sa, sb) = (
        ra.body["webhook_secret"].as_str().unwrap(),
        rb.body["webhook_secret"].as_str().unwrap(),
    );
    assert_ne!(sa, sb);
    assert!(!ra.text.contains(SECRET) && !rb.text.contains(SECRET));
    // The documented derivation: HMAC-SHA256(deployment key, "webhook:" + key_id), hex.
    let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(format!("webhook:{b_id}").as_bytes());
    assert_eq!(sb, hex::encode(m.finalize().into_bytes()));
    // Without a key: refused (no key to be read).
    let anonymous = f.get(None, "/v1/jobs/webhook-secret").await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
}

#[tokio::test]
async fn without_api_keys_there_is_no_per_caller_webhook_key() {
    let f = fixture(false).await;
    let r = f.get(None, "/v1/jobs/webhook-secret").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(!r.text.contains(SECRET));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GATEWAY_AUTH=none")
    );
}
