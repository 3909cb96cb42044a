//! `ResultLinks` (SigV4 by hand, no S3 crate) must produce the very link the S3 client presigns
//! for the same configuration, key, credentials and time: same endpoint, path, query and
//! signature.

use std::time::{Duration, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::presigning::PresigningConfig;
use gateway_jobs::presign::ResultLinks;
use gateway_jobs::results::PRESIGN_TTL;

fn creds(token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token.map(str::to_owned),
        None,
        "test",
    )
}

fn sdk(region: &str, endpoint: Option<&str>, token: Option<&str>) -> SdkConfig {
    let mut b = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(creds(token)));
    if let Some(e) = endpoint {
        b = b.endpoint_url(e);
    }
    b.build()
}

async fn sdk_link(sdk: &SdkConfig, bucket: &str, key: &str, at: std::time::SystemTime) -> String {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    let cfg = PresigningConfig::builder()
        .start_time(at)
        .expires_in(PRESIGN_TTL)
        .build()
        .unwrap();
    aws_sdk_s3::Client::from_conf(conf)
        .get_object()
        .bucket(bucket)
        .key(key)
        .presigned(cfg)
        .await
        .unwrap()
        .uri()
        .to_owned()
}

#[tokio::test]
async fn links_match_the_s3_clients_presigned_get() {
    let at = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let cases = [
        ("us-east-1", None, None, "results/job_01.json"),
        (
            "eu-west-1",
            None,
            Some("SESSIONTOKEN/+="),
            "results/a b+c.json",
        ),
        ("cn-north-1", None, None, "results/x.json"),
        (
            "us-east-1",
            Some("http://127.0.0.1:5000"),
            None,
            "results/job_02.json",
        ),
    ];
    for (region, endpoint, token, key) in cases {
        let sdk = sdk(region, endpoint, token);
        let ours = ResultLinks::new(&sdk, "gw-results")
            .presign_get_at(key, creds(token), at)
            .unwrap();
        let theirs = sdk_link(&sdk, "gw-results", key, at).await;
        assert_eq!(ours, theirs, "{region} {endpoint:?} {key}");
        assert!(ours.contains("X-Amz-Signature="), "{ours}");
    }
}

#[tokio::test]
async fn presign_get_reports_the_expiry() {
    let sdk = sdk("us-east-1", None, None);
    let (url, expires) = ResultLinks::new(&sdk, "b")
        .presign_get("k.json")
        .await
        .unwrap();
    assert!(url.starts_with("https://s3.us-east-1.amazonaws.com/b/k.json?x-id=GetObject&"));
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((expires - now - PRESIGN_TTL.as_secs() as i64).abs() <= 2);
}
