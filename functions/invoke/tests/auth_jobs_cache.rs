//! API keys meet the response cache and async jobs (docs/auth.md), with keys and counters in
//! moto's DynamoDB and models answered by bedrock-local:
//! - a key not allowed a model gets no cache hit for it, even when the answer is cached;
//! - a job's key is found again by its ID (the `by-key-id` index), and a revoked or unknown one
//!   is `unauthorized`;
//! - a job submission is checked against the key's models, tokens per minute and budgets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gateway_jobs::url_guard::UrlPolicy;
use gateway_jobs::{charge, submit};
use gateway_stores::auth::KeyStore;
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use gateway_tests::{Emulator, Moto};
use http_body_util::BodyExt;
use inference_core::auth::{Auth, AuthMode, AuthSettings, KeyHeaders, KeyId, Limits};
use inference_core::cache::ResponseCache;
use inference_core::{BedrockClient, CallContext, Catalog, Config, Gateway};
use invoke::{AppState, router};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Fixture {
    _moto: Moto,
    emulator: Emulator,
    gateway: Gateway,
    app: axum::Router,
    store: KeyStore,
}

async fn fixture() -> Fixture {
    fixture_with(&[]).await
}

async fn fixture_with(extra: &[(&str, &str)]) -> Fixture {
    let moto = Moto::start();
    let emulator = Emulator::start(&[]);
    let sdk = moto.sdk().await;
    create_key_tables(&sdk).await;
    let settings = AuthSettings {
        mode: AuthMode::ApiKey,
        keys_table: Some(KEYS_TABLE.into()),
        usage_table: Some(USAGE_TABLE.into()),
        // Every lookup reads the table: revocations are seen at once.
        cache_ttl: Duration::ZERO,
        key_headers: KeyHeaders::Both,
        default_max_streams: None,
    };
    let mut map: HashMap<String, String> = HashMap::from([
        ("AWS_REGION".into(), "us-east-1".into()),
        ("GATEWAY_METRICS".into(), "false".into()),
        // Every Converse request uses the (memory) response cache.
        ("GATEWAY_CACHE".into(), "on".into()),
    ]);
    map.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let config = Config::from_lookup(move |k| map.get(k).cloned()).expect("configuration");
    let catalog = Catalog::load(&config).expect("catalog");
    let client = BedrockClient::for_endpoint(&config, &emulator.url);
    let cache = ResponseCache::new(config.cache.clone());
    let gateway = Gateway::new(config, catalog, client)
        .with_auth(gateway_stores::auth::from_settings(&sdk, &settings))
        .with_cache(cache);
    let app = router(Arc::new(AppState::new(gateway.clone())));
    Fixture {
        store: KeyStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            KEYS_TABLE,
            Duration::ZERO,
        ),
        _moto: moto,
        emulator,
        gateway,
        app,
    }
}

async fn converse(app: &axum::Router, key: &str, body: &Value) -> (u16, Value) {
    let req = http::Request::builder()
        .method("POST")
        .uri("/v1/converse")
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

fn haiku(text: &str, max_tokens: u32) -> Value {
    json!({
        "model": "haiku",
        "messages": [{"role": "user", "content": [{"text": text}]}],
        "inferenceConfig": {"maxTokens": max_tokens},
    })
}

fn converse_calls(emu: &Emulator) -> u64 {
    emu.stats()["requests"]["Converse"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_key_not_allowed_a_model_gets_no_cache_hit_for_it() {
    let f = fixture().await;
    let (any_model, _) = f
        .store
        .issue("team-all", vec![], false, Limits::default())
        .await
        .unwrap();
    let (nova_only, _) = f
        .store
        .issue(
            "team-nova",
            vec!["amazon.nova-*".into()],
            false,
            Limits::default(),
        )
        .await
        .unwrap();
    let body = haiku("A question worth caching.", 30);
    let (status, first) = converse(&f.app, &any_model, &body).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["cache"]["status"], "miss");
    assert_eq!(first["cache"]["stored"], true, "{first}");
    // The answer is cached: the same key gets a hit without calling the model.
    let (status, hit) = converse(&f.app, &any_model, &body).await;
    assert_eq!(status, 200, "{hit}");
    assert_eq!(hit["cache"]["status"], "hit", "{hit}");
    assert_eq!(converse_calls(&f.emulator), 1);
    // A key that may not call haiku gets no hit: the usual refusal, and no model call.
    let (status, refused) = converse(&f.app, &nova_only, &body).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["type"], "model_not_allowed", "{refused}");
    assert!(refused.get("output").is_none(), "{refused}");
    assert_eq!(converse_calls(&f.emulator), 1);
}

#[tokio::test]
async fn a_jobs_key_is_found_by_id_and_refused_once_revoked() {
    let f = fixture().await;
    let (_, record) = f
        .store
        .issue("team-jobs", vec![], false, Limits::default())
        .await
        .unwrap();
    let auth = f.gateway.auth();
    let caller = auth
        .caller_for_key_id(&record.id)
        .await
        .expect("found")
        .expect("a caller with keys");
    assert_eq!(caller.key_id(), &record.id);
    assert_eq!(caller.record.owner, "team-jobs");

    f.store.revoke(&record.id).await.unwrap();
    let e = auth.caller_for_key_id(&record.id).await.unwrap_err();
    assert_eq!(e.error_type(), "unauthorized", "{e}");
    assert!(e.message().contains("revoked"), "{e}");
    let unknown = KeyId::parse("key_00000000000000ff").unwrap();
    let e = auth.caller_for_key_id(&unknown).await.unwrap_err();
    assert_eq!(e.error_type(), "unauthorized", "{e}");
    // Without keys there is no caller (nothing is metered).
    assert!(
        Auth::none()
            .caller_for_key_id(&record.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn job_submissions_are_checked_against_the_keys_models_and_limits() {
    let f = fixture().await;
    let caller_ctx = |key: String| {
        let gw = f.gateway.clone();
        async move {
            let caller = gw
                .auth()
                .authenticate_key(Some(&key))
                .await
                .unwrap()
                .unwrap();
            CallContext::new("test").with_caller(Some(caller))
        }
    };
    let job = |max_tokens: u32| json!({"request": haiku("A job.", max_tokens)});
    let policy = UrlPolicy::default();

    // Plenty of budget: admitted, and the job records the key's ID.
    let (key, record) = f
        .store
        .issue(
            "rich",
            vec![],
            false,
            Limits {
                budget_day_usd: Some(Decimal::new(10, 0)),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let sub = submit::validate(&f.gateway, job(100), policy, false)
        .await
        .unwrap();
    let ctx = caller_ctx(key).await;
    let id = charge::admit_submission(&f.gateway, &ctx, &sub)
        .await
        .unwrap();
    assert_eq!(id.as_ref(), Some(&record.id));

    // A budget smaller than the job's estimate: 429 now, with the reset time.
    let (key, _) = f
        .store
        .issue(
            "poor",
            vec![],
            false,
            Limits {
                budget_day_usd: Some(Decimal::new(1, 5)),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let ctx = caller_ctx(key).await;
    let e = charge::admit_submission(&f.gateway, &ctx, &sub)
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "budget_exceeded", "{e}");
    assert_eq!(e.status(), 429);
    assert!(e.message().contains("resets at"), "{e}");
    assert!(e.retry_after().is_some_and(|s| (1..=86_400).contains(&s)));

    // A model the key may not call.
    let (key, _) = f
        .store
        .issue(
            "nova",
            vec!["amazon.nova-*".into()],
            false,
            Limits::default(),
        )
        .await
        .unwrap();
    let ctx = caller_ctx(key).await;
    let e = charge::admit_submission(&f.gateway, &ctx, &sub)
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "model_not_allowed", "{e}");

    // A job that reserves more tokens than the key's whole minute: 400, not a job that can
    // never run.
    let (key, _) = f
        .store
        .issue(
            "slow",
            vec![],
            false,
            Limits {
                tokens_per_minute: Some(500),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let ctx = caller_ctx(key).await;
    let big = submit::validate(&f.gateway, job(2_000), policy, false)
        .await
        .unwrap();
    let e = charge::admit_submission(&f.gateway, &ctx, &big)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert!(e.message().contains("maxTokens"), "{e}");

    // Without a key (GATEWAY_AUTH=none) nothing is checked or recorded.
    let none = charge::admit_submission(&f.gateway, &CallContext::new("test"), &sub)
        .await
        .unwrap();
    assert!(none.is_none());
}

/// Answers are cached per API key by default: another key asking the same thing calls the
/// model (no other tenant's answer, no "was this asked" oracle); `GATEWAY_CACHE_SCOPE=shared`
/// shares them.
#[tokio::test]
async fn the_cache_is_scoped_per_key_unless_the_deployment_shares_it() {
    for (scope, shared) in [("key", false), ("shared", true)] {
        let f = fixture_with(&[("GATEWAY_CACHE_SCOPE", scope)]).await;
        let (a, _) = f
            .store
            .issue("team-a", vec![], false, Limits::default())
            .await
            .unwrap();
        let (b, _) = f
            .store
            .issue("team-b", vec![], false, Limits::default())
            .await
            .unwrap();
        let body = haiku("The same question from two teams.", 30);
        let (status, first) = converse(&f.app, &a, &body).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["cache"]["status"], "miss", "{scope}: {first}");
        let (_, again) = converse(&f.app, &a, &body).await;
        assert_eq!(again["cache"]["status"], "hit", "{scope}: {again}");
        let (status, other) = converse(&f.app, &b, &body).await;
        assert_eq!(status, 200, "{other}");
        let want = if shared { "hit" } else { "miss" };
        assert_eq!(other["cache"]["status"], want, "{scope}: {other}");
        assert_eq!(
            converse_calls(&f.emulator),
            if shared { 1 } else { 2 },
            "{scope}"
        );
    }
}

/// A stream answered from the cache costs the key nothing, like a Converse hit: the key is
/// settled at zero for the replay, and only the miss lands on its spend.
#[tokio::test]
async fn a_replayed_stream_hit_costs_the_key_nothing() {
    use gateway_stores::auth::DynamoMeter;
    use inference_core::auth::{Caller, KeyDirectory, Meter};
    let f = fixture().await;
    let limits = Limits {
        budget_day_usd: Some(Decimal::from(5)),
        ..Limits::default()
    };
    let (key, record) = f
        .store
        .issue("streams", vec![], false, limits)
        .await
        .unwrap();
    let sdk = f._moto.sdk().await;
    let meter = Arc::new(DynamoMeter::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        USAGE_TABLE,
    ));
    let mut costs = Vec::new();
    for _ in 0..2 {
        let looked_up = f.store.lookup(&key).await.unwrap().unwrap();
        let m: Arc<dyn Meter> = meter.clone();
        let ctx =
            CallContext::new("t").with_caller(Some(Arc::new(Caller::new(looked_up, Some(m)))));
        let mut stream = f
            .gateway
            .converse_stream(haiku("Stream me a cached answer.", 60), &ctx)
            .await
            .expect("stream opens");
        while stream.recv().await.expect("event").is_some() {}
        // The closing summary the relay sends last.
        let last = stream.summary();
        costs.push((
            last["cost"]["total"].clone(),
            last["cache"]["status"].clone(),
        ));
    }
    assert_eq!(costs[1].1, "hit", "{costs:?}");
    let hit: Decimal = costs[1].0.as_str().unwrap().parse().unwrap();
    assert_eq!(hit, Decimal::ZERO, "{costs:?}");
    let first: Decimal = costs[0].0.as_str().unwrap().parse().unwrap();
    let rows = Meter::usage(meter.as_ref(), Some(&record.id), "2000-01-01", "2999-12-31")
        .await
        .unwrap();
    let spent: Decimal = rows.iter().map(|r| r.cost).sum();
    assert_eq!(spent, first, "only the miss is charged: {rows:?}");
    let budgets = Meter::budgets(meter.as_ref(), &record.id, &record.limits).await;
    assert_eq!(budgets[0].spent, first);
}
