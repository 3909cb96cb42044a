//! Shared state, the router, the front-door middleware (request ID, auth, request log) and
//! the serve loop with clean shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;

use crate::async_invoke::AsyncStore;
use crate::batch::BatchStore;
use crate::cache::PromptCache;
use crate::cli::Config;
use crate::faults::Faults;
use crate::guardrails::Guardrails;
use crate::profiles::Profiles;
use crate::stats::{Op, Stats};
use crate::{control, routes, sigv4};

/// Everything a handler needs; built once at start.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub stats: Stats,
    pub faults: Faults,
    pub cache: PromptCache,
    pub guardrails: Guardrails,
    pub async_jobs: Arc<AsyncStore>,
    pub profiles: Profiles,
    pub batch_jobs: Arc<BatchStore>,
}

impl AppState {
    pub fn new(config: Config) -> Result<Arc<Self>, String> {
        let guardrails = Guardrails::load(config.guardrails.as_deref())?;
        Ok(Arc::new(AppState {
            faults: Faults::new(config.fault_rate, config.seed),
            stats: Stats::default(),
            cache: PromptCache::default(),
            guardrails,
            async_jobs: Arc::new(AsyncStore::default()),
            profiles: Profiles::default(),
            batch_jobs: Arc::new(BatchStore::default()),
            config,
        }))
    }
}

/// The full router: Bedrock Runtime and control-plane operations behind the auth check, plus
/// `/_local/`. The two services' URIs do not overlap, so one port serves both
/// (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` and `AWS_ENDPOINT_URL_BEDROCK` may name the same URL).
pub fn router(state: Arc<AppState>) -> Router {
    let bedrock = Router::new()
        .route("/model/{model_id}/converse", post(routes::converse))
        .route(
            "/model/{model_id}/converse-stream",
            post(routes::converse_stream),
        )
        .route("/model/{model_id}/invoke", post(routes::invoke))
        .route(
            "/model/{model_id}/invoke-with-response-stream",
            post(routes::invoke_stream),
        )
        .route("/model/{model_id}/count-tokens", post(routes::count_tokens))
        .route(
            "/guardrail/{id}/version/{version}/apply",
            post(routes::apply_guardrail),
        )
        .route(
            "/async-invoke",
            post(routes::start_async).get(routes::list_async),
        )
        .route("/async-invoke/{arn}", get(routes::get_async))
        .route("/foundation-models", get(routes::list_foundation_models))
        .route(
            "/foundation-models/{model_id}",
            get(routes::get_foundation_model),
        )
        .route(
            "/inference-profiles",
            get(routes::list_inference_profiles).post(routes::create_inference_profile),
        )
        .route(
            "/inference-profiles/{id}",
            get(routes::get_inference_profile).delete(routes::delete_inference_profile),
        )
        .route(
            "/model-invocation-job",
            post(routes::create_model_invocation_job),
        )
        .route(
            "/model-invocation-job/{id}",
            get(routes::get_model_invocation_job),
        )
        .route(
            "/model-invocation-job/{id}/stop",
            post(routes::stop_model_invocation_job),
        )
        .route(
            "/model-invocation-jobs",
            get(routes::list_model_invocation_jobs),
        )
        .route("/listTagsForResource", post(routes::list_tags_for_resource))
        .route("/tagResource", post(routes::tag_resource))
        .route("/untagResource", post(routes::untag_resource))
        .fallback(unknown_operation)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            front_door,
        ));
    Router::new()
        .nest("/_local", control::router())
        .merge(bedrock)
        .layer(middleware::from_fn(request_id))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn unknown_operation() -> Response {
    let mut r = (axum::http::StatusCode::NOT_FOUND, r#"{"message":null}"#).into_response();
    r.headers_mut().insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static("UnknownOperationException"),
    );
    r
}

/// Every response carries `x-amzn-RequestId`.
async fn request_id(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
}

/// Auth check, per-operation counters, and the optional request log line.
async fn front_door(
    State(state): State<Arc<AppState>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let op = Op::from_request(req.method(), req.uri().path());
    if let Some(op) = op {
        state.stats.request(op);
    }
    let log = state.config.log_requests.then(|| {
        let path = req.uri().path();
        let model = path
            .strip_prefix("/model/")
            .and_then(|r| r.split('/').next())
            .map(|m| routes::percent_decode(m).unwrap_or_else(|_| m.to_string()))
            .unwrap_or_else(|| "-".into());
        (op.map_or("Unknown", Op::name), model)
    });
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let resp = match sigv4::check(auth) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    if let Some((op, model)) = log {
        eprintln!("{op} {model} {}", resp.status().as_u16());
    }
    resp
}

/// SIGTERM/SIGINT handlers, installed before the address is announced so a signal sent
/// right after start-up stops the server cleanly instead of killing it.
#[derive(Debug)]
pub struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Shutdown {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Runs the server on a bound listener until `shutdown` fires. In-flight requests get two
/// seconds to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let app = router(state);
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let graceful = async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    // Stream frames are small writes: without TCP_NODELAY, Nagle + delayed ACK hold each
    // one back ~40 ms, which would break TTFT and pacing.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let signals = async move {
        shutdown.wait().await;
        let _ = tx.send(true);
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    tokio::select! {
        r = server.into_future() => r,
        () = signals => Ok(()),
    }
}
