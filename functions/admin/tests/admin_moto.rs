//! The admin routes against moto's DynamoDB: bad input is a clear JSON error. (Keys issued,
//! changed and revoked through these routes are tested against the invoke router in
//! functions/invoke/tests/auth_moto.rs.)

use std::sync::Arc;

use gateway_stores::admin::KeyAdmin;
use gateway_tests::Moto;
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use gateway_tests::router::{Reply, call, send};
use serde_json::{Value, json};

struct Fixture {
    _moto: Moto,
    admin: axum::Router,
}

async fn fixture() -> Fixture {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    create_key_tables(&sdk).await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let admin = admin::router(Arc::new(KeyAdmin::new(db, KEYS_TABLE, Some(USAGE_TABLE))));
    Fixture { _moto: moto, admin }
}

/// A JSON call without extra headers.
async fn admin_call(app: &axum::Router, method: &str, path: &str, body: Option<Value>) -> Reply {
    call(app, method, path, &[], body).await
}

type Headers<'a> = [(&'a str, &'a str)];

#[tokio::test]
async fn bad_admin_requests_are_clear_json_errors() {
    let f = fixture().await;
    let unknown = "key_0123456789abcdef";
    let json = [("content-type", "application/json")];
    // Bodies of POST /v1/admin/keys, with the status each gets.
    let issues: [(&[u8], &Headers, u16); 8] = [
        (b"{}", &json, 400),
        (br#"{"owner":""}"#, &json, 400),
        (br#"{"owner":"t","limits":{"rpm":5}}"#, &json, 400),
        (
            br#"{"owner":"t","limits":{"budget_day_usd":0}}"#,
            &json,
            400,
        ),
        (br#"{"owner":"t","key":"gwk_mine"}"#, &json, 400),
        (b"{\"owner\":", &json, 400),
        (br#"{"owner":"t"}"#, &[("content-type", "text/plain")], 415),
        (&[b' '; 70_000], &[], 413),
    ];
    for (body, headers, want) in issues {
        let r = send(
            &f.admin,
            "POST",
            "/v1/admin/keys",
            headers,
            Some(body.to_vec()),
        )
        .await;
        assert_eq!(
            r.status,
            want,
            "{}: {}",
            String::from_utf8_lossy(&body[..body.len().min(60)]),
            r.text
        );
        assert!(r.body["error"]["request_id"].is_string(), "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let key = format!("/v1/admin/keys/{unknown}");
    let patch = Some(br#"{"limits":{"tokens_per_minute":10}}"#.to_vec());
    let others = [
        ("PUT", "/v1/admin/keys", None, 405),
        ("GET", "/v1/admin/keys/not-an-id", None, 400),
        ("GET", &key, None, 404),
        ("DELETE", &key, None, 404),
        ("PATCH", &key, patch, 404),
        ("POST", &key, None, 405),
        ("GET", "/v1/admin/usage?from=2026-13-01", None, 400),
        (
            "GET",
            "/v1/admin/usage?from=2026-11-02&to=2026-11-01",
            None,
            400,
        ),
        (
            "GET",
            &format!("/v1/admin/usage?key_id={unknown}"),
            None,
            404,
        ),
        ("GET", "/v1/admin/nothing", None, 404),
        ("GET", "/v1/converse", None, 404),
        // Not valid percent-encoded UTF-8: axum's rejection, answered as the JSON error.
        ("GET", "/v1/admin/keys/%FF", None, 400),
        ("DELETE", "/v1/admin/keys/key_%C3%28", None, 400),
        ("PATCH", "/v1/admin/keys/%FF", Some(b"{}".to_vec()), 400),
    ];
    for (method, path, body, want) in others {
        let r = send(&f.admin, method, path, &json, body).await;
        assert_eq!(r.status, want, "{method} {path}: {}", r.text);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(
            r.body["error"]["type"].is_string(),
            "{method} {path}: {}",
            r.text
        );
        assert!(r.body["error"]["request_id"].is_string());
    }
    // A change must change something; an existing key makes it a 400, not a 404.
    let r = admin_call(
        &f.admin,
        "POST",
        "/v1/admin/keys",
        Some(json!({"owner": "t"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["key_id"].as_str().unwrap().to_owned();
    for body in [
        json!({}),
        json!({"limits": {}}),
        json!({"limits": {"requests_per_minute": -1}}),
    ] {
        let r = admin_call(
            &f.admin,
            "PATCH",
            &format!("/v1/admin/keys/{id}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.error_type(), "invalid_request");
    }
}

#[tokio::test]
async fn a_keys_concurrent_streams_are_set_changed_and_reset_to_the_default() {
    let f = fixture().await;
    for bad in [0, 1001] {
        let r = admin_call(
            &f.admin,
            "POST",
            "/v1/admin/keys",
            Some(json!({"owner": "t", "limits": {"max_concurrent_streams": bad}})),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert!(r.text.contains("max_concurrent_streams"), "{}", r.text);
    }
    let r = admin_call(
        &f.admin,
        "POST",
        "/v1/admin/keys",
        Some(json!({"owner": "t", "limits": {"max_concurrent_streams": 3}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["record"]["limits"]["max_concurrent_streams"], 3);
    let path = format!("/v1/admin/keys/{}", r.body["key_id"].as_str().unwrap());
    let r = admin_call(
        &f.admin,
        "PATCH",
        &path,
        Some(json!({"limits": {"max_concurrent_streams": 5}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["record"]["limits"]["max_concurrent_streams"], 5);
    // `null`: back to the deployment's default (no limit of its own).
    let r = admin_call(
        &f.admin,
        "PATCH",
        &path,
        Some(json!({"limits": {"max_concurrent_streams": null}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["record"]["limits"]
            .get("max_concurrent_streams")
            .is_none(),
        "{}",
        r.text
    );
    let r = admin_call(&f.admin, "GET", &path, None).await;
    assert!(
        r.body["record"]["limits"]
            .get("max_concurrent_streams")
            .is_none()
    );
}
