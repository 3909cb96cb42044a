use std::sync::Arc;

use inference_core::{Catalog, Config, telemetry};
use invoke::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Configuration and catalog are read once per cold start; a bad value stops init here with a
    // message naming the variable, instead of failing every request later.
    let config = Config::from_env()?;
    telemetry::init(&config);
    let catalog = Catalog::load(&config)?;
    let state = Arc::new(AppState { config, catalog });
    lambda_http::run(router(state)).await
}
