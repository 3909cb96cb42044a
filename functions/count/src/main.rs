use inference_core::{BedrockClient, Catalog, Config, Gateway, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Configuration, catalog and the SDK client are built once per cold start; a bad setting
    // stops init here with a message naming the variable, instead of failing every request.
    let config = Config::from_env()?;
    telemetry::init(&config);
    let catalog = Catalog::load(&config)?;
    let client = BedrockClient::new(&config).await;
    let auth = inference_core::auth::Auth::from_env().await?;
    let gateway = Gateway::new(config, catalog, client).with_auth(auth);
    lambda_http::run(count::router(gateway)).await
}
