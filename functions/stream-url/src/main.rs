use inference_core::cache::ResponseCache;
use inference_core::{Gateway, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Configuration, catalog and SDK client once per cold start; a bad setting stops init here.
    let gateway = Gateway::from_env()
        .await?
        .with_auth(inference_core::auth::Auth::from_env().await?);
    // The response cache (`GATEWAY_CACHE`): memory, plus the DynamoDB tier when configured.
    let gateway = match ResponseCache::from_config(gateway.config()).await {
        Some(cache) => gateway.with_cache(cache),
        None => gateway,
    };
    telemetry::init(gateway.config());
    lambda_http::run_with_streaming_response(stream_url::router(gateway)).await
}
