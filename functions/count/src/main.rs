use inference_core::serve::{self, keep_serving};
use inference_core::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable).
    let services = Services::load().await?;
    let router = count::router(services.gateway);
    keep_serving(|| serve::http(router.clone())).await
}
