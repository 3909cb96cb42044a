//! The peers section of the bench (issue 24): this gateway beside LiteLLM proxy and Portkey's
//! gateway, the same request from the same client to the same bedrock-local, interleaved round
//! by round. `bench --only peers` (`make bench-peers`).

pub use crate::conn as client;
pub mod front;
pub mod load;
pub mod report;
pub mod servers;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;

use crate::direct::{FIXED_AUTH, MODEL_ID, model_path, parse_http_url};
use crate::session::LaunchCtx;
use client::{Conn, FirstToken, Req};
use servers::PeerPaths;

/// Counts and time budgets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PeerPlan {
    /// Discarded rounds first (connections, caches, JITs).
    pub warmup: usize,
    /// Latency rounds: one plain and one streamed call per target per round.
    pub rounds: usize,
    /// Concurrent clients per CPU core of the throughput figures.
    pub clients_per_core: [usize; 2],
    /// Requests per target per batch, and per target per concurrency in all.
    pub batch: usize,
    pub requests: usize,
    /// Classic environments / LMI concurrency of ours.
    pub ours_concurrency: usize,
    pub latency_budget_s: u64,
    pub throughput_budget_s: u64,
}

pub const QUICK: PeerPlan = PeerPlan {
    warmup: 10,
    rounds: 100,
    clients_per_core: [8, 32],
    batch: 100,
    requests: 300,
    ours_concurrency: 8,
    latency_budget_s: 40,
    throughput_budget_s: 40,
};

pub const FULL: PeerPlan = PeerPlan {
    warmup: 30,
    rounds: 1_500,
    clients_per_core: [8, 32],
    batch: 200,
    requests: 1_500,
    ours_concurrency: 8,
    latency_budget_s: 150,
    throughput_budget_s: 150,
};

/// One target: where it listens, the request it gets, what its figures include.
pub struct Target {
    pub key: &'static str,
    pub name: String,
    pub includes: String,
    pub addr: SocketAddr,
    pub chat: Req,
    pub stream: Req,
    pub first: FirstToken,
}

/// The OpenAI chat request every peer gets (and ours on `/v1/chat/completions`).
pub fn chat_body(stream: bool) -> Bytes {
    let mut v = json!({"model": MODEL_ID, "messages": [{"role": "user", "content": "Hello"}]});
    if stream {
        v["stream"] = true.into();
    }
    Bytes::from(v.to_string())
}

fn openai(
    key: &'static str,
    name: &str,
    includes: &str,
    addr: SocketAddr,
    headers: Vec<(String, String)>,
) -> Target {
    let req = |stream| Req {
        path: "/v1/chat/completions".into(),
        headers: headers.clone(),
        body: chat_body(stream),
    };
    Target {
        key,
        name: name.into(),
        includes: includes.into(),
        addr,
        chat: req(false),
        stream: req(true),
        first: FirstToken::OpenAiSse,
    }
}

/// bedrock-local itself: Converse / ConverseStream with the same text.
pub fn direct(bedrock_url: &str) -> Result<Target, String> {
    let body = Bytes::from(
        json!({"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}).to_string(),
    );
    let req = |op: &str| Req {
        path: model_path(op),
        headers: vec![("authorization".into(), FIXED_AUTH.into())],
        body: body.clone(),
    };
    Ok(Target {
        key: "direct",
        name: "bedrock-local direct".into(),
        includes: "Converse / ConverseStream straight to bedrock-local (no signing): the floor"
            .into(),
        addr: parse_http_url(bedrock_url)?,
        chat: req("converse"),
        stream: req("converse-stream"),
        first: FirstToken::EventStream,
    })
}

/// Everything the section started, kept alive until it ends.
struct Started {
    ours: Vec<(&'static str, front::Ours)>,
    servers: Vec<(&'static str, servers::Server)>,
}

impl Started {
    fn peak_rss_kb(&self, key: &str) -> Option<u64> {
        self.ours
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, o)| o.peak_rss_kb())
            .or_else(|| {
                self.servers
                    .iter()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, s)| s.tree_peak_rss_kb())
            })
    }
}

/// Inputs of the section.
pub struct PeersInput<'a> {
    pub paths: PeerPaths,
    pub ctx: &'a LaunchCtx,
    pub stream_url_bin: &'a Path,
    pub template: &'a serde_json::Value,
    pub cores: usize,
    pub install: bool,
}

/// Runs the section: starts every target it can, measures, stops them all.
pub async fn run(input: PeersInput<'_>, plan: &PeerPlan) -> report::PeersResult {
    let started_at = Instant::now();
    let mut res = report::PeersResult::new(plan, input.cores);
    let mut targets = Vec::new();
    match direct(&input.ctx.bedrock_url) {
        Ok(t) => targets.push(t),
        Err(e) => {
            res.errors.push(format!("direct: {e}"));
            return res;
        }
    }
    let mut st = Started {
        ours: Vec::new(),
        servers: Vec::new(),
    };
    start_ours(&input, plan, &mut targets, &mut st, &mut res).await;
    start_peers(&input, &mut targets, &mut st, &mut res).await;
    eprintln!(
        "bench: peers: {} targets, {} rounds interleaved, then throughput at {:?} clients per core",
        targets.len(),
        plan.rounds,
        plan.clients_per_core
    );
    let lat = load::latency(&targets, plan).await;
    let tput = load::throughput(&targets, plan, input.cores).await;
    for t in &targets {
        let rss = st.peak_rss_kb(t.key);
        res.add_target(t, &lat, &tput, rss);
    }
    res.errors.extend(lat.errors);
    res.errors.extend(tput.errors);
    res.duration_s = started_at.elapsed().as_secs_f64();
    drop(st);
    res
}

async fn start_ours(
    input: &PeersInput<'_>,
    plan: &PeerPlan,
    targets: &mut Vec<Target>,
    st: &mut Started,
    res: &mut report::PeersResult,
) {
    if !input.stream_url_bin.exists() {
        res.errors.push(format!(
            "stream-url not built at {}",
            input.stream_url_bin.display()
        ));
        return;
    }
    let n = plan.ours_concurrency;
    let modes = [
        (
            "ours_classic",
            format!("this gateway, classic Lambda ({n} environments)"),
            front::Mode::Classic { processes: n },
            format!(
                "release stream-url, {n} processes under the harness's Runtime API, one invocation each at a time (classic Lambda scales out by environments); HTTP front → Function URL event → Runtime API → function → Bedrock → streamed response relayed back (the Runtime API hop included); the function's default content filter screens the input and the output, which the peers do not do (here an unpaced reply's deltas arrive together, so the filter's hold-back of a delta's last word does not show; see the streaming rows)"
            ),
        ),
        (
            "ours_lmi",
            format!("this gateway, Lambda Managed Instances (1 environment, max concurrency {n})"),
            front::Mode::Managed { max: n },
            format!(
                "release stream-url, one process with AWS_LAMBDA_MAX_CONCURRENCY={n}; the same HTTP front, Runtime API hop and content filter"
            ),
        ),
    ];
    for (key, name, mode, includes) in modes {
        match front::start(input.stream_url_bin, input.ctx, key, mode, input.template).await {
            Ok(o) => {
                targets.push(openai(key, &name, &includes, o.addr, Vec::new()));
                st.ours.push((key, o));
            }
            Err(e) => res.errors.push(format!("{name}: {e}")),
        }
    }
}

async fn start_peers(
    input: &PeersInput<'_>,
    targets: &mut Vec<Target>,
    st: &mut Started,
    res: &mut report::PeersResult,
) {
    let p = &input.paths;
    match servers::ensure_litellm(p, input.install) {
        Ok(venv) => {
            let key = format!("sk-bench-{:x}", std::process::id() as u64 * 0x9e37_79b9);
            match servers::start_litellm(p, &venv, &input.ctx.bedrock_url, input.cores, &key).await
            {
                Ok(s) => {
                    res.versions.insert("litellm".into(), s.version.clone());
                    let includes = format!(
                        "LiteLLM proxy {} (uvicorn, {} workers, master key checked, no database): its HTTP server, OpenAI → Converse translation, SigV4 signing (botocore), Bedrock call",
                        s.version, input.cores
                    );
                    targets.push(openai(
                        "litellm",
                        &format!("LiteLLM proxy {}", s.version),
                        &includes,
                        s.addr,
                        vec![("authorization".into(), format!("Bearer {key}"))],
                    ));
                    st.servers.push(("litellm", s));
                }
                Err(e) => res.not_measured.push(("LiteLLM proxy".into(), e)),
            }
        }
        Err(e) => res.not_measured.push(("LiteLLM proxy".into(), e)),
    }
    match servers::ensure_portkey(p, input.install) {
        Ok(version) => match servers::start_portkey(p, &version).await {
            Ok(s) => {
                res.versions
                    .insert("portkey-gateway".into(), version.clone());
                if let Some(n) = servers::node_version() {
                    res.versions.insert("node".into(), n);
                }
                let host = input.ctx.bedrock_url.clone();
                let h = |k: &str, v: &str| (k.to_string(), v.to_string());
                let headers = vec![
                    h("x-portkey-provider", "bedrock"),
                    h("x-portkey-aws-access-key-id", "AKIDBENCHEXAMPLE"),
                    h("x-portkey-aws-secret-access-key", "bench-secret-key"),
                    h("x-portkey-aws-region", "us-east-1"),
                    h("x-portkey-custom-host", &host),
                ];
                let includes = format!(
                    "Portkey gateway {version} on Node (one process, NODE_ENV=production, --headless): its HTTP server (Hono), OpenAI → Converse translation, SigV4 signing, Bedrock call"
                );
                targets.push(openai(
                    "portkey",
                    &format!("Portkey gateway {version}"),
                    &includes,
                    s.addr,
                    headers,
                ));
                st.servers.push(("portkey", s));
            }
            Err(e) => res.not_measured.push(("Portkey gateway".into(), e)),
        },
        Err(e) => res.not_measured.push(("Portkey gateway".into(), e)),
    }
}

/// A connection per target, opened once.
pub async fn connect_all(targets: &[Target]) -> Result<Vec<Conn>, String> {
    let mut out = Vec::new();
    for t in targets {
        out.push(
            Conn::connect(t.addr)
                .await
                .map_err(|e| format!("{}: {e}", t.name))?,
        );
    }
    Ok(out)
}

/// How long a single call may take before the section gives up on it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
