//! The local admin token (`GATEWAY_ADMIN_TOKEN`, docs/console.md): with it set, the admin routes
//! and the console's configuration refuse callers without it (401 JSON), whatever else they
//! present; the console's static files stay open.

use std::sync::Arc;

use admin::access::{AdminToken, TOKEN_HEADER};
use admin::console::ConsoleConfig;
use gateway_stores::admin::KeyAdmin;
use gateway_tests::Moto;
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use gateway_tests::router::send;

const TOKEN: &str = "a-local-admin-token-0123456789";

#[tokio::test]
async fn admin_routes_need_the_admin_token_when_one_is_set() {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    create_key_tables(&sdk).await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let app = admin::router_with(
        Arc::new(KeyAdmin::new(db, KEYS_TABLE, Some(USAGE_TABLE))),
        ConsoleConfig::default(),
        AdminToken::new(TOKEN.into()).unwrap(),
    );
    let wrong = format!("{TOKEN}x");
    let refused: [&[(&str, &str)]; 4] = [
        &[],
        &[(TOKEN_HEADER, &wrong)],
        &[(TOKEN_HEADER, "")],
        &[("authorization", "Bearer gwk_someone")],
    ];
    for path in [
        "/v1/admin/keys",
        "/v1/admin/usage",
        "/v1/admin/keys/key_0123456789abcdef",
        "/console/config.json",
    ] {
        for headers in refused {
            let r = send(&app, "GET", path, headers, None).await;
            assert_eq!(r.status, 401, "{path} {headers:?}: {}", r.text);
            assert_eq!(r.error_type(), "unauthorized");
            assert!(!r.text.contains(TOKEN), "the token is never echoed");
        }
    }
    let r = send(
        &app,
        "POST",
        "/v1/admin/keys",
        &[("content-type", "application/json")],
        Some(br#"{"owner":"intruder"}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let ok = [(TOKEN_HEADER, TOKEN)];
    assert_eq!(
        send(&app, "GET", "/v1/admin/keys", &ok, None).await.status,
        200
    );
    let config = send(&app, "GET", "/console/config.json", &ok, None).await;
    assert_eq!(config.status, 200, "{}", config.text);
    assert_eq!(config.body["api_url"], serde_json::Value::Null);
}

#[test]
fn a_short_admin_token_is_refused() {
    assert!(AdminToken::new("short".into()).is_err());
}
