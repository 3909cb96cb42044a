//! moto's server for Rust tests: started from the project's virtualenv (`make venv`, or
//! `MOTO_PYTHON`) on a free loopback port, stopped by its own pid when the guard drops. A missing
//! virtualenv fails the test with what to do (never a silent skip).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::workspace_root;

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python that has moto: `MOTO_PYTHON`, else `<root>/.venv/bin/python`.
pub fn python() -> PathBuf {
    std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"))
}

impl Moto {
    /// Starts moto's server (`infra/local/moto_server.py`) and waits (up to 60 s) until it accepts connections.
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// [`Moto::start`] with moto settings in its environment (e.g.
    /// `INITIAL_NO_AUTH_ACTION_COUNT`: authentication and signature checks on after that many
    /// actions).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let py = python();
        assert!(
            py.is_file(),
            "{} not found: run `make venv` (moto is pinned in infra/local/requirements.txt) or set MOTO_PYTHON",
            py.display()
        );
        // Bind-then-release picks a free port; moto binds it a moment later.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        // moto through `infra/local/moto_server.py`: moto with DynamoDB's number arithmetic
        // (moto itself fails every ADD to a counter that summed to exactly zero).
        let server = workspace_root().join("infra/local/moto_server.py");
        let child = Command::new(&py)
            .arg(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto with {}: {e}", py.display()));
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "moto did not listen within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}
