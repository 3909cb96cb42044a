//! Keeps a function polling the Lambda Runtime API after a response it could not deliver.
//!
//! `lambda_runtime` returns out of `run` when posting a response fails: a client that gave up
//! (a Function URL stream cut early, `cargo lambda watch` dropping the connection) is enough.
//! Returned from `main`, that ends the process: on AWS the next caller pays a cold start, and
//! under `cargo lambda watch` nothing restarts it. The call itself was already recorded and
//! settled by the pipeline, so the right move is to log it and ask for the next event.
//!
//! Every function runs through [`run`]: `lambda_runtime`'s concurrent entry point, so one binary
//! serves one invocation at a time on classic Lambda (`AWS_LAMBDA_MAX_CONCURRENCY` unset) and
//! that many at once on Lambda Managed Instances. There each of the N workers is its own poll
//! loop, and the runtime ends a worker whose response could not be posted (the process lives
//! on with one worker fewer); [`Undelivered`] keeps the worker, so capacity does not shrink with
//! every client that gave up.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::Map;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{LambdaInvocation, Runtime};
use tokio::sync::Notify;

/// What `lambda_runtime` returns and its services fail with.
pub type RuntimeError = lambda_runtime::Error;

/// Runs `runtime` (from `lambda_http::runtime_concurrent`, `streaming_runtime_concurrent` or
/// `lambda_runtime::Runtime::new`) with the runtime's tracing span per invocation and
/// [`Undelivered`]: N workers when `AWS_LAMBDA_MAX_CONCURRENCY` is N > 1, else one loop.
/// Called under [`keep_serving`], which starts it again when it returns.
pub async fn run<S>(runtime: Runtime<S>) -> Result<(), RuntimeError>
where
    S: Service<LambdaInvocation, Response = (), Error = RuntimeError> + Clone + Send + 'static,
    S::Future: Send,
{
    runtime
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(Undelivered)
        .run_concurrent()
        .await
}

/// Serves an HTTP function's `router` (API Gateway events) with [`run`]. Each answer is turned
/// into `lambda_http`'s own response first (what the runtime would do anyway: these functions
/// answer in one piece): the concurrent entry point needs a `Sync` response, and axum's body is
/// not.
#[cfg(feature = "web")]
pub async fn http(router: axum::Router) -> Result<(), RuntimeError> {
    use lambda_http::{IntoResponse, Service};
    let handler = lambda_http::service_fn(move |req: lambda_http::Request| {
        let mut router = router.clone();
        async move {
            let res = router.call(req).await?;
            Ok::<_, std::convert::Infallible>(res.into_response().await)
        }
    });
    run(lambda_http::runtime_concurrent(handler)).await
}

/// Serves stream-url's `router` (Function URL events, `RESPONSE_STREAM`) with [`run`].
#[cfg(feature = "web")]
pub async fn streaming(router: axum::Router) -> Result<(), RuntimeError> {
    run(lambda_http::streaming_runtime_concurrent(router)).await
}

/// Outermost runtime layer: an invocation whose result could not be posted to the Runtime API
/// (the only error left once the handler's own errors are reported as Lambda errors) is logged
/// and counts as done, so the worker polls for the next event instead of ending.
#[derive(Debug, Clone, Copy, Default)]
pub struct Undelivered;

impl<S> Layer<S> for Undelivered {
    type Service = UndeliveredService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        UndeliveredService(inner)
    }
}

/// The service [`Undelivered`] wraps around the runtime's own.
#[derive(Debug, Clone)]
pub struct UndeliveredService<S>(S);

type Settle = fn(Result<(), RuntimeError>) -> Result<(), RuntimeError>;

fn settle(result: Result<(), RuntimeError>) -> Result<(), RuntimeError> {
    FIRST_ANSWER.mark();
    if let Err(e) = result {
        tracing::warn!(error = %e, "result not delivered to the Lambda Runtime API (the client gave up?); polling for the next event");
    }
    Ok(())
}

impl<S> Service<LambdaInvocation> for UndeliveredService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = RuntimeError>,
{
    type Response = ();
    type Error = RuntimeError;
    type Future = Map<S::Future, Settle>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RuntimeError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: LambdaInvocation) -> Self::Future {
        self.0.call(req).map(settle as Settle)
    }
}

/// Builds the tokio runtime and runs a function's `main` on it, after the steps that must come
/// before any thread starts ([`tls_roots::prefer_system_bundle`](crate::tls_roots)). Every
/// function's `main` is this, instead of `#[tokio::main]`.
///
/// Classic Lambda hands an environment one invocation at a time, so there one thread runs
/// everything: no worker threads to start at cold start, no wake-ups across threads. Lambda
/// Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` > 1) get the multi-thread runtime, a worker
/// per core, for the invocations that run at once, unless the environment has a single core,
/// where worker threads would add the wake-ups and no parallelism.
pub fn start<E>(main: impl Future<Output = Result<(), E>>) -> Result<(), E>
where
    E: From<std::io::Error>,
{
    crate::tls_roots::prefer_system_bundle();
    let max_concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok();
    let cores = || std::thread::available_parallelism().map_or(1, usize::from);
    let mut builder = if multi_threaded(max_concurrency.as_deref(), cores) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build()?.block_on(main)
}

/// Whether worker threads can help: invocations run at once (`AWS_LAMBDA_MAX_CONCURRENCY`
/// parsed as `lambda_runtime` parses it: a whole number; unset, unparsable or 1 means one at a
/// time) and there is more than one core (`available_parallelism`, which follows the cgroup's
/// CPU quota) to run them on. The cores are counted only then: on classic Lambda that reading
/// of the cgroup's files would be cold-start work for nothing.
fn multi_threaded(max_concurrency: Option<&str>, cores: impl FnOnce() -> usize) -> bool {
    max_concurrency
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|n| n > 1)
        && cores() > 1
}

/// Reached once the first invocation has ended (its result posted, or given up on): work a
/// function can defer past its first answer, so that the answer does not share the CPU with it
/// (the live catalog's first read of the control plane).
static FIRST_ANSWER: Milestone = Milestone::new();

/// Resolves once the process has answered its first invocation (at once if it already has).
pub async fn first_answered() {
    FIRST_ANSWER.reached().await;
}

/// A one-way flag a task can wait for.
#[derive(Debug)]
struct Milestone {
    done: AtomicBool,
    notify: Notify,
}

impl Milestone {
    const fn new() -> Milestone {
        Milestone {
            done: AtomicBool::new(false),
            notify: Notify::const_new(),
        }
    }

    fn mark(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.notify.notify_waiters();
        }
    }

    async fn reached(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Registered before the check, so a `mark` between the two is not missed.
        notified.as_mut().enable();
        if self.done.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    /// A run that lasted at least this long counts as healthy: the next failure starts over.
    healthy_run: Duration,
    /// Quick failures in a row after which the Runtime API is taken to be gone for good.
    max_quick_failures: u32,
    /// First pause after a quick failure; doubled each time, at most `max_pause`.
    first_pause: Duration,
    max_pause: Duration,
}

const BACKOFF: Backoff = Backoff {
    healthy_run: Duration::from_secs(1),
    max_quick_failures: 20,
    first_pause: Duration::from_millis(50),
    max_pause: Duration::from_secs(2),
};

/// Runs `start()` (one `lambda_runtime::run` / `lambda_http::run*` over a fresh handler) and
/// starts it again whenever it returns an error. Returns `Ok` when a run ends normally, and the
/// error after 20 runs in a row that each failed within a second (the Runtime API is
/// unreachable: exiting is then the only useful thing left).
pub async fn keep_serving<F, Fut, E>(start: F) -> Result<(), E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    keep_serving_with(BACKOFF, start).await
}

async fn keep_serving_with<F, Fut, E>(b: Backoff, mut start: F) -> Result<(), E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut quick = 0;
    let mut pause = b.first_pause;
    loop {
        let began = Instant::now();
        let Err(e) = start().await else {
            return Ok(());
        };
        if began.elapsed() >= b.healthy_run {
            quick = 0;
            pause = b.first_pause;
        } else {
            quick += 1;
            if quick >= b.max_quick_failures {
                tracing::error!(error = %e, failures = quick, "Lambda Runtime API keeps failing; exiting");
                return Err(e);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(b.max_pause);
        }
        tracing::warn!(error = %e, "Lambda Runtime API exchange failed (a response not delivered?); polling for the next event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// `BACKOFF` scaled down to milliseconds.
    const FAST: Backoff = Backoff {
        healthy_run: Duration::from_millis(20),
        max_quick_failures: 5,
        first_pause: Duration::from_millis(1),
        max_pause: Duration::from_millis(4),
    };

    #[test]
    fn only_a_max_concurrency_above_one_on_several_cores_gets_the_multi_thread_runtime() {
        for classic in [
            None,
            Some(""),
            Some("1"),
            Some("0"),
            Some("eight"),
            Some("-4"),
        ] {
            assert!(
                !multi_threaded(classic, || panic!("cores counted for {classic:?}")),
                "{classic:?}"
            );
        }
        for lmi in ["2", "8", "64"] {
            assert!(multi_threaded(Some(lmi), || 2), "{lmi}");
            assert!(!multi_threaded(Some(lmi), || 1), "{lmi} on one core");
        }
    }

    #[test]
    fn an_undelivered_result_counts_as_done() {
        assert!(settle(Err("connection reset by peer".into())).is_ok());
        assert!(settle(Ok(())).is_ok());
    }

    #[tokio::test]
    async fn a_milestone_wakes_who_waits_and_lets_later_waiters_through() {
        let m = std::sync::Arc::new(Milestone::new());
        let waiter = tokio::spawn({
            let m = std::sync::Arc::clone(&m);
            async move { m.reached().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "reached before it was marked");
        m.mark();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("a waiter was not woken")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), m.reached())
            .await
            .expect("a later waiter waited");
    }

    #[tokio::test]
    async fn an_ended_invocation_marks_the_first_answer() {
        // Whatever the result: a delivered one, or one the Runtime API did not take.
        let _ = settle(Err("connection reset by peer".into()));
        tokio::time::timeout(Duration::from_secs(5), first_answered())
            .await
            .expect("the first answer was not marked");
    }

    #[tokio::test]
    async fn a_failed_run_is_started_again_until_one_ends() {
        let runs = AtomicU32::new(0);
        let r: Result<(), String> = keep_serving_with(FAST, || async {
            match runs.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err("broken pipe".to_owned()),
                _ => Ok(()),
            }
        })
        .await;
        assert_eq!(r, Ok(()));
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_runtime_api_that_is_gone_ends_it_after_a_bounded_number_of_tries() {
        let runs = AtomicU32::new(0);
        let r: Result<(), String> = keep_serving_with(FAST, || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err("connection refused".to_owned())
        })
        .await;
        assert_eq!(r, Err("connection refused".to_owned()));
        assert_eq!(runs.load(Ordering::SeqCst), FAST.max_quick_failures);
    }

    #[tokio::test]
    async fn failures_far_apart_never_end_it() {
        let runs = AtomicU32::new(0);
        let r: Result<(), String> = keep_serving_with(FAST, || async {
            let n = runs.fetch_add(1, Ordering::SeqCst);
            // Each run serves for a while, then loses a response.
            tokio::time::sleep(FAST.healthy_run).await;
            if n < 3 * FAST.max_quick_failures {
                Err("broken pipe".to_owned())
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(r, Ok(()));
    }
}
