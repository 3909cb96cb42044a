use inference_core::serve::{self, keep_serving};
use inference_core::services::Services;

/// The runtime, started after what must precede its threads (`serve::start`).
fn main() -> Result<(), lambda_http::Error> {
    serve::start(run())
}

async fn run() -> Result<(), lambda_http::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable).
    let services = Services::load().await?.with_response_cache();
    let router = stream_url::router(services.gateway);
    // A stream whose client gave up must not end the process (inference_core::serve).
    keep_serving(|| serve::streaming(router.clone())).await
}
