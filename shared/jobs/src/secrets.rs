//! Reads the deployment's webhook signing key from where `GATEWAY_WEBHOOK_SECRET` points: a
//! Secrets Manager secret (its `SecretString`) or an SSM SecureString parameter. async-callback
//! reads it once per cold start (it signs); invoke on the first `GET /v1/jobs/webhook-secret`
//! (it hands each API key its derived key). The key is never logged; a reference that cannot be
//! read is an error naming the reference.

use super::settings::SecretSource;
use super::webhook::WebhookSecret;
use inference_core::error::GatewayError;

/// The key, or `None` when none is configured.
pub async fn resolve(
    sdk: &aws_config::SdkConfig,
    source: &SecretSource,
) -> Result<Option<WebhookSecret>, GatewayError> {
    let fail = |what: &str, r: &str, e: String| {
        GatewayError::internal(format!(
            "configuration: GATEWAY_WEBHOOK_SECRET: cannot read {what} {r}: {e}"
        ))
    };
    match source {
        SecretSource::None => Ok(None),
        SecretSource::Literal(k) => Ok(Some(k.clone())),
        SecretSource::SecretsManager(arn) => {
            let out = aws_sdk_secretsmanager::Client::new(sdk)
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| {
                    fail(
                        "secret",
                        arn,
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
            let key = out
                .secret_string()
                .ok_or_else(|| fail("secret", arn, "it has no SecretString".into()))?;
            Ok(Some(WebhookSecret::new(key.as_bytes().to_vec())))
        }
        SecretSource::Parameter(name) => {
            let out = aws_sdk_ssm::Client::new(sdk)
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| {
                    fail(
                        "parameter",
                        name,
                        aws_sdk_ssm::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
            let key = out
                .parameter()
                .and_then(|p| p.value())
                .ok_or_else(|| fail("parameter", name, "it has no value".into()))?;
            Ok(Some(WebhookSecret::new(key.as_bytes().to_vec())))
        }
    }
}
