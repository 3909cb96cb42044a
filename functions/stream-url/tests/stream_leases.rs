//! Per-key concurrent streams (`max_concurrent_streams`, `GATEWAY_DEFAULT_MAX_STREAMS`): every
//! streaming route of stream-url holds a lease in the usage table (moto) from admission to the
//! stream's end, against bedrock-local streams paced to stay open.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use gateway_stores::auth::{DynamoLeases, KeyStore};
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use gateway_tests::{Emulator, Moto};
use http_body_util::BodyExt;
use inference_core::auth::{AuthMode, AuthSettings, KeyHeaders, KeyId, LeaseId, Limits};
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Fixture {
    _moto: Moto,
    _emulator: Emulator,
    app: axum::Router,
    store: KeyStore,
    leases: Arc<DynamoLeases>,
}

/// stream-url with API keys in moto; keys without a limit may hold `default` streams.
async fn fixture(default: Option<u32>) -> Fixture {
    let moto = Moto::start();
    let emulator = Emulator::start(&[]);
    let sdk = moto.sdk().await;
    create_key_tables(&sdk).await;
    let settings = AuthSettings {
        mode: AuthMode::ApiKey,
        keys_table: Some(KEYS_TABLE.into()),
        usage_table: Some(USAGE_TABLE.into()),
        cache_ttl: Duration::ZERO,
        key_headers: KeyHeaders::Both,
        default_max_streams: default,
    };
    let config = Config::from_lookup(|k| match k {
        "AWS_REGION" => Some("us-east-1".into()),
        "GATEWAY_METRICS" => Some("false".into()),
        _ => None,
    })
    .expect("configuration");
    let catalog = Catalog::load(&config).expect("catalog");
    let client = BedrockClient::for_endpoint(&config, &emulator.url);
    let gateway = Gateway::new(config, catalog, client)
        .with_auth(gateway_stores::auth::from_settings(&sdk, &settings));
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    Fixture {
        app: stream_url::router(gateway),
        store: KeyStore::new(db.clone(), KEYS_TABLE, Duration::ZERO),
        leases: Arc::new(DynamoLeases::new(db, USAGE_TABLE)),
        _moto: moto,
        _emulator: emulator,
    }
}

impl Fixture {
    /// A key with at most `max` streams (`None`: the deployment's default).
    async fn key(&self, max: Option<u32>) -> (String, KeyId) {
        let limits = Limits {
            max_concurrent_streams: max,
            ..Limits::default()
        };
        let (key, record) = self
            .store
            .issue("team", vec![], false, limits)
            .await
            .unwrap();
        (key, record.id)
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> http::Response<Body> {
        let req = http::Request::post(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.app.clone().oneshot(req).await.expect("infallible")
    }

    /// Opens a ConverseStream that stays open for seconds, and reads its first frame.
    async fn open(&self, key: &str) -> Body {
        let resp = self.post(key, "/converse", slow()).await;
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        body.frame()
            .await
            .expect("a first frame")
            .expect("readable");
        body
    }

    /// The number of `key`'s leases in the store (expired ones included).
    async fn held(&self, key: &KeyId) -> usize {
        self.leases.held(key).await.unwrap().len()
    }

    /// Waits (up to 5 s) until `key` holds `n` leases.
    async fn until_held(&self, key: &KeyId, n: usize) {
        let t = Instant::now();
        while self.held(key).await != n {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{key} still holds {} leases",
                self.held(key).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// About 200 tokens at 20 a second: open for about ten seconds.
fn slow() -> Value {
    json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "Long [[len:200]] [[tokens_per_sec:20]]"}]}]})
}

fn quick() -> Value {
    json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "Short [[len:5]]"}]}]})
}

async fn json_of(resp: http::Response<Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

/// Reads a stream to its end.
async fn drain(mut body: Body) -> String {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Some(d) = frame.expect("readable").data_ref() {
            out.extend_from_slice(d);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_key_holds_at_most_its_streams_on_every_route_until_one_ends() {
    let f = fixture(None).await;
    let (key, id) = f.key(Some(2)).await;
    let first = f.open(&key).await;
    let second = f.open(&key).await;
    assert_eq!(f.held(&id).await, 2);

    // The third stream is refused on every streaming route, in each route's error shape.
    let (status, e) = json_of(f.post(&key, "/converse", quick()).await).await;
    assert_eq!(status, 429, "{e}");
    assert_eq!(e["error"]["type"], "too_many_streams", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit of 2 concurrent streams"),
        "{e}"
    );
    let native = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, e) = json_of(f.post(&key, "/invoke/haiku", native).await).await;
    assert_eq!(
        (status, e["error"]["type"].as_str()),
        (429, Some("too_many_streams")),
        "{e}"
    );
    let chat =
        json!({"model": "haiku", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, e) = json_of(f.post(&key, "/v1/chat/completions", chat).await).await;
    assert_eq!(status, 429, "{e}");
    assert_eq!(
        e["error"]["type"], "rate_limit_error",
        "OpenAI's shape: {e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("concurrent streams"),
        "{e}"
    );
    let messages = json!({"model": "haiku", "stream": true, "max_tokens": 20,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, e) = json_of(f.post(&key, "/v1/messages", messages).await).await;
    assert_eq!(status, 429, "{e}");
    assert_eq!(e["type"], "error", "Anthropic's shape: {e}");
    assert_eq!(e["error"]["type"], "rate_limit_error", "{e}");
    // The refusals took no lease.
    assert_eq!(f.held(&id).await, 2);

    // Another tenant is not starved by this one.
    let (other, _) = f.key(Some(2)).await;
    let resp = f.post(&other, "/converse", quick()).await;
    assert_eq!(resp.status(), 200);
    drain(resp.into_body()).await;

    // One ends normally: its lease is given back before the stream closes, and a new stream
    // of the key is admitted.
    let text = drain(first).await;
    assert!(text.contains("event: done"), "{text}");
    assert_eq!(f.held(&id).await, 1);
    let resp = f.post(&key, "/converse", quick()).await;
    assert_eq!(resp.status(), 200);
    drain(resp.into_body()).await;
    assert_eq!(f.held(&id).await, 1);
    drop(second);
    f.until_held(&id, 0).await;
}

#[tokio::test]
async fn the_deployment_default_limits_keys_that_set_none() {
    let f = fixture(Some(1)).await;
    let (key, id) = f.key(None).await;
    let open = f.open(&key).await;
    let (status, e) = json_of(f.post(&key, "/converse", quick()).await).await;
    assert_eq!(
        (status, e["error"]["type"].as_str()),
        (429, Some("too_many_streams")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit of 1 concurrent streams"),
        "{e}"
    );
    // A key's own limit wins over the default.
    let (roomy, _) = f.key(Some(3)).await;
    let held: Vec<Body> = futures_util::future::join_all((0..3).map(|_| f.open(&roomy))).await;
    drop(held);
    drop(open);
    f.until_held(&id, 0).await;
}

#[tokio::test]
async fn a_client_that_drops_the_stream_releases_its_lease() {
    let f = fixture(None).await;
    let (key, id) = f.key(Some(1)).await;
    let body = f.open(&key).await;
    assert_eq!(f.held(&id).await, 1);
    drop(body); // the client goes away mid-stream
    f.until_held(&id, 0).await;
    let resp = f.post(&key, "/converse", quick()).await;
    assert_eq!(resp.status(), 200);
    drain(resp.into_body()).await;
}

#[tokio::test]
async fn streams_that_fail_give_their_lease_back() {
    let f = fixture(None).await;
    let (key, id) = f.key(Some(1)).await;
    // Refused by Bedrock before the first event (nothing streamed): an error answer.
    let failing = json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "x [[fault:model_error]]"}]}]});
    let resp = f.post(&key, "/converse", failing).await;
    assert!(resp.status().is_server_error(), "{}", resp.status());
    drain(resp.into_body()).await;
    assert_eq!(f.held(&id).await, 0);
    // Failed midway: it held its lease while open, and gives it back when it closes with an
    // error event.
    let midway = json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "x [[len:50]] [[tokens_per_sec:5]] [[fault:stream_error_after=8]]"}]}]});
    let resp = f.post(&key, "/converse", midway).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    body.frame()
        .await
        .expect("a first frame")
        .expect("readable");
    assert_eq!(f.held(&id).await, 1);
    let text = drain(body).await;
    assert!(text.contains("event: error"), "{text}");
    assert_eq!(f.held(&id).await, 0);
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_stream_expires() {
    let f = fixture(None).await;
    let (key, id) = f.key(Some(2)).await;
    // Two streams whose function died: their leases were never given back.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for _ in 0..2 {
        f.leases
            .acquire(&id, &LeaseId::new(), 2, now + 2)
            .await
            .unwrap();
    }
    let (status, e) = json_of(f.post(&key, "/converse", quick()).await).await;
    assert_eq!(
        (status, e["error"]["type"].as_str()),
        (429, Some("too_many_streams")),
        "{e}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Expired: dropped at the next admission, which takes its place.
    let body = f.open(&key).await;
    assert_eq!(f.held(&id).await, 1);
    drop(body);
    f.until_held(&id, 0).await;
}

#[tokio::test]
async fn concurrent_admissions_never_pass_the_limit() {
    let f = fixture(None).await;
    let (_, id) = f.key(Some(3)).await;
    let far = u64::MAX / 2;
    let tries = futures_util::future::join_all(
        (0..12).map(|_| async { f.leases.acquire(&id, &LeaseId::new(), 3, far).await }),
    )
    .await;
    let admitted = tries.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 3, "{tries:?}");
    assert_eq!(f.held(&id).await, 3);
    for r in tries.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.kind().as_str(), "too_many_streams", "{r}");
    }
}
