//! The function's router: the gateway's streaming routes (`routes`) and the OpenAI- and
//! Anthropic-compatible ones (`compat`), behind the layers every request passes.

use axum::extract::Request;
use axum::middleware;
use axum::response::Response;
use axum::{Extension, Router, routing::post};
use inference_core::Gateway;
use inference_core::web::{self, Scope};

use crate::{FUNCTION, batches, compat, routes};

/// The function's router. The gateway is built once per cold start. Unknown paths are 404 and
/// other methods 405, as JSON; every response carries `x-request-id` (`web::request_scope`).
pub fn router(gateway: Gateway) -> Router {
    router_with(gateway, None)
}

/// The router with OpenAI batches on (`batches`: `None` answers their routes 500, naming the
/// jobs settings they need).
pub fn router_with(gateway: Gateway, batches: batches::Api) -> Router {
    let scope = Scope::new(FUNCTION, gateway.config().max_body_bytes);
    let routes = Router::new()
        .route("/converse", post(routes::converse))
        .route("/invoke/{model}", post(routes::invoke))
        // OpenAI- and Anthropic-compatible routes (`compat`, docs/compat.md).
        .merge(compat::routes())
        .merge(batches::routes())
        .layer(Extension(batches));
    web::edge(routes, scope, Some(gateway.auth().clone()))
        .layer(middleware::from_fn(runtime_nodelay))
        // Outermost: errors on the compat paths in the provider's shape (after every layer).
        .layer(middleware::from_fn(compat::provider_errors))
        .with_state(gateway)
}

/// Before each response: small stream writes must leave at once (see `runtime_socket`). The
/// descriptor scan runs on a thread of its own while the handler works (admission, the upstream
/// call), not before it on a worker: with hundreds of streams open it takes a fraction of a
/// millisecond, and invocations handed out together share scans (`SharedScans`). The response
/// is returned, and so written, only once both are done.
async fn runtime_nodelay(req: Request, next: middleware::Next) -> Response {
    use crate::runtime_socket::{Nodelay, SharedScans, runtime_api_addrs};
    static SCANS: std::sync::OnceLock<std::sync::Arc<SharedScans>> = std::sync::OnceLock::new();
    let scans = SCANS.get_or_init(|| {
        let nodelay = Nodelay::new(runtime_api_addrs());
        SharedScans::new(move || {
            nodelay.apply();
        })
    });
    let ((), response) = tokio::join!(scans.after_a_fresh_scan(), next.run(req));
    response
}
