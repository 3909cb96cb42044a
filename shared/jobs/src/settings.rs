//! The jobs settings, read once per cold start. Table, queue, bucket and the HTTP flag come from
//! [`Config`]; the rest is read here because only the two job functions need it.

use inference_core::config::Config;
use inference_core::error::GatewayError;

use super::url_guard::UrlPolicy;
use super::webhook::WebhookSecret;

/// Default for `GATEWAY_JOBS_MAX_RECEIVE_COUNT`: the queue's `maxReceiveCount` in template.yaml
/// and the local stack.
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 3;

/// Where the webhook signing key comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// No key: webhooks are not sent (the job's `webhook` says so).
    None,
    /// `GATEWAY_WEBHOOK_SECRET_VALUE`: the key itself (local development and tests only).
    Literal(WebhookSecret),
    /// `GATEWAY_WEBHOOK_SECRET=arn:...:secretsmanager:...`: read at cold start.
    SecretsManager(String),
    /// `GATEWAY_WEBHOOK_SECRET=ssm:/name`: an SSM SecureString, read at cold start.
    Parameter(String),
}

/// What the job paths need.
#[derive(Debug, Clone)]
pub struct JobsSettings {
    /// `GATEWAY_JOBS_TABLE`.
    pub table: String,
    /// `GATEWAY_RESULTS_BUCKET`.
    pub bucket: String,
    /// `GATEWAY_JOBS_QUEUE_URL` (the API enqueues; async-callback does not need it).
    pub queue_url: Option<String>,
    /// `GATEWAY_JOBS_MAX_RECEIVE_COUNT`: on this delivery of a message a retryable failure is
    /// final (the queue moves the message to the DLQ next), so the job is marked failed first.
    pub max_receive_count: u32,
    /// `GATEWAY_ALLOW_HTTP_WEBHOOKS` as a URL policy.
    pub url_policy: UrlPolicy,
    /// The signing key's source.
    pub secret: SecretSource,
    /// Bedrock batch for jobs with a deadline (`None`: off, no `GATEWAY_BATCH_ROLE_ARN`).
    pub batch: Option<crate::batch::settings::BatchSettings>,
}

impl JobsSettings {
    /// From the process environment. `Ok(None)`: jobs are not configured (no table or bucket).
    pub fn from_env(config: &Config) -> Result<Option<JobsSettings>, GatewayError> {
        JobsSettings::from_lookup(config, |k| std::env::var(k).ok())
    }

    /// From any lookup (tests).
    pub fn from_lookup(
        config: &Config,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<JobsSettings>, GatewayError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let (Some(table), Some(bucket)) =
            (config.jobs_table.clone(), config.results_bucket.clone())
        else {
            return Ok(None);
        };
        let max_receive_count = match get("GATEWAY_JOBS_MAX_RECEIVE_COUNT") {
            None => DEFAULT_MAX_RECEIVE_COUNT,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    GatewayError::internal(format!(
                        "configuration: GATEWAY_JOBS_MAX_RECEIVE_COUNT: expected an integer from 1 to 1000, got {v:?}"
                    ))
                })?,
        };
        let secret = match (
            get("GATEWAY_WEBHOOK_SECRET_VALUE"),
            config.webhook_secret.as_deref(),
        ) {
            (Some(v), _) => SecretSource::Literal(WebhookSecret::new(v.into_bytes())),
            (None, None) => SecretSource::None,
            (None, Some(r)) => parse_reference(r)?,
        };
        let batch = crate::batch::settings::BatchSettings::from_lookup(get)?;
        Ok(Some(JobsSettings {
            batch,
            table,
            bucket,
            queue_url: config.jobs_queue_url.clone(),
            max_receive_count,
            url_policy: UrlPolicy::local_development(config.allow_http_webhooks),
            secret,
        }))
    }
}

/// `GATEWAY_WEBHOOK_SECRET` is a reference, never the key: a Secrets Manager ARN or
/// `ssm:<parameter name>`. Anything else is refused at start-up (it may be a pasted key, which
/// would then sit in the function's configuration in clear).
fn parse_reference(r: &str) -> Result<SecretSource, GatewayError> {
    let r = r.trim();
    if r.starts_with("arn:") && r.split(':').nth(2) == Some("secretsmanager") {
        return Ok(SecretSource::SecretsManager(r.to_owned()));
    }
    if let Some(name) = r.strip_prefix("ssm:").filter(|n| !n.is_empty()) {
        return Ok(SecretSource::Parameter(name.to_owned()));
    }
    Err(GatewayError::internal(
        "configuration: GATEWAY_WEBHOOK_SECRET: expected a Secrets Manager secret ARN or ssm:<parameter name> (a reference, not the key itself)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<JobsSettings>, GatewayError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("AWS_REGION".to_string(), "us-east-1".to_string())])
            .collect();
        let config = Config::from_lookup(|k| map.get(k).cloned()).unwrap();
        JobsSettings::from_lookup(&config, |k| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 2] = [("GATEWAY_JOBS_TABLE", "t"), ("GATEWAY_RESULTS_BUCKET", "b")];

    #[test]
    fn jobs_are_off_without_table_and_bucket() {
        assert!(settings(&[]).unwrap().is_none());
        let s = settings(&BASE).unwrap().unwrap();
        assert_eq!(s.max_receive_count, 3);
        assert!(matches!(s.secret, SecretSource::None));
        assert!(!s.url_policy.allow_http && !s.url_policy.allow_loopback);
    }

    #[test]
    fn secret_references_and_the_local_literal() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf";
        let s = settings(&[BASE[0], BASE[1], ("GATEWAY_WEBHOOK_SECRET", arn)])
            .unwrap()
            .unwrap();
        assert!(matches!(s.secret, SecretSource::SecretsManager(a) if a == arn));
        let s = settings(&[BASE[0], BASE[1], ("GATEWAY_WEBHOOK_SECRET", "ssm:/gw/hook")])
            .unwrap()
            .unwrap();
        assert!(matches!(s.secret, SecretSource::Parameter(p) if p == "/gw/hook"));
        assert!(
            settings(&[
                BASE[0],
                BASE[1],
                ("GATEWAY_WEBHOOK_SECRET", "whsec_pasted_key")
            ])
            .is_err()
        );
        let s = settings(&[BASE[0], BASE[1], ("GATEWAY_WEBHOOK_SECRET_VALUE", "k")])
            .unwrap()
            .unwrap();
        assert!(matches!(s.secret, SecretSource::Literal(k) if k.expose() == b"k"));
    }

    #[test]
    fn max_receive_count_is_checked() {
        let s = settings(&[BASE[0], BASE[1], ("GATEWAY_JOBS_MAX_RECEIVE_COUNT", "5")])
            .unwrap()
            .unwrap();
        assert_eq!(s.max_receive_count, 5);
        for bad in ["0", "x", "-1"] {
            assert!(
                settings(&[BASE[0], BASE[1], ("GATEWAY_JOBS_MAX_RECEIVE_COUNT", bad)]).is_err()
            );
        }
    }
}
