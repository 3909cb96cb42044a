use std::sync::Arc;

use gateway_jobs::JobsSettings;
use gateway_stores::Services;
use inference_core::serve::{self, keep_serving};
use invoke::{AppState, JobsApi, router};

/// The runtime, started after what must precede its threads (`serve::start`).
fn main() -> Result<(), lambda_http::Error> {
    serve::start(run())
}

async fn run() -> Result<(), lambda_http::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable).
    let services = Services::load().await?.with_response_cache();
    let jobs = JobsSettings::from_env(services.gateway.config())?
        .and_then(|settings| JobsApi::new(&services.sdk, settings));
    let state = Arc::new(AppState::new(services.gateway).with_jobs(jobs));
    let router = router(state);
    keep_serving(|| serve::http(router.clone())).await
}
