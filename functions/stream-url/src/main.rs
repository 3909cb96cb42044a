use inference_core::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable).
    let services = Services::load().await?.with_response_cache();
    lambda_http::run_with_streaming_response(stream_url::router(services.gateway)).await
}
