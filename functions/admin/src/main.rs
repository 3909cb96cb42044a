use std::sync::Arc;

use inference_core::serve::{self, keep_serving};
use inference_core::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Built once per cold start; a missing keys or usage table stops init here, naming it.
    let services = Services::load().await?;
    let admin = services.key_admin()?;
    let router = admin::router(Arc::new(admin));
    keep_serving(|| serve::http(router.clone())).await
}
