//! `gateway_jobs::s3` (the results bucket's calls, SigV4-signed here, no S3 SDK crate) against
//! moto with authentication on: moto checks each request's signature with botocore's signer
//! and the IAM user's key, so a canonical request that differs from S3's in any byte (path
//! encoding, query, signed headers, payload hash) fails here as it would on S3.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use gateway_jobs::s3::Bucket;
use gateway_tests::Moto;

const BUCKET: &str = "gw-results";

/// moto checks signatures after this many actions: CreateBucket, then the IAM user's three.
const UNCHECKED_ACTIONS: &str = "4";

/// Creates an IAM user allowed everything and its access key (boto3, the last actions before
/// authentication is on). Returns (key id, secret).
fn iam_key(moto: &Moto) -> (String, String) {
    let script = r#"
import sys, json, boto3
url = sys.argv[1]
iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName="gw")
iam.put_user_policy(UserName="gw", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="gw")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
"#;
    let out = std::process::Command::new(gateway_tests::moto::python())
        .args(["-c", script, &moto.url])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (id, secret) = text.trim().split_once(' ').expect("key id and secret");
    (id.to_owned(), secret.to_owned())
}

fn with_key(sdk: &SdkConfig, id: &str, secret: &str) -> SdkConfig {
    sdk.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            id, secret, None, None, "test",
        )))
        .build()
}

#[tokio::test]
async fn signed_calls_pass_moto_signature_checks() {
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", UNCHECKED_ACTIONS)]);
    let sdk = moto.sdk().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
    .create_bucket()
    .bucket(BUCKET)
    .send()
    .await
    .expect("bucket");
    let (id, secret) = iam_key(&moto);
    let bucket = Bucket::new(&with_key(&sdk, &id, &secret), BUCKET);

    // Keys whose segments need percent-encoding, in the path and in a list prefix.
    let keys = ["files/a b+c&d=ü.jsonl", "files/x~y_z.json"];
    for (i, key) in keys.iter().enumerate() {
        bucket
            .put(
                key,
                "application/json",
                format!("{{\"n\":{i}}}").into_bytes(),
            )
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e}"));
    }
    bucket
        .put("other/k.json", "application/json", b"{}".to_vec())
        .await
        .unwrap();
    for (i, key) in keys.iter().enumerate() {
        let object = bucket.get(key).await.unwrap().expect("the object");
        assert_eq!(object.content_length, Some(7));
        assert!(object.e_tag.is_some());
        assert_eq!(
            object.bytes().await.unwrap(),
            format!("{{\"n\":{i}}}").as_bytes()
        );
    }
    assert!(bucket.get("files/missing.json").await.unwrap().is_none());
    let mut listed = bucket.list_keys("files/").await.unwrap();
    listed.sort();
    assert_eq!(listed, keys);

    // The same key ID with a wrong secret: moto refuses the signature, and the error says so.
    let forged = Bucket::new(&with_key(&sdk, &id, "not-the-secret"), BUCKET);
    let e = forged
        .put("files/f.json", "application/json", b"{}".to_vec())
        .await
        .unwrap_err();
    assert!(
        e.contains("403") && e.contains("SignatureDoesNotMatch"),
        "{e}"
    );
    let e = forged.get(keys[0]).await.unwrap_err();
    assert!(e.contains("SignatureDoesNotMatch"), "{e}");

    // A missing bucket is an error, not a missing key.
    let missing = bucket.named("no-such-bucket");
    let e = missing.get("k.json").await.unwrap_err();
    assert!(e.contains("404 NoSuchBucket"), "{e}");
    let e = missing
        .put("k.json", "application/json", b"{}".to_vec())
        .await
        .unwrap_err();
    assert!(e.contains("NoSuchBucket"), "{e}");
}
