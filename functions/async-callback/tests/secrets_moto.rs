//! The webhook signing key is read from Secrets Manager and SSM (SecureString) as deployed, here
//! against moto's server; a reference that cannot be read fails the cold start with its name.

use aws_sdk_ssm::types::ParameterType;
use gateway_jobs::SecretSource;
use gateway_jobs::secrets;
use gateway_tests::Moto;

#[tokio::test]
async fn the_key_is_read_from_secrets_manager_and_ssm_and_a_missing_one_names_itself() {
    let moto = Moto::start();
    let sdk = moto.sdk().await;

    let arn = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("gateway/webhook")
        .secret_string("key-from-secrets-manager")
        .send()
        .await
        .expect("create secret")
        .arn()
        .expect("arn")
        .to_owned();
    let key = secrets::resolve(&sdk, &SecretSource::SecretsManager(arn))
        .await
        .expect("read the secret")
        .expect("a key");
    assert_eq!(key.expose(), b"key-from-secrets-manager");

    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name("/gateway/webhook")
        .value("key-from-ssm")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    let key = secrets::resolve(&sdk, &SecretSource::Parameter("/gateway/webhook".into()))
        .await
        .expect("read the parameter")
        .expect("a key");
    assert_eq!(key.expose(), b"key-from-ssm");

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gateway/none-AbCdEf";
    let err = secrets::resolve(&sdk, &SecretSource::SecretsManager(missing.into()))
        .await
        .expect_err("a missing secret stops the cold start");
    // Named by its variable and the store's answer; the ARN itself is replaced, as in every
    // GatewayError message (caller_safe), so an error that reaches a caller names no account.
    let text = err.to_string();
    assert!(
        text.contains("GATEWAY_WEBHOOK_SECRET") && text.contains("ResourceNotFoundException"),
        "{err}"
    );
    assert!(!text.contains("123456789012"), "{err}");
    let err = secrets::resolve(&sdk, &SecretSource::Parameter("/gateway/none".into()))
        .await
        .expect_err("a missing parameter stops the cold start");
    assert!(err.to_string().contains("/gateway/none"), "{err}");
    // The key is never part of an error message.
    assert!(!err.to_string().contains("key-from"), "{err}");
}
