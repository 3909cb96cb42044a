use inference_core::{Gateway, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Configuration, catalog and SDK client once per cold start; a bad setting stops init here.
    let gateway = Gateway::from_env().await?;
    telemetry::init(gateway.config());
    lambda_http::run_with_streaming_response(stream_url::router(gateway)).await
}
