//! Child processes the harness starts: every one is owned by a guard that kills it by pid
//! (SIGKILL through `Child::kill`) and reaps it when dropped, also on error paths and panics.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A started child; killed and reaped on drop.
pub struct ChildGuard {
    child: Child,
    pub name: String,
    pub log: Option<PathBuf>,
}

impl ChildGuard {
    /// Starts `cmd` with stdout and stderr appended to `log` (or discarded).
    pub fn spawn(mut cmd: Command, name: &str, log: Option<&Path>) -> std::io::Result<Self> {
        let (out, err) = match log {
            Some(p) => {
                let f = File::options().create(true).append(true).open(p)?;
                (Stdio::from(f.try_clone()?), Stdio::from(f))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn()?;
        Ok(ChildGuard {
            child,
            name: name.to_string(),
            log: log.map(Path::to_path_buf),
        })
    }

    /// Wraps a child started elsewhere (with pipes the caller needs).
    pub fn adopt(child: Child, name: &str) -> Self {
        ChildGuard {
            child,
            name: name.to_string(),
            log: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// A field of `/proc/<pid>/status` in kB (`VmHWM`, `VmRSS`).
    pub fn proc_status_kb(&self, field: &str) -> Option<u64> {
        proc_status_kb(self.pid(), field)
    }

    /// CPU time the process's live threads have run so far, in ms (the first field of each
    /// `/proc/<pid>/task/<tid>/schedstat`, in ns): exact where `/proc/<pid>/stat` counts clock
    /// ticks. A thread that has already ended is not counted, nor one that ends while the
    /// threads are read (its `schedstat` is gone), rather than losing the whole sample.
    pub fn cpu_ms(&self) -> Option<f64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).ok()?;
        let ns: u64 = tasks
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
            .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        Some(ns as f64 / 1e6)
    }

    /// The last `max` bytes of the log, for error messages.
    pub fn log_tail(&self, max: usize) -> String {
        let Some(p) = &self.log else {
            return String::new();
        };
        let Ok(mut f) = File::open(p) else {
            return String::new();
        };
        let mut s = Vec::new();
        let _ = f.read_to_end(&mut s);
        let start = s.len().saturating_sub(max);
        String::from_utf8_lossy(&s[start..]).trim().to_string()
    }

    /// Kills the process by pid and reaps it.
    pub fn stop(mut self) {
        self.kill_and_reap();
    }

    fn kill_and_reap(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    kb_field(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        field,
    )
}

/// The value of a `Field:   1234 kB` line (the format of `/proc/<pid>/status` and `/proc/meminfo`).
fn kb_field(text: &str, field: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// A running `bedrock-local`: its URL and its guard.
pub struct BedrockLocal {
    pub url: String,
    pub guard: ChildGuard,
}

impl BedrockLocal {
    /// Starts `bin --host 127.0.0.1 --port 0 <extra>` and waits for its `listening on URL` line.
    pub fn start(bin: &Path, extra: &[&str], log: &Path) -> Result<Self, String> {
        let mut cmd = Command::new(bin);
        cmd.args(["--host", "127.0.0.1", "--port", "0"]).args(extra);
        let errlog = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(errlog));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut guard = ChildGuard::adopt(child, "bedrock-local");
        guard.log = Some(log.to_path_buf());
        let stdout = guard.child_mut().stdout.take().ok_or("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let _ = tx.send(first);
            // Keep draining so the emulator never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).map_err(|_| {
            format!(
                "bedrock-local did not announce its address in 20 s: {}",
                guard.log_tail(2000)
            )
        })?;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| {
                format!(
                    "unexpected first line from bedrock-local: {line:?} {}",
                    guard.log_tail(2000)
                )
            })?
            .to_string();
        Ok(BedrockLocal { url, guard })
    }
}

/// A field of `/proc/meminfo` in kB.
pub fn proc_meminfo_kb(field: &str) -> Option<u64> {
    kb_field(&std::fs::read_to_string("/proc/meminfo").ok()?, field)
}

/// CPU time the process has used so far (`utime + stime` of `/proc/<pid>/stat`, every thread,
/// live or exited), in clock ticks.
pub fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    parse_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so field k is f[k - 3].
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100, Linux's usual value, if that fails).
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_after_a_name_with_spaces() {
        let stat = "4242 (stream (url) x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 157 43 0 0 20 0 9 0 100 1000 500";
        assert_eq!(parse_cpu_ticks(stat), Some(200));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
        assert!(proc_cpu_ticks(std::process::id()).is_some());
    }
}
