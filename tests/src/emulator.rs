//! `bedrock-local` for Rust tests: started on a free loopback port from the workspace's debug
//! build (or `BEDROCK_LOCAL_BIN`), and stopped by its own pid when the guard drops, pass or fail.
//! A missing binary fails the test with what to do (never a silent skip).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::workspace_root;

/// A running emulator.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the emulator binary is: `BEDROCK_LOCAL_BIN`, else `<target>/debug/bedrock-local`.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BEDROCK_LOCAL_BIN") {
        return PathBuf::from(p);
    }
    target_dir(std::env::var_os("CARGO_TARGET_DIR"), &workspace_root())
        .join("debug")
        .join("bedrock-local")
}

/// Cargo's target directory for `CARGO_TARGET_DIR` = `var`: a relative one is relative to the
/// workspace root, where `make` runs cargo (a test runs in its crate's directory instead).
fn target_dir(var: Option<std::ffi::OsString>, root: &std::path::Path) -> PathBuf {
    match var.filter(|v| !v.is_empty()).map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

impl Emulator {
    /// Starts the emulator with `extra` flags (e.g. `["--ttft-ms", "50"]`). Settings that the
    /// environment could carry in (`BEDROCK_LOCAL_*`) are cleared so every test starts the same.
    pub fn start(extra: &[&str]) -> Emulator {
        Emulator::start_with_env(extra, &[])
    }

    /// [`Emulator::start`] with environment variables set (e.g. `AWS_ENDPOINT_URL_S3`, so its
    /// batch jobs read and write moto's S3).
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Emulator {
        let bin = binary();
        assert!(
            bin.is_file(),
            "bedrock-local not found at {}: run `cargo build -p bedrock-local` or set BEDROCK_LOCAL_BIN",
            bin.display()
        );
        let mut command = Command::new(&bin);
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(extra);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("BEDROCK_LOCAL_") {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        // The guard exists before the first line is read, so a failure below still kills it.
        let mut emulator = Emulator {
            child,
            url: String::new(),
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the first line of bedrock-local");
        emulator.url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from bedrock-local: {line:?}"))
            .to_owned();
        emulator
    }
}

impl Emulator {
    /// Calls the emulator's control API (`/_local/...`, no auth) and returns status and JSON body.
    /// Plain HTTP/1.1 over a std socket: a test's control calls need no HTTP client or TLS stack.
    pub fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let authority = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(authority).expect("connect to bedrock-local");
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("send control request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read control response");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("malformed control response: {response:?}"));
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
        let json = if body.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_owned()))
        };
        (status, json)
    }

    /// Arms `count` faults of kind `fault` for the next calls of `operation`.
    pub fn arm(&self, fault: &str, count: u32, operation: &str) {
        let body = serde_json::json!({"fault": fault, "count": count, "operation": operation});
        let (status, reply) = self.control("POST", "/_local/faults", Some(&body));
        assert!(
            (200..300).contains(&status),
            "arming {fault}: {status} {reply}"
        );
    }

    /// The emulator's counters (`GET /_local/stats`).
    pub fn stats(&self) -> serde_json::Value {
        let (status, stats) = self.control("GET", "/_local/stats", None);
        assert_eq!(status, 200, "stats: {stats}");
        stats
    }
}

#[cfg(test)]
mod target_dir_tests {
    use super::target_dir;
    use std::path::{Path, PathBuf};

    #[test]
    fn relative_target_dirs_are_relative_to_the_workspace_root() {
        let root = Path::new("/ws");
        assert_eq!(target_dir(None, root), PathBuf::from("/ws/target"));
        assert_eq!(
            target_dir(Some("".into()), root),
            PathBuf::from("/ws/target")
        );
        assert_eq!(
            target_dir(Some("out".into()), root),
            PathBuf::from("/ws/out")
        );
        assert_eq!(target_dir(Some("/t".into()), root), PathBuf::from("/t"));
    }
}
