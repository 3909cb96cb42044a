//! One function process under the harness's runtime API: launched as Lambda launches it, driven
//! event by event, observed through the runtime API's timestamps.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::procs::ChildGuard;
use crate::runtime_api::{ApiOptions, Arrival, RuntimeApi, Signal};

/// How to start a function.
#[derive(Debug, Clone)]
pub enum FnKind {
    /// A `provided.al2023` bootstrap binary.
    Rust { bin: PathBuf },
    /// `python -m awslambdaric <handler>` in `task_root`, as the Python managed runtime does.
    Python {
        python: PathBuf,
        task_root: PathBuf,
        handler: String,
    },
}

#[derive(Debug, Clone)]
pub struct FnSpec {
    /// Name in the report and in `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    pub kind: FnKind,
}

/// What every launch shares.
#[derive(Debug, Clone)]
pub struct LaunchCtx {
    pub bedrock_url: String,
    pub log_dir: PathBuf,
    pub memory_mb: u32,
    /// Socket options of each session's runtime API.
    pub api: ApiOptions,
    /// Set after the Lambda environment: a function setting one measurement varies (the
    /// streaming section's paced streams without the content filter).
    pub env: Vec<(String, String)>,
}

/// Why a function could not be measured.
#[derive(Debug, Clone)]
pub enum Failure {
    Spawn(String),
    /// Exited before doing what was awaited (`code` 0 before the first `next`: a placeholder
    /// `fn main() {}`).
    Exited {
        code: Option<i32>,
        waiting_for: &'static str,
        log: String,
    },
    InitError(String),
    FunctionError(String),
    Timeout {
        waiting_for: &'static str,
        log: String,
    },
}

impl Failure {
    /// A placeholder binary: exits 0 without ever asking for an event.
    pub fn is_not_implemented(&self) -> bool {
        matches!(
            self,
            Failure::Exited {
                code: Some(0),
                waiting_for: "first next",
                ..
            }
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Spawn(e) => write!(f, "could not start: {e}"),
            Failure::Exited {
                code: Some(0),
                waiting_for: "first next",
                ..
            } => {
                write!(
                    f,
                    "exited with status 0 without calling the runtime API (not implemented yet)"
                )
            }
            Failure::Exited {
                code,
                waiting_for,
                log,
            } => {
                write!(
                    f,
                    "exited ({code:?}) while waiting for {waiting_for}; log tail: {log}"
                )
            }
            Failure::InitError(b) => write!(f, "reported an init error: {b}"),
            Failure::FunctionError(b) => write!(f, "reported a function error: {b}"),
            Failure::Timeout { waiting_for, log } => {
                write!(f, "timed out waiting for {waiting_for}; log tail: {log}")
            }
        }
    }
}

/// One completed invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub handed_out: Instant,
    pub done: Instant,
    pub body: Bytes,
    pub streaming: bool,
    /// When each body frame reached the runtime API (see [`Outcome::arrival_of`]).
    pub arrivals: Vec<Arrival>,
    /// A streamed response's error trailer, or a body read error.
    pub error: Option<String>,
}

impl Outcome {
    /// When byte `offset` of the body arrived (the frame that carried it).
    pub fn arrival_of(&self, offset: usize) -> Option<Instant> {
        self.arrivals.iter().find(|a| a.end > offset).map(|a| a.at)
    }

    /// When the first body byte arrived.
    pub fn first_byte(&self) -> Option<Instant> {
        self.arrival_of(0)
    }

    /// Event handed out (`next` returned) to response fully posted.
    pub fn duration(&self) -> Duration {
        self.done.duration_since(self.handed_out)
    }

    /// `statusCode` of an API Gateway / Function URL response (buffered JSON, or the JSON prelude
    /// of a streamed response).
    pub fn http_status(&self) -> Option<u16> {
        let mut it =
            serde_json::Deserializer::from_slice(&self.body).into_iter::<serde_json::Value>();
        let v = it.next()?.ok()?;
        v.get("statusCode")?.as_u64().map(|s| s as u16)
    }
}

/// A launched function.
pub struct Session {
    pub api: RuntimeApi,
    pub child: ChildGuard,
    pub spawned_at: Instant,
    pub first_next: Option<Instant>,
}

pub(crate) fn lambda_env(
    cmd: &mut Command,
    spec: &FnSpec,
    ctx: &LaunchCtx,
    api: &RuntimeApi,
    handler: &str,
    root: &str,
) {
    cmd.env_clear();
    for keep in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.envs([
        ("AWS_LAMBDA_RUNTIME_API", api.host_port()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ctx.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]bench".into(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        // The functions refuse to start without an explicit choice.
        ("GATEWAY_AUTH", "none".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCHEXAMPLE".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret-key".into()),
        ("AWS_SESSION_TOKEN", "bench-session-token".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", ctx.bedrock_url.clone()),
        // The live catalog's control-plane reads (bedrock-local serves them too): without it
        // the refresh at cold start would go to AWS, off loopback, and skew the figure.
        ("AWS_ENDPOINT_URL_BEDROCK", ctx.bedrock_url.clone()),
        ("_HANDLER", handler.into()),
        ("LAMBDA_TASK_ROOT", root.into()),
        ("LAMBDA_RUNTIME_DIR", root.into()),
        ("LANG", "C.UTF-8".into()),
        ("TZ", ":UTC".into()),
    ]);
    cmd.envs(ctx.env.iter().map(|(k, v)| (k, v)));
}

/// The command that starts the Rust function `bin` as Lambda would, against `api`: the Lambda
/// environment, `AWS_LAMBDA_MAX_CONCURRENCY` when it runs on Lambda Managed Instances, its
/// folder as the task root.
pub(crate) fn rust_function(
    bin: &std::path::Path,
    name: &str,
    ctx: &LaunchCtx,
    api: &RuntimeApi,
    max_concurrency: Option<usize>,
) -> Command {
    let spec = FnSpec {
        name: name.into(),
        kind: FnKind::Rust {
            bin: bin.to_path_buf(),
        },
    };
    let root = bin
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut cmd = Command::new(bin);
    lambda_env(&mut cmd, &spec, ctx, api, "bootstrap", &root);
    if let Some(m) = max_concurrency {
        cmd.env("AWS_LAMBDA_MAX_CONCURRENCY", m.to_string());
    }
    cmd.current_dir(&root);
    cmd
}

impl Session {
    /// Starts the runtime API, queues `preload` (so the first `next` returns at once, as on
    /// Lambda where the event exists before the sandbox), then spawns the function.
    /// Returns the session and the preloaded event's request ID.
    pub async fn launch(
        spec: &FnSpec,
        ctx: &LaunchCtx,
        preload: Option<Bytes>,
    ) -> Result<(Session, Option<String>), Failure> {
        let api = RuntimeApi::start_with(&spec.name, ctx.api)
            .await
            .map_err(|e| Failure::Spawn(format!("runtime API: {e}")))?;
        let id = preload.map(|b| api.push(b));
        let mut cmd;
        match &spec.kind {
            FnKind::Rust { bin } => cmd = rust_function(bin, &spec.name, ctx, &api, None),
            FnKind::Python {
                python,
                task_root,
                handler,
            } => {
                cmd = Command::new(python);
                cmd.args(["-m", "awslambdaric", handler]);
                let root = task_root.display().to_string();
                lambda_env(&mut cmd, spec, ctx, &api, handler, &root);
                cmd.env("PYTHONPATH", &root).current_dir(task_root);
            }
        }
        let log = ctx.log_dir.join(format!("{}.log", spec.name));
        let spawned_at = Instant::now();
        let child = ChildGuard::spawn(cmd, &spec.name, Some(&log))
            .map_err(|e| Failure::Spawn(e.to_string()))?;
        Ok((
            Session {
                api,
                child,
                spawned_at,
                first_next: None,
            },
            id,
        ))
    }

    /// Waits until `pick` accepts a signal, watching the process for an early exit.
    async fn wait<T>(
        &mut self,
        timeout: Duration,
        waiting_for: &'static str,
        mut pick: impl FnMut(Signal) -> Option<Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Failure::Timeout {
                    waiting_for,
                    log: self.child.log_tail(1500),
                });
            }
            tokio::select! {
                s = self.api.signal(deadline - now) => {
                    if let Some(s) = s {
                        if let Signal::NextCalled { at } = &s {
                            self.first_next.get_or_insert(*at);
                        }
                        if let Some(r) = pick(s) {
                            return r;
                        }
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(2)) => {
                    if let Some(status) = self.child.exited() {
                        // Anything it said before dying (an init error) wins over "exited".
                        while let Some(s) = self.api.signal(Duration::from_millis(20)).await {
                            if let Some(r) = pick(s) {
                                return r;
                            }
                        }
                        return Err(Failure::Exited { code: status.code(), waiting_for, log: self.child.log_tail(1500) });
                    }
                }
            }
        }
    }

    /// Time of the first `GET next`.
    pub async fn wait_first_next(&mut self, timeout: Duration) -> Result<Instant, Failure> {
        if let Some(t) = self.first_next {
            return Ok(t);
        }
        self.wait(timeout, "first next", |s| match s {
            Signal::NextCalled { at } => Some(Ok(at)),
            Signal::InitError { body, .. } => Some(Err(Failure::InitError(
                String::from_utf8_lossy(&body).into_owned(),
            ))),
            _ => None,
        })
        .await
    }

    /// Waits for the outcome of request `id`.
    pub async fn wait_outcome(&mut self, id: &str, timeout: Duration) -> Result<Outcome, Failure> {
        let mut handed_out = None;
        self.wait(timeout, "response", |s| match s {
            Signal::HandedOut { id: i, at } if i == id => {
                handed_out = Some(at);
                None
            }
            Signal::Response {
                id: i,
                at,
                body,
                streaming,
                arrivals,
                error,
            } if i == id => Some(Ok(Outcome {
                handed_out: handed_out.unwrap_or(at),
                done: at,
                body,
                streaming,
                arrivals,
                error,
            })),
            Signal::Error { id: i, body, .. } if i == id => Some(Err(Failure::FunctionError(
                String::from_utf8_lossy(&body).into_owned(),
            ))),
            Signal::InitError { body, .. } => Some(Err(Failure::InitError(
                String::from_utf8_lossy(&body).into_owned(),
            ))),
            _ => None,
        })
        .await
    }

    /// Queues one event and waits for its response.
    pub async fn invoke(&mut self, event: Bytes, timeout: Duration) -> Result<Outcome, Failure> {
        let id = self.api.push(event);
        self.wait_outcome(&id, timeout).await
    }

    /// Peak resident set size so far (`VmHWM`), in kB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.child.proc_status_kb("VmHWM")
    }

    pub fn stop(self) {
        self.child.stop();
    }
}
