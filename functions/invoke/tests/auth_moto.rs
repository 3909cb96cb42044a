//! API keys, budgets, rate limits and the usage report (`GATEWAY_AUTH=api_key`), through the
//! invoke router against bedrock-local, with keys and counters in moto's DynamoDB.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use gateway_stores::admin::KeyAdmin;
use gateway_stores::auth::{DynamoMeter, KeyStore, hash_key};
use gateway_tests::flaky::{Fault, Flaky, Writes};
use gateway_tests::keys::{KEYS_TABLE as KEYS, USAGE_TABLE as USAGE, create_key_tables};
use gateway_tests::router::{Reply, call};
use gateway_tests::{Emulator, Moto};
use inference_core::auth::{
    Auth, AuthMode, AuthSettings, Caller, KeyHeaders, KeyRecord, Limits, Meter,
};
use inference_core::{BedrockClient, CallContext, Catalog, Config, Gateway};
use invoke::{AppState, router};
use rust_decimal::Decimal;
use serde_json::{Value, json};

struct Fixture {
    _moto: Moto,
    _emulator: Emulator,
    gateway: Gateway,
    app: axum::Router,
    /// The admin function's router over the same tables (`/v1/admin/*`).
    admin: axum::Router,
    store: KeyStore,
    meter: Arc<DynamoMeter>,
}

async fn fixture(cache_seconds: u64) -> Fixture {
    fixture_with(cache_seconds, &[]).await
}

async fn fixture_with(cache_seconds: u64, emulator_flags: &[&str]) -> Fixture {
    fixture_full(cache_seconds, emulator_flags, &[], KeyHeaders::Both, None).await
}

async fn fixture_env(cache_seconds: u64, emulator_flags: &[&str], env: &[(&str, &str)]) -> Fixture {
    fixture_full(cache_seconds, emulator_flags, env, KeyHeaders::Both, None).await
}

/// A fixture whose key layer reads the key from `key_headers` (`GATEWAY_KEY_HEADERS`).
async fn fixture_reading(
    cache_seconds: u64,
    emulator_flags: &[&str],
    key_headers: KeyHeaders,
) -> Fixture {
    fixture_full(cache_seconds, emulator_flags, &[], key_headers, None).await
}

/// The fixture with extra configuration `env` and the key headers; with `flaky`, the gateway's
/// meter writes through that faulting client (the fixture's own `meter` reads through a plain one).
async fn fixture_full(
    cache_seconds: u64,
    emulator_flags: &[&str],
    env: &[(&str, &str)],
    key_headers: KeyHeaders,
    flaky: Option<&Arc<Flaky>>,
) -> Fixture {
    let moto = Moto::start();
    let emulator = Emulator::start(emulator_flags);
    let sdk = moto.sdk().await;
    create_key_tables(&sdk).await;
    let settings = AuthSettings {
        mode: AuthMode::ApiKey,
        keys_table: Some(KEYS.into()),
        usage_table: Some(USAGE.into()),
        cache_ttl: Duration::from_secs(cache_seconds),
        key_headers,
        default_max_streams: None,
    };
    let mut map: HashMap<String, String> = HashMap::from([
        ("AWS_REGION".into(), "us-east-1".into()),
        ("GATEWAY_METRICS".into(), "false".into()),
    ]);
    map.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = Config::from_lookup(move |k| map.get(k).cloned()).expect("configuration");
    let catalog = Catalog::load(&config).expect("catalog");
    let client = BedrockClient::for_endpoint(&config, &emulator.url);
    let auth = match flaky {
        None => gateway_stores::auth::from_settings(&sdk, &settings),
        Some(flaky) => Auth::api_keys(
            Arc::new(KeyStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                KEYS,
                settings.cache_ttl,
            )),
            Arc::new(DynamoMeter::new(flaky.client(&sdk), USAGE)),
        ),
    };
    let gateway = Gateway::new(config, catalog, client).with_auth(auth);
    let app = router(Arc::new(AppState::new(gateway.clone())));
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    Fixture {
        admin: admin::router(Arc::new(KeyAdmin::new(db.clone(), KEYS, Some(USAGE)))),
        store: KeyStore::new(db.clone(), KEYS, Duration::ZERO),
        meter: Arc::new(DynamoMeter::new(db, USAGE)),
        _moto: moto,
        _emulator: emulator,
        gateway,
        app,
    }
}

/// Longer than the fixture's key cache of 1 s: a change is seen after it.
async fn wait_for_cache() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// A call to the admin routes (no key: on AWS they are behind IAM, not keys).
async fn admin(f: &Fixture, method: &str, path: &str, body: Option<Value>) -> Reply {
    call(&f.admin, method, path, &[], body).await
}

fn converse_body(max_tokens: u32) -> Value {
    json!({
        "model": "haiku",
        "messages": [{"role": "user", "content": [{"text": "Say something about budgets."}]}],
        "inferenceConfig": {"maxTokens": max_tokens},
    })
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s)
        .or_else(|_| Decimal::from_scientific(s))
        .unwrap()
}

#[tokio::test]
async fn keys_are_required_checked_and_revocable() {
    let f = fixture(1).await;
    let (key, record) = f
        .store
        .issue("team-a", vec![], false, Limits::default())
        .await
        .unwrap();

    // Missing and wrong keys: 401 JSON errors, same message for unknown and revoked.
    for headers in [
        vec![],
        vec![("authorization", "Bearer gwk_not-a-real-key")],
        vec![("x-api-key", "wrong")],
        vec![("authorization", "Basic dXNlcjpwYXNz")],
    ] {
        let r = call(
            &f.app,
            "POST",
            "/v1/converse",
            &headers,
            Some(converse_body(20)),
        )
        .await;
        assert_eq!(r.status, 401, "{headers:?}: {}", r.body);
        assert_eq!(r.error_type(), "unauthorized");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(r.body["error"]["request_id"].is_string());
        assert!(!r.body.to_string().contains("gwk_not-a-real-key"));
    }
    // Unknown routes are not revealed without a key either.
    let r = call(&f.app, "GET", "/v1/nothing-here", &[], None).await;
    assert_eq!(r.status, 401);

    // Both header styles work.
    let auth = bearer(&key);
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &[("authorization", &auth)],
        Some(converse_body(20)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&f.app, "GET", "/v1/models", &[("x-api-key", &key)], None).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Revoked: refused once the warm cache (1 s here) has expired.
    f.store.revoke(&record.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &[("x-api-key", &key)],
        Some(converse_body(20)),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.error_type(), "unauthorized");
    let listed = f.store.list().await.unwrap();
    assert!(listed.iter().any(|k| k.id == record.id && k.revoked));
}

/// `AuthMode=JWT`: API Gateway checked the JWT in `Authorization`; the key comes from
/// `x-api-key` only (`GATEWAY_KEY_HEADERS=x-api-key`), never from the bearer token.
#[tokio::test]
async fn under_jwt_the_key_is_read_from_x_api_key_only() {
    let f = fixture_reading(0, &[], KeyHeaders::XApiKey).await;
    let (key, record) = f
        .store
        .issue("team-jwt", vec![], false, Limits::default())
        .await
        .unwrap();
    let jwt = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln";
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &[("authorization", jwt), ("x-api-key", &key)],
        Some(converse_body(20)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let usage = call(
        &f.app,
        "GET",
        "/v1/usage",
        &[("authorization", jwt), ("x-api-key", &key)],
        None,
    )
    .await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    assert_eq!(usage.body["key_id"], record.id.as_str());

    // Without x-api-key: 401 saying to send it, whatever Authorization holds (even the key).
    let as_bearer = bearer(&key);
    for auth in [jwt, as_bearer.as_str()] {
        let r = call(
            &f.app,
            "POST",
            "/v1/converse",
            &[("authorization", auth)],
            Some(converse_body(20)),
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.error_type(), "unauthorized");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("x-api-key"), "{message}");
        assert!(!message.contains("Bearer <key>"), "{message}");
    }
}

#[tokio::test]
async fn a_key_calls_only_its_models() {
    let f = fixture(0).await;
    let (key, _) = f
        .store
        .issue(
            "team-b",
            vec!["amazon.nova-*".into()],
            false,
            Limits::default(),
        )
        .await
        .unwrap();
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &[("x-api-key", &key)],
        Some(converse_body(20)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.error_type(), "model_not_allowed");
    let mut body = converse_body(20);
    body["model"] = json!("amazon.nova-lite-v1:0");
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &[("x-api-key", &key)],
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// One call's estimate as admission computes it is at most the price of (padded input + maxTokens);
/// here the bound is taken as the dearest single answer plus the maxTokens it could have used.
#[tokio::test]
async fn fifty_concurrent_calls_cannot_overspend_a_budget_by_more_than_one_estimate() {
    let f = fixture(5).await;
    // haiku: a call with maxTokens 200 and a short prompt is estimated near 0.00026 USD.
    let limit = dec("0.002");
    let (key, record) = f
        .store
        .issue(
            "team-c",
            vec![],
            false,
            Limits {
                budget_day_usd: Some(limit),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let auth = bearer(&key);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = f.app.clone();
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            call(
                &app,
                "POST",
                "/v1/converse",
                &[("authorization", &auth)],
                Some(converse_body(200)),
            )
            .await
        }));
    }
    let mut spent_by_answers = Decimal::ZERO;
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => {
                ok += 1;
                spent_by_answers += dec(r.body["cost"]["total"].as_str().unwrap());
            }
            429 => {
                refused += 1;
                assert_eq!(r.error_type(), "budget_exceeded", "{}", r.body);
                let msg = r.body["error"]["message"].as_str().unwrap();
                assert!(msg.contains("resets at"), "{msg}");
                let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
                assert!((1..=86_400).contains(&secs));
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert!(ok >= 1, "some calls fit the budget");
    assert!(refused >= 1, "the budget stopped the rest");
    // The estimate of one call: input estimate (padded) + maxTokens, at haiku's prices.
    let catalog = f.gateway.catalog();
    let model = catalog.by_name("haiku").expect("haiku in the catalog");
    let one_estimate = inference_core::cost::estimate(
        &catalog,
        model,
        inference_core::catalog::PricingScope::Regional,
        100,
        200,
    )
    .total();
    // Settled spend (every reservation replaced by its actual cost).
    let budgets = Meter::budgets(f.meter.as_ref(), &record.id, &record.limits).await;
    let spent = budgets[0].spent;
    assert_eq!(
        spent, spent_by_answers,
        "settled spend is what the answers cost"
    );
    assert!(
        spent <= limit + one_estimate,
        "spent {spent} > limit {limit} + one estimate {one_estimate}"
    );
}

/// Waits for the next minute when the current one has less than `needed` left. The keys'
/// per-minute windows are UTC minutes (`rate#<minute>` in the usage table): a check that spans
/// the turn of a minute sees its count start again (a fourth call answered 200, not 429, in a
/// CI run whose calls straddled it).
async fn within_one_minute_window(needed: Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let left = Duration::from_secs(60) - Duration::from_millis((now.as_millis() % 60_000) as u64);
    if left < needed {
        tokio::time::sleep(left + Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn requests_and_tokens_per_minute_answer_429_with_openai_headers() {
    // Slow answers, so concurrent calls hold their token reservations at the same time.
    let f = fixture_with(5, &["--latency-ms", "300"]).await;
    let (key, _) = f
        .store
        .issue(
            "team-d",
            vec![],
            false,
            Limits {
                requests_per_minute: Some(3),
                tokens_per_minute: Some(100_000),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let h = [("x-api-key", key.as_str())];
    // Four calls of about 0.3 s each, the fourth refused: all in one minute window.
    within_one_minute_window(Duration::from_secs(10)).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(50))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-ratelimit-limit-requests"), Some("3"));
        assert_eq!(r.header("x-ratelimit-limit-tokens"), Some("100000"));
        let tokens_left: u64 = r
            .header("x-ratelimit-remaining-tokens")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            tokens_left < 100_000 && tokens_left > 99_000,
            "{tokens_left}"
        );
        assert!(
            r.header("x-ratelimit-reset-requests")
                .unwrap()
                .ends_with('s')
        );
        remaining.push(
            r.header("x-ratelimit-remaining-requests")
                .unwrap()
                .to_owned(),
        );
    }
    // The minute may roll over mid-test; within one minute the countdown is exact.
    if remaining == ["2", "1", "0"] {
        let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(50))).await;
        assert_eq!(r.status, 429, "{}", r.body);
        assert_eq!(r.error_type(), "rate_limited");
        assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("0"));
    }

    // Tokens: input + maxTokens are reserved at admission.
    let (key, _) = f
        .store
        .issue(
            "team-e",
            vec![],
            false,
            Limits {
                tokens_per_minute: Some(1_000),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let h = [("x-api-key", key.as_str())];
    // More than the whole minute's allowance in one call: a 400 that says to lower maxTokens.
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &h,
        Some(converse_body(2_000)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maxTokens")
    );
    // Four calls reserving ~420 tokens each at once: at most two fit in 1,000 (in one window).
    within_one_minute_window(Duration::from_secs(10)).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let app = f.app.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            call(
                &app,
                "POST",
                "/v1/converse",
                &[("x-api-key", key.as_str())],
                Some(converse_body(400)),
            )
            .await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 429 {
            assert_eq!(r.error_type(), "rate_limited", "{}", r.body);
            assert!(r.header("retry-after").is_some());
            assert_eq!(r.header("x-ratelimit-limit-tokens"), Some("1000"));
        }
        statuses.push(r.status);
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn the_usage_report_adds_up_the_costs_the_calls_returned() {
    let f = fixture(5).await;
    let (key, record) = f
        .store
        .issue("team-f", vec![], false, Limits::default())
        .await
        .unwrap();
    let (other, _) = f
        .store
        .issue("team-g", vec![], false, Limits::default())
        .await
        .unwrap();
    let (admin, _) = f
        .store
        .issue("ops", vec![], true, Limits::default())
        .await
        .unwrap();
    let h = [("x-api-key", key.as_str())];
    let mut total = Decimal::ZERO;
    for n in [20, 40, 60] {
        let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(n))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        total += dec(r.body["cost"]["total"].as_str().unwrap());
    }
    let mut nova = converse_body(30);
    nova["model"] = json!("amazon.nova-lite-v1:0");
    let r = call(&f.app, "POST", "/v1/converse", &h, Some(nova)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    total += dec(r.body["cost"]["total"].as_str().unwrap());
    let native = json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 25,
        "messages": [{"role": "user", "content": "Native, please."}],
    });
    let r = call(&f.app, "POST", "/v1/invoke/haiku", &h, Some(native)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    total += dec(r
        .header("x-gateway-cost-usd")
        .expect("the native answer reports its cost"));
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &[("x-api-key", other.as_str())],
        Some(converse_body(20)),
    )
    .await;
    assert_eq!(r.status, 200);

    let r = call(&f.app, "GET", "/v1/usage", &h, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["key_id"], record.id.as_str());
    assert_eq!(dec(r.body["totals"]["cost"].as_str().unwrap()), total);
    assert_eq!(r.body["totals"]["requests"], 5);
    let rows = r.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "two models: {rows:?}");
    let sum: Decimal = rows.iter().map(|r| dec(r["cost"].as_str().unwrap())).sum();
    assert_eq!(sum, total);
    assert!(r.body["budgets"].is_array());

    // Another key's usage is not visible to a plain key; an admin key sees every key.
    let other_id = f
        .store
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.owner == "team-g")
        .unwrap()
        .id;
    let r = call(
        &f.app,
        "GET",
        &format!("/v1/usage?key_id={other_id}"),
        &h,
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = call(
        &f.app,
        "GET",
        "/v1/usage",
        &[("x-api-key", admin.as_str())],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["key_id"].is_null());
    assert_eq!(r.body["totals"]["requests"], 6);
    let r = call(&f.app, "GET", "/v1/usage?from=2020-13-01", &h, None).await;
    assert_eq!(r.status, 400, "{}", r.body);
}

/// A stream the client drops midway is settled for what it produced (input estimate and the
/// output relayed), not for nothing and not for its whole reservation.
#[tokio::test]
async fn an_aborted_stream_is_settled_for_what_it_produced() {
    let f = fixture(5).await;
    let (key, record) = f
        .store
        .issue(
            "team-h",
            vec![],
            false,
            Limits {
                budget_day_usd: Some(dec("10")),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let looked_up: Arc<KeyRecord> = {
        use inference_core::auth::KeyDirectory;
        f.store.lookup(&key).await.unwrap().unwrap()
    };
    let meter: Arc<dyn Meter> = f.meter.clone();
    let caller = Arc::new(Caller::new(looked_up, Some(meter)));
    let ctx = CallContext::new("test").with_caller(Some(caller));
    let mut body = converse_body(2_000);
    body["messages"][0]["content"][0]["text"] = json!("Write a long story about a lighthouse.");
    let mut stream = f
        .gateway
        .converse_stream(body, &ctx)
        .await
        .expect("stream opens");
    let mut deltas = 0;
    while let Some((name, _)) = stream.recv().await.expect("event") {
        if name == "contentBlockDelta" {
            deltas += 1;
            if deltas == 3 {
                break;
            }
        }
    }
    assert_eq!(deltas, 3);
    drop(stream);
    // Settlement of a dropped stream runs as a spawned task.
    let mut row = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rows = Meter::usage(
            f.meter.as_ref(),
            Some(&record.id),
            "2000-01-01",
            "2999-12-31",
        )
        .await
        .unwrap();
        if let Some(r) = rows.into_iter().next() {
            row = Some(r);
            break;
        }
    }
    let row = row.expect("the dropped stream was settled");
    assert_eq!(row.requests, 1);
    assert!(row.input_tokens > 0);
    assert!(
        row.output_tokens > 0 && row.output_tokens < 2_000,
        "{row:?}"
    );
    let budgets = Meter::budgets(f.meter.as_ref(), &record.id, &record.limits).await;
    assert_eq!(
        budgets[0].spent, row.cost,
        "the reservation was replaced by the actual"
    );
}

/// Keys issued, changed and revoked through the admin function's routes take effect here.
#[tokio::test]
async fn keys_issued_changed_and_revoked_over_http_take_effect_on_invoke() {
    let f = fixture(1).await;
    let r = admin(&f, "POST",
        "/v1/admin/keys",
        Some(json!({"owner": "search-team", "models": ["haiku"], "limits": {"budget_day_usd": "5", "requests_per_minute": 100}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let key = r.body["key"]
        .as_str()
        .expect("the key, shown once")
        .to_owned();
    let id = r.body["key_id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("gwk_"), "{key}");
    assert_eq!(r.body["record"]["id"], id.as_str());
    assert_eq!(r.body["record"]["limits"]["budget_day_usd"], "5");
    assert_eq!(r.body["record"]["limits"]["requests_per_minute"], 100);
    assert!(r.body["request_id"].is_string());

    // The key works on invoke, within its models.
    let auth = format!("Bearer {key}");
    let h = [("authorization", auth.as_str())];
    let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(30))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cost = r.body["cost"]["total"].as_str().unwrap().to_owned();
    let mut nova = converse_body(30);
    nova["model"] = json!("nova-lite");
    let r = call(&f.app, "POST", "/v1/converse", &h, Some(nova.clone())).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error_type(), "model_not_allowed");

    // Listing and reading show records, never the key or its hash.
    let r = admin(&f, "GET", "/v1/admin/keys", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.body["data"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k["id"] == id.as_str() && k["revoked"] == false)
    );
    assert!(!r.text.contains(&key) && !r.text.contains(&hash_key(&key)));
    assert!(!r.text.contains("key_hash"));
    let r = admin(&f, "GET", &format!("/v1/admin/keys/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["record"]["owner"], "search-team");
    assert!(!r.text.contains(&hash_key(&key)));

    // Patch: one request per minute (the key has used this minute already, or the next call
    // does), then the limit removed and every model allowed.
    let r = admin(
        &f,
        "PATCH",
        &format!("/v1/admin/keys/{id}"),
        Some(json!({"limits": {"requests_per_minute": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["record"]["limits"]["requests_per_minute"], 1);
    assert_eq!(
        r.body["record"]["limits"]["budget_day_usd"], "5",
        "untouched"
    );
    wait_for_cache().await;
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let r = call(&f.app, "GET", "/v1/models", &h, None).await;
        statuses.push(r.status);
        if r.status == 429 {
            assert_eq!(r.error_type(), "rate_limited", "{}", r.text);
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let r = admin(
        &f,
        "PATCH",
        &format!("/v1/admin/keys/{id}"),
        Some(json!({"limits": {"requests_per_minute": null}, "models": []})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["record"]["limits"]
            .get("requests_per_minute")
            .is_none()
    );
    assert_eq!(r.body["record"]["models"], json!([]));
    wait_for_cache().await;
    let r = call(&f.app, "POST", "/v1/converse", &h, Some(nova.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cost2 = r.body["cost"]["total"].as_str().unwrap().to_owned();

    // Usage over every key, and for this key with its budgets.
    let r = admin(&f, "GET", "/v1/admin/usage", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["key_id"].is_null());
    assert_eq!(r.body["totals"]["requests"], 2);
    assert_eq!(
        dec(r.body["totals"]["cost"].as_str().unwrap()),
        dec(&cost) + dec(&cost2)
    );
    let r = admin(&f, "GET", &format!("/v1/admin/usage?key_id={id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["key_id"], id.as_str());
    assert_eq!(r.body["budgets"][0]["limit"], "5");

    // Revoke (twice: the same answer), then the key is refused once the cache expires.
    for _ in 0..2 {
        let r = admin(&f, "DELETE", &format!("/v1/admin/keys/{id}"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["record"]["revoked"], true);
    }
    wait_for_cache().await;
    let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(30))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error_type(), "unauthorized");
}

/// Settlement takes back only what admission reserved on each counter: a key with a daily
/// budget and no monthly one ends with both counters equal to the sum of its calls' costs (the
/// month's used to go below zero by every day reservation; a monthly budget set later then
/// started that far behind).
#[tokio::test]
async fn each_spend_counter_equals_the_settled_costs_whichever_budgets_are_set() {
    let f = fixture(0).await;
    for (owner, day, month) in [
        ("day-only", Some("1"), None),
        ("month-only", None, Some("1")),
        ("both", Some("1"), Some("2")),
        ("neither", None, None),
    ] {
        let limits = Limits {
            budget_day_usd: day.map(dec),
            budget_month_usd: month.map(dec),
            ..Limits::default()
        };
        let (key, record) = f.store.issue(owner, vec![], false, limits).await.unwrap();
        let h = [("x-api-key", key.as_str())];
        let mut total = Decimal::ZERO;
        for n in [30, 300] {
            let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(n))).await;
            assert_eq!(r.status, 200, "{owner}: {}", r.body);
            total += dec(r.body["cost"]["total"].as_str().unwrap());
        }
        // A refused call spends nothing.
        let mut bad = converse_body(30);
        bad["messages"] = json!([]);
        let r = call(&f.app, "POST", "/v1/converse", &h, Some(bad)).await;
        assert_eq!(r.status, 400, "{owner}: {}", r.body);
        let budgets = Meter::budgets(f.meter.as_ref(), &record.id, &record.limits).await;
        for b in &budgets {
            assert_eq!(b.spent, total, "{owner}: {} counter {b:?}", b.period);
        }
    }
}

/// A document the estimator cannot count (PDF bytes) reserves the model's whole input window,
/// not zero: on a small budget it is refused before any model call, while the same call
/// without the document fits. (Reserving the lower bound let concurrent large PDFs overspend a
/// budget by calls x their real cost.)
#[tokio::test]
async fn an_uncountable_document_reserves_the_models_input_window() {
    let f = fixture(0).await;
    let catalog = f.gateway.catalog();
    let haiku = catalog.by_name("haiku").unwrap();
    // The input window at haiku's price, then a budget below it but far above a short call.
    let window = inference_core::cost::estimate(
        &catalog,
        haiku,
        inference_core::catalog::PricingScope::Regional,
        haiku.max_input_tokens,
        0,
    )
    .total();
    let budget = (window / Decimal::from(2)).round_dp(6);
    let (key, record) = f
        .store
        .issue(
            "team-pdf",
            vec![],
            false,
            Limits {
                budget_day_usd: Some(budget),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let h = [("x-api-key", key.as_str())];
    let before = f._emulator.stats();
    let mut pdf = converse_body(50);
    pdf["messages"][0]["content"] = json!([
        {"document": {"format": "pdf", "name": "report", "source": {"bytes": "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="}}},
        {"text": "Summarise the report."}
    ]);
    let r = call(&f.app, "POST", "/v1/converse", &h, Some(pdf)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.error_type(), "budget_exceeded", "{}", r.body);
    assert_eq!(
        f._emulator.stats()["requests"]["Converse"],
        before["requests"]["Converse"],
        "refused before calling the model"
    );
    let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(50))).await;
    assert_eq!(r.status, 200, "the short call fits: {}", r.body);
    let budgets = Meter::budgets(f.meter.as_ref(), &record.id, &record.limits).await;
    assert_eq!(
        budgets[0].spent,
        dec(r.body["cost"]["total"].as_str().unwrap()),
        "the refused call left nothing reserved"
    );
}

/// One step of the counters' property test.
#[derive(Debug, Clone)]
enum Step {
    /// Set (cents) or remove the day and month budgets.
    Budgets(Option<u32>, Option<u32>),
    /// A Converse call with this `maxTokens` (answered, or refused by a budget).
    Call(u32),
    /// A call Bedrock throttles (admitted and reserved, then released).
    Throttled,
    /// A stream the client drops after its first delta (settled for what it produced).
    CutStream,
    /// A request refused before admission.
    Bad,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let cents = proptest::option::of(1u32..400);
    prop_oneof![
        (cents.clone(), cents).prop_map(|(d, m)| Step::Budgets(d, m)),
        (1u32..600).prop_map(Step::Call),
        Just(Step::Throttled),
        Just(Step::CutStream),
        Just(Step::Bad),
    ]
}

/// Runs `steps` on a fresh key; returns how many calls were settled (answered or cut).
async fn run_steps(f: &Fixture, n: usize, steps: &[Step]) -> (KeyRecord, u64) {
    let (key, record) = f
        .store
        .issue(&format!("prop-{n}"), vec![], false, Limits::default())
        .await
        .unwrap();
    let h = [("x-api-key", key.as_str())];
    let mut settled = 0;
    for s in steps {
        match s {
            Step::Budgets(day, month) => {
                let usd = |c: &Option<u32>| c.map_or(Value::Null, |c| json!(format!("0.{c:04}")));
                let body =
                    json!({"limits": {"budget_day_usd": usd(day), "budget_month_usd": usd(month)}});
                let path = format!("/v1/admin/keys/{}", record.id.as_str());
                let r = admin(f, "PATCH", &path, Some(body)).await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
            Step::Call(m) => {
                let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(*m))).await;
                match r.status {
                    200 => settled += 1,
                    429 => assert_eq!(r.error_type(), "budget_exceeded", "{}", r.body),
                    other => panic!("{other}: {}", r.body),
                }
            }
            Step::Throttled => {
                // More faults than the SDK's attempts: the call fails after its retries.
                f._emulator.arm("throttle", 20, "Converse");
                let r = call(&f.app, "POST", "/v1/converse", &h, Some(converse_body(20))).await;
                f._emulator.control("DELETE", "/_local/faults", None);
                assert!(matches!(r.status, 429 | 503), "{}: {}", r.status, r.body);
            }
            Step::CutStream => {
                use inference_core::auth::KeyDirectory;
                let looked_up = f.store.lookup(&key).await.unwrap().unwrap();
                let meter: Arc<dyn Meter> = f.meter.clone();
                let caller = Arc::new(Caller::new(looked_up, Some(meter)));
                let ctx = CallContext::new("prop").with_caller(Some(caller));
                if let Ok(mut stream) = f.gateway.converse_stream(converse_body(300), &ctx).await {
                    settled += 1;
                    while let Some((name, _)) = stream.recv().await.expect("event") {
                        if name == "contentBlockDelta" {
                            break;
                        }
                    }
                }
            }
            Step::Bad => {
                // Refused by the gateway's own parse, before any admission. (An empty `messages`
                // is Bedrock's to refuse, after admission: under a budget smaller than the
                // call's estimate that is a 429 first, which a one-cent budget drew once.)
                let mut bad = converse_body(30);
                bad["notAConverseField"] = json!(true);
                let r = call(&f.app, "POST", "/v1/converse", &h, Some(bad)).await;
                assert_eq!(r.status, 400, "{}", r.body);
            }
        }
    }
    (record, settled)
}

/// For any sequence of budgets set and unset, calls, refusals, throttled calls and cut streams,
/// the day and month spend counters each equal the sum of the settled costs (the usage report),
/// and nothing stays reserved.
#[test]
fn the_spend_counters_equal_the_settled_costs_for_any_sequence() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let f = rt.block_on(fixture(0));
    spend_counters_property(&rt, &f);
}

/// The same when every settlement write loses its first answer (applied, then a 500): the
/// SDK's retry must not apply it twice.
#[test]
fn the_spend_counters_equal_the_settled_costs_when_settlement_answers_are_lost() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let flaky = Flaky::new(Fault::LostAnswer, Writes::Settlement);
    let f = rt.block_on(fixture_full(0, &[], &[], KeyHeaders::Both, Some(&flaky)));
    spend_counters_property(&rt, &f);
    assert!(flaky.injected() > 0, "no settlement lost its answer");
}

fn spend_counters_property(rt: &tokio::runtime::Runtime, f: &Fixture) {
    use proptest::test_runner::{Config as PropConfig, TestRunner};
    let mut runner = TestRunner::new(PropConfig {
        cases: 8,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    let strategy = proptest::collection::vec(step(), 1..8);
    runner
        .run(&strategy, |steps| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(async {
                let (record, settled) = run_steps(f, n, &steps).await;
                // Cut streams settle in a spawned task: wait for every settlement.
                let mut rows = Vec::new();
                for _ in 0..50 {
                    rows = Meter::usage(
                        f.meter.as_ref(),
                        Some(&record.id),
                        "2000-01-01",
                        "2999-12-31",
                    )
                    .await
                    .unwrap();
                    if rows.iter().map(|r| r.requests).sum::<u64>() == settled {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let requests: u64 = rows.iter().map(|r| r.requests).sum();
                assert_eq!(requests, settled, "{steps:?}");
                let total: Decimal = rows.iter().map(|r| r.cost).sum();
                let both = Limits {
                    budget_day_usd: Some(Decimal::ONE),
                    budget_month_usd: Some(Decimal::ONE),
                    ..Limits::default()
                };
                for b in Meter::budgets(f.meter.as_ref(), &record.id, &both).await {
                    assert_eq!(b.spent, total, "{} counter after {steps:?}", b.period);
                }
            });
            Ok(())
        })
        .unwrap();
}

/// ApplyGuardrail is billed per text unit: `/v1/guardrail/check` is admitted against the key's
/// budget (refused when its worst case does not fit) and its cost lands on the usage report.
#[tokio::test]
async fn guardrail_checks_are_charged_to_the_keys_budget() {
    let f = fixture_env(
        0,
        &[],
        &[
            ("GATEWAY_GUARDRAIL_ID", "demo"),
            ("GATEWAY_GUARDRAIL_VERSION", "1"),
        ],
    )
    .await;
    let issue = |owner: &'static str, budget: &'static str| {
        f.store.issue(
            owner,
            vec![],
            false,
            Limits {
                budget_day_usd: Some(dec(budget)),
                ..Limits::default()
            },
        )
    };
    let check = json!({"source": "INPUT", "content": [{"text": {"text": "x".repeat(5_000)}}]});
    // Five text units, every priced policy: 5 x 0.0005 = 0.0025 USD at worst.
    let (poor, _) = issue("guard-poor", "0.001").await.unwrap();
    let before = f._emulator.stats();
    let r = call(
        &f.app,
        "POST",
        "/v1/guardrail/check",
        &[("x-api-key", poor.as_str())],
        Some(check.clone()),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.error_type(), "budget_exceeded");
    assert_eq!(
        f._emulator.stats()["requests"]["ApplyGuardrail"],
        before["requests"]["ApplyGuardrail"],
        "refused before calling Bedrock"
    );

    let (rich, record) = issue("guard-rich", "1").await.unwrap();
    let r = call(
        &f.app,
        "POST",
        "/v1/guardrail/check",
        &[("x-api-key", rich.as_str())],
        Some(check),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cost = dec(r.body["cost"]["total"].as_str().unwrap());
    assert!(
        cost > Decimal::ZERO,
        "the demo guardrail bills its policies: {}",
        r.body
    );
    let rows = Meter::usage(
        f.meter.as_ref(),
        Some(&record.id),
        "2000-01-01",
        "2999-12-31",
    )
    .await
    .unwrap();
    let row = rows
        .iter()
        .find(|r| r.model == "guardrail")
        .expect("a guardrail row");
    assert_eq!(row.cost, cost);
    let budgets = Meter::budgets(f.meter.as_ref(), &record.id, &record.limits).await;
    assert_eq!(
        budgets[0].spent, cost,
        "the reservation was replaced by the cost"
    );
}

/// Every model call of a request is admitted, not only the first: a request that fans out (an
/// embeddings request on a one-text-per-call model calls the model once per input through the
/// same context) is refused when a later call no longer fits the key's tokens per minute.
#[tokio::test]
async fn each_model_call_of_one_request_is_admitted() {
    use inference_core::auth::KeyDirectory;
    let f = fixture(0).await;
    let (key, _) = f
        .store
        .issue(
            "fan-out",
            vec![],
            false,
            Limits {
                tokens_per_minute: Some(100),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let looked_up = f.store.lookup(&key).await.unwrap().unwrap();
    let meter: Arc<dyn Meter> = f.meter.clone();
    let ctx = CallContext::new("fan-out")
        .with_caller(Some(Arc::new(Caller::new(looked_up, Some(meter)))));
    // One call reserves its input estimate + 60 and settles at its usage (about 56 tokens):
    // a second reservation on top of that no longer fits 100 tokens (in the same window).
    within_one_minute_window(Duration::from_secs(10)).await;
    let first = f.gateway.converse(converse_body(60), &ctx).await;
    assert!(first.is_ok(), "{first:?}");
    let before = f._emulator.stats()["requests"]["Converse"].clone();
    let second = f.gateway.converse(converse_body(60), &ctx).await;
    let e = second.expect_err("the second call of the request is admitted on its own");
    assert_eq!(e.status().as_u16(), 429, "{e}");
    assert_eq!(
        f._emulator.stats()["requests"]["Converse"],
        before,
        "refused before calling the model"
    );
}

/// A fallback candidate is admitted at its own price: when the requested model is throttled,
/// the failed call's reservation is released and the pricier fallback must fit the budget on
/// its own (it no longer rides on the first candidate's cheaper reservation).
#[tokio::test]
async fn a_fallback_candidate_reserves_at_its_own_price() {
    let f = fixture_env(
        0,
        &[],
        &[
            ("GATEWAY_FALLBACK_MODELS", "sonnet"),
            ("GATEWAY_MAX_ATTEMPTS", "1"),
        ],
    )
    .await;
    let catalog = f.gateway.catalog();
    let regional = inference_core::catalog::PricingScope::Regional;
    let worst = |name: &str| {
        let m = catalog.by_name(name).unwrap();
        inference_core::cost::estimate(&catalog, m, regional, 20, 1_000).total()
    };
    // Room for a haiku call's reservation, not for sonnet's.
    let budget = (worst("haiku") + worst("sonnet")) / Decimal::from(2);
    assert!(worst("haiku") < budget && budget < worst("sonnet"));
    let (key, record) = f
        .store
        .issue(
            "fallback",
            vec![],
            false,
            Limits {
                budget_day_usd: Some(budget.round_dp(6)),
                ..Limits::default()
            },
        )
        .await
        .unwrap();
    let h = [("x-api-key", key.as_str())];
    f._emulator.arm("throttle", 1, "Converse");
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &h,
        Some(converse_body(1_000)),
    )
    .await;
    assert_ne!(
        r.status, 200,
        "sonnet ran on haiku's reservation: {}",
        r.body
    );
    assert_eq!(r.status, 429, "{}", r.body);
    let budgets = Meter::budgets(f.meter.as_ref(), &record.id, &record.limits).await;
    assert_eq!(
        budgets[0].spent,
        Decimal::ZERO,
        "nothing ran, nothing is held"
    );
    // Without the throttle, haiku itself fits.
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &h,
        Some(converse_body(1_000)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A key's default tier serves its requests that name none, on models that offer it; a request
/// naming a tier keeps its own; a model without the tier runs at standard, not refused. Set and
/// removed through the admin routes.
#[tokio::test]
async fn a_keys_default_tier_serves_requests_that_name_none() {
    use inference_core::catalog::PricingScope;
    use inference_core::cost::{Usage, cost_of_tier};
    use inference_core::tier::Tier;

    let f = fixture(1).await;
    let r = admin(
        &f,
        "POST",
        "/v1/admin/keys",
        Some(json!({"owner": "batchy", "limits": {"default_tier": "flex"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["record"]["limits"]["default_tier"], "flex");
    let key = r.body["key"].as_str().unwrap().to_owned();
    let id = r.body["key_id"].as_str().unwrap().to_owned();
    let h = [("x-api-key", key.as_str())];
    let catalog = Catalog::embedded().unwrap();
    let pro = catalog.by_name("nova-pro").unwrap();
    let ask = |model: &str, tier: Option<&str>| {
        let mut b = converse_body(30);
        b["model"] = json!(model);
        if let Some(t) = tier {
            b["serviceTier"] = json!({"type": t});
        }
        b
    };
    let priced = |r: &Reply, tier: Tier| {
        let u = &r.body["usage"];
        let usage = Usage::new(
            u["inputTokens"].as_u64().unwrap(),
            u["outputTokens"].as_u64().unwrap(),
        );
        cost_of_tier(&catalog, pro, PricingScope::Regional, tier, &usage)
            .total
            .to_text()
    };

    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &h,
        Some(ask("nova-pro", None)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["cost"]["tier"], "flex", "{}", r.body["cost"]);
    assert_eq!(
        r.body["cost"]["total"].as_str(),
        Some(priced(&r, Tier::Flex).as_str())
    );

    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &h,
        Some(ask("nova-pro", Some("priority"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["cost"]["tier"], "priority",
        "the request's own tier wins"
    );

    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &h,
        Some(ask("nova-lite", None)),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "a model without flex runs at standard: {}",
        r.text
    );
    assert!(r.body["cost"].get("tier").is_none(), "{}", r.body["cost"]);

    let r = admin(
        &f,
        "PATCH",
        &format!("/v1/admin/keys/{id}"),
        Some(json!({"limits": {"default_tier": null}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["record"]["limits"].get("default_tier").is_none(),
        "{}",
        r.text
    );
    wait_for_cache().await;
    let r = call(
        &f.app,
        "POST",
        "/v1/converse",
        &h,
        Some(ask("nova-pro", None)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["cost"].get("tier").is_none(),
        "standard again: {}",
        r.body["cost"]
    );

    let r = admin(
        &f,
        "PATCH",
        &format!("/v1/admin/keys/{id}"),
        Some(json!({"limits": {"default_tier": "turbo"}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}
