use inference_core::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable).
    let services = Services::load().await?;
    lambda_http::run(count::router(services.gateway)).await
}
