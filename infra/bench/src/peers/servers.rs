//! The peers' servers: LiteLLM proxy and Portkey's gateway, each installed from the project's
//! pinned files into a git-ignored directory, started on a free loopback port, and stopped with
//! every process of its tree, by pid.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::{ChildGuard, proc_status_kb};

use super::client::get_status;

/// A started peer: its address, version and process tree.
pub struct Server {
    pub addr: SocketAddr,
    pub version: String,
    guard: Option<ChildGuard>,
}

impl Server {
    pub fn pid(&self) -> Option<u32> {
        self.guard.as_ref().map(ChildGuard::pid)
    }

    /// Sum of the peak RSS (`VmHWM`) of every process of the tree, in kB.
    pub fn tree_peak_rss_kb(&self) -> Option<u64> {
        self.pid().map(tree_peak_rss_kb)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            // Children first (uvicorn workers), each by pid, then the leader (the guard).
            let mut kids = descendants(g.pid());
            kids.reverse();
            for pid in kids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            g.stop();
        }
    }
}

/// Every descendant of `pid` (children before grandchildren), from `/proc/<pid>/task/*/children`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
                if !out.contains(&k) {
                    out.push(k);
                    todo.push(k);
                }
            }
        }
    }
    out
}

/// Sum of `VmHWM` over `pid` and its descendants, in kB: each process's own peak, so an upper
/// bound of the tree's peak at any one moment.
pub fn tree_peak_rss_kb(pid: u32) -> u64 {
    std::iter::once(pid)
        .chain(descendants(pid))
        .filter_map(|p| proc_status_kb(p, "VmHWM"))
        .sum()
}

/// A free loopback port (bound and released: another process could take it first, which the
/// readiness check then reports).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

async fn wait_ready(
    addr: SocketAddr,
    path: &str,
    guard: &mut ChildGuard,
    timeout: Duration,
) -> Result<(), String> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(st) = guard.exited() {
            return Err(format!("exited ({st}): {}", guard.log_tail(1500)));
        }
        if get_status(addr, path).await == Ok(200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!(
        "not ready in {} s: {}",
        timeout.as_secs(),
        guard.log_tail(1500)
    ))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    eprintln!("bench: peers: {what}");
    let st = cmd.status().map_err(|e| format!("{what}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({st})"))
    }
}

/// What the peers need from the repository and the machine.
pub struct PeerPaths {
    pub root: PathBuf,
    pub target: PathBuf,
    pub log_dir: PathBuf,
}

impl PeerPaths {
    pub fn litellm_venv(&self) -> PathBuf {
        self.target.join("peers/litellm-venv")
    }
    pub fn litellm_requirements(&self) -> PathBuf {
        self.root.join("infra/bench/peers/litellm/requirements.txt")
    }
    pub fn litellm_config(&self) -> PathBuf {
        self.root.join("infra/bench/peers/litellm/config.yaml")
    }
    pub fn portkey_dir(&self) -> PathBuf {
        self.root.join("infra/bench/peers/portkey")
    }
}

fn python_version(python: &Path, module: &str) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            &format!("import importlib.metadata as m; print(m.version('{module}'))"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The pinned version in a requirements file (`name[extra]==X`).
fn pinned(reqs: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(reqs).ok()?.lines().find_map(|l| {
        let l = l.trim();
        l.starts_with(name)
            .then(|| l.split("==").nth(1).map(str::to_string))
            .flatten()
    })
}

/// Creates the LiteLLM venv and installs the pinned requirements when the installed version is
/// not the pinned one.
pub fn ensure_litellm(p: &PeerPaths, install: bool) -> Result<PathBuf, String> {
    let venv = p.litellm_venv();
    let python = venv.join("bin/python");
    let want = pinned(&p.litellm_requirements(), "litellm").ok_or("no litellm pin")?;
    if python_version(&python, "litellm").as_deref() == Some(want.as_str()) {
        return Ok(venv);
    }
    if !install {
        return Err(format!(
            "LiteLLM {want} not installed in {}",
            venv.display()
        ));
    }
    if !python.exists() {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            &format!("python3 -m venv {}", venv.display()),
        )?;
    }
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(p.litellm_requirements()),
        &format!("installing LiteLLM {want} into {}", venv.display()),
    )?;
    Ok(venv)
}

/// `npm ci` in the Portkey directory when the installed gateway is not the pinned one.
/// `--ignore-scripts`: the package's only install script is `patch-package`, a no-op for the
/// published package (it ships no patches), and the bench runs no registry code at install.
pub fn ensure_portkey(p: &PeerPaths, install: bool) -> Result<String, String> {
    let dir = p.portkey_dir();
    let read = |f: PathBuf| -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).ok()?).ok()?;
        Some(v.get("version")?.as_str()?.to_string())
    };
    let want: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("package.json")).map_err(|e| format!("package.json: {e}"))?,
    )
    .map_err(|e| e.to_string())?;
    let want = want
        .pointer("/dependencies/@portkey-ai~1gateway")
        .and_then(|v| v.as_str())
        .ok_or("no @portkey-ai/gateway pin")?
        .to_string();
    let installed = dir.join("node_modules/@portkey-ai/gateway/package.json");
    if read(installed.clone()).as_deref() == Some(want.as_str()) {
        return Ok(want);
    }
    if !install {
        return Err(format!(
            "Portkey gateway {want} not installed in {}",
            dir.display()
        ));
    }
    run(
        Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&dir),
        &format!("npm ci in {}", dir.display()),
    )?;
    read(installed).ok_or_else(|| "npm ci did not install @portkey-ai/gateway".into())
}

/// The LiteLLM proxy per its production guide: `--config`, `--num_workers` = cores (its
/// documented default), a master key (it refuses to start without one), no database, logs at
/// ERROR, the model cost map from the package (no fetch at start).
pub async fn start_litellm(
    p: &PeerPaths,
    venv: &Path,
    bedrock_url: &str,
    workers: usize,
    master_key: &str,
) -> Result<Server, String> {
    let port = free_port()?;
    let mut cmd = Command::new(venv.join("bin/litellm"));
    cmd.arg("--config")
        .arg(p.litellm_config())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--num_workers", &workers.to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs([
            ("BENCH_BEDROCK_URL", bedrock_url),
            ("AWS_ACCESS_KEY_ID", "AKIDBENCHEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "bench-secret-key"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("LITELLM_MASTER_KEY", master_key),
            ("LITELLM_LOG", "ERROR"),
            ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
            ("LANG", "C.UTF-8"),
        ])
        .current_dir(&p.log_dir);
    let mut guard = ChildGuard::spawn(cmd, "litellm", Some(&p.log_dir.join("litellm.log")))
        .map_err(|e| format!("cannot start litellm: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let version = python_version(&venv.join("bin/python"), "litellm").unwrap_or_default();
    let ready = wait_ready(
        addr,
        "/health/liveliness",
        &mut guard,
        Duration::from_secs(180),
    )
    .await;
    let server = Server {
        addr,
        version,
        guard: Some(guard),
    };
    ready.map(|()| server).map_err(|e| format!("litellm: {e}"))
}

/// Portkey's gateway as its README runs it on Node (`build/start-server.js`, what `npx
/// @portkey-ai/gateway` starts), `--headless` (no console UI), `NODE_ENV=production`. The
/// Node server is one process (no worker option).
pub async fn start_portkey(p: &PeerPaths, version: &str) -> Result<Server, String> {
    let port = free_port()?;
    let dir = p.portkey_dir();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("node_modules/@portkey-ai/gateway/build/start-server.js"))
        .arg(format!("--port={port}"))
        .arg("--headless")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("NODE_ENV", "production")
        .current_dir(&dir);
    let mut guard = ChildGuard::spawn(cmd, "portkey", Some(&p.log_dir.join("portkey.log")))
        .map_err(|e| format!("cannot start node: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let ready = wait_ready(addr, "/", &mut guard, Duration::from_secs(60)).await;
    let server = Server {
        addr,
        version: version.to_string(),
        guard: Some(guard),
    };
    ready.map(|()| server).map_err(|e| format!("portkey: {e}"))
}

/// `node --version`.
pub fn node_version() -> Option<String> {
    let out = Command::new("node").arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
