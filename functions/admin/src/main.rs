use std::sync::Arc;

use gateway_stores::Services;
use inference_core::serve::{self, keep_serving};

/// The runtime, started after what must precede its threads (`serve::start`).
fn main() -> Result<(), lambda_http::Error> {
    serve::start(run())
}

async fn run() -> Result<(), lambda_http::Error> {
    // Built once per cold start; a missing keys or usage table stops init here, naming it.
    let services = Services::load().await?;
    let admin = services.key_admin()?;
    // Bad console settings stop the cold start here, naming the variable.
    let console = admin::console::ConsoleConfig::from_env()?;
    let token = admin::access::AdminToken::from_env()?;
    let router = admin::router_with(Arc::new(admin), console, token);
    keep_serving(|| serve::http(router.clone())).await
}
