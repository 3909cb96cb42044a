use std::sync::Arc;

use inference_core::cache::ResponseCache;
use inference_core::jobs::JobsSettings;
use inference_core::{BedrockClient, Catalog, Config, Gateway, telemetry};
use invoke::jobs::JobsApi;
use invoke::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Configuration, catalog and the SDK client are built once per cold start; a bad value stops
    // init here with a message naming the variable, instead of failing every request later.
    let config = Config::from_env()?;
    telemetry::init(&config);
    let catalog = Catalog::load(&config)?;
    let client = BedrockClient::new(&config).await;
    let jobs = match JobsSettings::from_env(&config)? {
        Some(settings) => {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            JobsApi::new(&sdk, settings)
        }
        None => None,
    };
    let auth = inference_core::auth::Auth::from_env().await?;
    // The response cache (`GATEWAY_CACHE`): memory, plus the DynamoDB tier when configured.
    let cache = ResponseCache::from_config(&config).await;
    let mut gateway = Gateway::new(config, catalog, client).with_auth(auth);
    if let Some(cache) = cache {
        gateway = gateway.with_cache(cache);
    }
    let state = Arc::new(AppState::new(gateway).with_jobs(jobs));
    lambda_http::run(router(state)).await
}
