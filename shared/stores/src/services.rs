//! The composition root of every function: what `main` builds once per cold start.
//!
//! The AWS SDK configuration (region, credentials, the standard `AWS_ENDPOINT_URL_*` endpoint
//! overrides) is loaded once here and every client is built from it: the Bedrock runtime and
//! control-plane clients, and
//! the stores a deployment configures (API keys, the response cache's table; `gateway-jobs`
//! builds the jobs table, queue and bucket from [`Services::sdk`]). Each `main` is then
//! `Services::load()`, the few parts its function uses, and the runtime; the same code path on
//! AWS and locally.

use inference_core::catalog::Catalog;
use inference_core::client::BedrockClient;
use inference_core::config::Config;
use inference_core::error::GatewayError;
use inference_core::pipeline::Gateway;
use inference_core::telemetry;

/// A failure at cold start: names the variable or resource at fault; stops the function's init.
pub type InitError = Box<dyn std::error::Error + Send + Sync>;

/// Everything a function builds once per cold start.
#[derive(Debug, Clone)]
pub struct Services {
    /// The SDK configuration, loaded once: the base of every AWS client the function makes.
    pub sdk: aws_config::SdkConfig,
    /// Configuration, catalog, the Bedrock client and (`GATEWAY_AUTH=api_key`) the API keys.
    pub gateway: Gateway,
}

impl Services {
    /// Reads the configuration (a bad value stops init here with a message naming the variable
    /// instead of failing every request later), starts telemetry, loads the catalog and the SDK
    /// configuration, and builds the gateway: the Bedrock client with the gateway's region, retry
    /// and timeout settings, and the API keys where `GATEWAY_AUTH` asks for them. The live
    /// catalog's refresh task starts here; its first read of the control plane waits until the
    /// first invocation has been answered (`GATEWAY_CATALOG_REFRESH_SECS`).
    pub async fn load() -> Result<Services, InitError> {
        let config = Config::from_env()?;
        telemetry::init(&config);
        let catalog = Catalog::load(&config)?;
        let sdk = inference_core::sdk_http::load_sdk_config().await;
        let client = BedrockClient::from_sdk_config(&sdk, &config);
        let control = inference_core::control::ControlPlane::from_sdk_config(&sdk, &config);
        let refresh = config.catalog_refresh_secs;
        let gateway = Gateway::new(config, catalog, client).with_control_plane(control.clone());
        if refresh > 0 {
            let every = std::time::Duration::from_secs(refresh.into());
            let first = inference_core::serve::first_answered();
            gateway.catalog_store().spawn_refresh(control, every, first);
        }
        let gateway = gateway.with_auth(crate::auth::from_sdk_config(&sdk)?);
        Ok(Services { sdk, gateway })
    }

    /// Adds the response cache (`GATEWAY_CACHE`; its DynamoDB tier with `GATEWAY_CACHE_TABLE`),
    /// for the functions that answer from it (invoke, stream-url).
    pub fn with_response_cache(mut self) -> Services {
        let cache = crate::cache::from_sdk_config(&self.sdk, self.gateway.config());
        if let Some(cache) = cache {
            self.gateway = self.gateway.with_cache(cache);
        }
        self
    }

    /// The admin function's key administration: both tables (`GATEWAY_KEYS_TABLE`,
    /// `GATEWAY_USAGE_TABLE`) are required whatever `GATEWAY_AUTH` says.
    pub fn key_admin(&self) -> Result<crate::admin::KeyAdmin, GatewayError> {
        crate::admin::KeyAdmin::from_sdk_config(&self.sdk)
    }
}
