//! The request `docs/architecture.md` walks through: one `POST /v1/converse` on the invoke
//! function as `main` assembles it (`Services::load`, the response cache, `router`), with API keys
//! and the response cache's two tiers in moto, the local filter at its default, metrics on, and a
//! miss answered by bedrock-local. Ignored in `make test`: `tools/structure/walk.sh` runs it under
//! callgrind, which records only the measured request (between the `go` and `done` files in
//! `WALK_DIR`), and lists the project files whose code ran.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use gateway_stores::Services;
use gateway_stores::auth::KeyStore;
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use gateway_tests::router::call;
use gateway_tests::{Emulator, Moto};
use inference_core::auth::Limits;
use invoke::{AppState, router};
use serde_json::{Value, json};

const CACHE_TABLE: &str = "gateway-cache";

async fn create_cache_table(sdk: &aws_config::SdkConfig) {
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(CACHE_TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("key")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("key")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("cache table");
}

async fn converse(app: &axum::Router, key: &str, text: &str) -> (u16, Value) {
    let body =
        json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": text}]}]});
    let headers = [("x-api-key", key), ("x-gateway-cache", "use")];
    let reply = call(app, "POST", "/v1/converse", &headers, Some(body)).await;
    (reply.status, reply.body)
}

/// Waits until `dir/name` exists (written by the script driving callgrind).
async fn wait_for(dir: &Path, name: &str) {
    while !dir.join(name).exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "run by tools/structure/walk.sh under callgrind"]
async fn one_converse_request() {
    let dir = PathBuf::from(std::env::var("WALK_DIR").expect("WALK_DIR"));
    let moto = Moto::start();
    let emulator = Emulator::start(&[]);
    let sdk = moto.sdk().await;
    create_key_tables(&sdk).await;
    create_cache_table(&sdk).await;
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emulator.url.as_str()),
        ("AWS_ENDPOINT_URL_BEDROCK", emulator.url.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", moto.url.as_str()),
        ("GATEWAY_AUTH", "api_key"),
        ("GATEWAY_KEYS_TABLE", KEYS_TABLE),
        ("GATEWAY_USAGE_TABLE", USAGE_TABLE),
        ("GATEWAY_CACHE", "on"),
        ("GATEWAY_CACHE_TABLE", CACHE_TABLE),
        ("GATEWAY_CATALOG_REFRESH_SECS", "0"),
    ];
    for (k, v) in env {
        // SAFETY: set before anything reads the environment; this test binary runs one test.
        unsafe { std::env::set_var(k, v) };
    }
    let services = Services::load()
        .await
        .expect("services")
        .with_response_cache();
    let app = router(Arc::new(AppState::new(services.gateway)));
    let store = KeyStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        KEYS_TABLE,
        Duration::ZERO,
    );
    let (key, _) = store
        .issue("team-walk", vec![], false, Limits::default())
        .await
        .unwrap();
    // A first call warms what a warm function has (connections, the key's record, the
    // filter's patterns); the walk is the second, a cache miss with a prompt of its own.
    let (status, warm) = converse(&app, &key, "Hello, first call.").await;
    assert_eq!(status, 200, "{warm}");
    std::fs::write(dir.join("ready"), b"").unwrap();
    wait_for(&dir, "go").await;
    let (status, answer) = converse(&app, &key, "Hello, the walked call.").await;
    std::fs::write(dir.join("done"), b"").unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cache"]["status"], "miss", "{answer}");
    wait_for(&dir, "end").await;
}
