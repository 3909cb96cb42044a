//! The Bedrock Runtime SDK client, built once per cold start from the standard AWS
//! configuration chain, so `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` and dummy credentials point it at
//! `bedrock-local` with no "am I local" code path.

use aws_sdk_bedrockruntime::Client;

use crate::config::Config;
use crate::resilience::{retry_config, timeout_config};

/// The Bedrock Runtime SDK client, configured from [`Config`].
#[derive(Debug, Clone)]
pub struct BedrockClient {
    client: Client,
}

impl BedrockClient {
    /// From the SDK configuration loaded once per cold start (`services::Services::load`), with
    /// the deployment's region and the gateway's retry and connect-timeout settings.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> BedrockClient {
        let shared = sdk
            .to_builder()
            .region(aws_config::Region::new(config.region.as_str().to_owned()))
            .retry_config(retry_config(config))
            .timeout_config(timeout_config(config))
            .build();
        BedrockClient {
            client: Client::new(&shared),
        }
    }

    /// Wraps an already built SDK client (tests, custom setups).
    pub fn from_sdk(client: Client) -> BedrockClient {
        BedrockClient { client }
    }

    /// A client for a fixed endpoint (`bedrock-local` in tests) with dummy static credentials and
    /// the gateway's retry and timeout settings, so every test crate builds it the same way. Not
    /// behind a feature: a test-only feature would make `cargo test --workspace` resolve this
    /// crate differently from `cargo build --workspace --bins` and build it twice (Makefile).
    pub fn for_endpoint(config: &Config, endpoint_url: &str) -> BedrockClient {
        use aws_sdk_bedrockruntime::config::{Credentials, Region};
        let sdk = aws_sdk_bedrockruntime::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new(config.region.as_str().to_owned()))
            .endpoint_url(endpoint_url)
            .http_client(crate::sdk_http::https_client())
            .credentials_provider(Credentials::new("test", "test", None, None, "test-util"))
            .retry_config(retry_config(config))
            .timeout_config(timeout_config(config))
            .build();
        BedrockClient::from_sdk(Client::from_conf(sdk))
    }

    /// The SDK client.
    pub fn sdk(&self) -> &Client {
        &self.client
    }
}

/// The deployment's trace setting as InvokeModel's `X-Amzn-Bedrock-Trace` value (upper case,
/// unlike Converse's `guardrailConfig.trace`): one mapping for the plain and the streamed call.
pub(crate) fn invoke_model_trace(
    trace: crate::config::GuardrailTrace,
) -> aws_sdk_bedrockruntime::types::Trace {
    use crate::config::GuardrailTrace;
    aws_sdk_bedrockruntime::types::Trace::from(match trace {
        GuardrailTrace::Disabled => "DISABLED",
        GuardrailTrace::Enabled => "ENABLED",
        GuardrailTrace::EnabledFull => "ENABLED_FULL",
    })
}
