use gateway_stores::Services;
use inference_core::serve::{self, keep_serving};

/// The runtime, started after what must precede its threads (`serve::start`).
fn main() -> Result<(), lambda_http::Error> {
    serve::start(run())
}

async fn run() -> Result<(), lambda_http::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable).
    let services = Services::load().await?;
    let router = count::router(services.gateway);
    keep_serving(|| serve::http(router.clone())).await
}
