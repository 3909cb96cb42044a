use std::sync::Arc;

use gateway_jobs::JobsSettings;
use gateway_stores::Services;
use inference_core::serve::{self, keep_serving};
use stream_url::batches::BatchesApi;

/// The runtime, started after what must precede its threads (`serve::start`).
fn main() -> Result<(), lambda_http::Error> {
    serve::start(run())
}

async fn run() -> Result<(), lambda_http::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable).
    let services = Services::load().await?.with_response_cache();
    // OpenAI batches: each line a job (`batches`), when the jobs table, queue and bucket are set.
    let batches = JobsSettings::from_env(services.gateway.config())?
        .and_then(|settings| BatchesApi::new(&services.sdk, settings))
        .map(Arc::new);
    let router = stream_url::router_with(services.gateway, batches);
    // A stream whose client gave up must not end the process (inference_core::serve).
    keep_serving(|| serve::streaming(router.clone())).await
}
