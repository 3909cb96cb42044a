use std::sync::Arc;

use inference_core::auth::admin::KeyAdmin;
use inference_core::{Config, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // A missing table stops init here with a message naming the variable.
    let config = Config::from_env()?;
    telemetry::init(&config);
    let admin = KeyAdmin::from_env().await?;
    lambda_http::run(admin::router(Arc::new(admin))).await
}
