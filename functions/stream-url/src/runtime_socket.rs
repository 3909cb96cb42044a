//! Turns on `TCP_NODELAY` for this process's connections to the Lambda Runtime API.
//!
//! A streamed response is many small writes on the runtime API connection. `lambda_runtime`'s
//! HTTP client leaves Nagle's algorithm on (hyper-util's connector sets `TCP_NODELAY` to 0) and
//! offers no way to change it, so every write after the first waits for an acknowledgement that
//! the receiving side delays by up to ~40 ms: measured as ~43 ms added to the time to first token
//! of every unpaced stream (`make bench`, streaming section). Buffered functions send one write
//! and are not affected. Until the runtime exposes the setting, we find the runtime API sockets
//! among our open file descriptors and set the option on them, before each response is written.

use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::FromRawFd;

/// The runtime API's addresses, resolved once from `AWS_LAMBDA_RUNTIME_API` (`host:port`).
pub fn runtime_api_addrs() -> Vec<SocketAddr> {
    std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .and_then(|v| v.to_socket_addrs().ok())
        .map(|addrs| addrs.collect())
        .unwrap_or_default()
}

/// Sets `TCP_NODELAY` on this process's connections to the runtime API that do not have it yet.
///
/// One pass over the open descriptors (found with one `poll`, [`open_descriptors`]), asking each
/// for its `TCP_NODELAY` (one `getsockopt`): files, pipes and non-TCP sockets answer with an
/// error, and a socket that already has the option (the runtime API connections set by an
/// earlier pass, the AWS SDK's own, which it sets itself) is done. Only a TCP socket without it
/// is inspected further (`getpeername`). No `/proc/self/fd` listing and no `fstat` per
/// descriptor: with hundreds of descriptors open (Lambda Managed Instances, 256 streams in one
/// process) that listing and those `fstat`s cost about twice as much per descriptor, and they
/// were a fifth of the process's CPU (`make bench-lmi`, under `perf`).
#[derive(Debug)]
pub struct Nodelay {
    addrs: Vec<SocketAddr>,
}

impl Nodelay {
    /// For the runtime API at `addrs`.
    pub fn new(addrs: Vec<SocketAddr>) -> Nodelay {
        Nodelay { addrs }
    }

    /// Sets the option on runtime API sockets that lack it; returns how many TCP sockets
    /// without it were inspected. A no-op where `/proc` is absent.
    pub fn apply(&self) -> usize {
        if self.addrs.is_empty() {
            return 0;
        }
        let Some(table) = descriptor_table_size() else {
            return 0;
        };
        let mut inspected = 0;
        for fd in open_descriptors(table) {
            // SAFETY: the descriptor is borrowed, never closed (ManuallyDrop), and only used
            // for getsockopt/getpeername/setsockopt, which are harmless on any descriptor, even
            // one closed and reused by another thread in between (they fail, or set the option
            // on some other socket of this process).
            let stream = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
            if !matches!(stream.nodelay(), Ok(false)) {
                continue;
            }
            inspected += 1;
            if stream
                .peer_addr()
                .is_ok_and(|peer| self.addrs.contains(&peer))
            {
                let _ = stream.set_nodelay(true);
            }
        }
        inspected
    }
}

/// The descriptors open below `table`, from one `poll` without events or wait, which marks every
/// closed number `POLLNVAL`. Not a `getsockopt` per number: a process can start with a table
/// of 256 or more (its size is inherited from the parent's) and a dozen descriptors open, and
/// asking every number made a pass cost about 75 µs instead of 30. If `poll` fails, every number.
fn open_descriptors(table: i32) -> Vec<i32> {
    // `poll` refuses more entries than the soft descriptor limit; no descriptor is above it
    // unless the limit was lowered after it was opened.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for the call to fill.
    let n = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        i32::try_from(limit.rlim_cur).map_or(table, |soft| table.min(soft))
    } else {
        table
    };
    let mut fds: Vec<libc::pollfd> = (0..n.max(0))
        .map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a valid array of `fds.len()` entries for the call's duration.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if polled < 0 {
        return (0..table).collect();
    }
    fds.iter()
        .filter(|p| p.revents & libc::POLLNVAL == 0)
        .map(|p| p.fd)
        .collect()
}

/// The size of this process's descriptor table (`FDSize` in `/proc/self/status`): every open
/// descriptor's number is below it. The table only grows, in powers of two (64 at start).
fn descriptor_table_size() -> Option<i32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("FDSize:"))?
        .trim()
        .parse()
        .ok()
}

/// Descriptor scans shared by the invocations that need one at the same time.
///
/// An invocation needs a scan that starts after it arrives (so that the scan sees the
/// connection that carried its own event). One scan lists every descriptor, and with hundreds of
/// streams in one process (Lambda Managed Instances) that is hundreds of system calls: run for each
/// of N invocations handed out at once, the scans alone were O(N²). Here an invocation that
/// arrives while a scan runs waits for the next one, which then serves every invocation that
/// arrived meanwhile: a burst of N costs a few scans, not N (with the rest between them,
/// [`REST_PER_SCAN`]).
///
/// A run of scans gets a new thread, which ends when no invocation waits. Not a task: a task dies
/// with the runtime that spawned it (each test has its own), and every later waiter would hang.
/// Not one long-lived thread woken per scan either: tried, the added time to first content of an
/// unpaced stream rose by about 0.1 ms (four interleaved `bench --only stream` pairs: p50 0.38–0.41
/// ms with a thread per run, 0.47–0.51 ms with a parked one); likely the woken thread waits for
/// the handler's core, where a new thread starts on the idle one.
pub struct SharedScans {
    scan: Box<dyn Fn() + Send + Sync>,
    state: std::sync::Mutex<Scans>,
    /// The number of the last finished scan.
    finished: tokio::sync::watch::Sender<u64>,
}

/// Scans are numbered from 1 in the order they start.
#[derive(Debug, Default)]
struct Scans {
    started: u64,
    running: bool,
    /// The highest scan number an invocation waits for.
    wanted: u64,
}

impl SharedScans {
    /// Scans with `scan` (run on a thread of its own).
    pub fn new(scan: impl Fn() + Send + Sync + 'static) -> std::sync::Arc<SharedScans> {
        std::sync::Arc::new(SharedScans {
            scan: Box::new(scan),
            state: std::sync::Mutex::default(),
            finished: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Returns once a scan that started after this call has finished.
    pub async fn after_a_fresh_scan(self: &std::sync::Arc<Self>) {
        let mut finished = self.finished.subscribe();
        let (need, start) = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let need = s.started + 1;
            s.wanted = s.wanted.max(need);
            let start = !s.running;
            if start {
                s.started = need;
                s.running = true;
            }
            (need, start)
        };
        if start {
            // A thread for this run of scans (why not a task: see the type's doc).
            let this = self.clone();
            let spawned = std::thread::Builder::new()
                .name("nodelay-scan".into())
                .spawn(move || this.run(need));
            if spawned.is_err() {
                // No scan this time: the waiters go on without it rather than wait forever.
                self.state.lock().unwrap_or_else(|e| e.into_inner()).running = false;
                self.finished.send_replace(need);
            }
        }
        let _ = finished.wait_for(|&n| n >= need).await;
    }

    /// Runs scan `n`, then the next while an invocation waits for one, resting between them
    /// ([`REST_PER_SCAN`]).
    fn run(self: std::sync::Arc<Self>, mut n: u64) {
        loop {
            let began = std::time::Instant::now();
            // A panicking scan still ends: the invocations waiting for it go on without it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.scan)()));
            let took = began.elapsed();
            self.finished.send_replace(n);
            {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if s.wanted <= n {
                    s.running = false;
                    return;
                }
            }
            // Invocations that arrive during the rest are served by the next scan too.
            std::thread::sleep(took * REST_PER_SCAN);
            n += 1;
            self.state.lock().unwrap_or_else(|e| e.into_inner()).started = n;
        }
    }
}

/// How long the scanner rests between two scans of a run, in multiples of the last one's
/// duration: at most a quarter of a core. In a burst (256 invocations handed out at once) the
/// invocations reach the middleware one after another for as long as the workers take to start
/// them all, so without a rest the scans ran back to back the whole time, a third of two busy
/// cores taken from the handlers they were waiting for (`perf`, `bench --only lmi`). A waiter
/// loses nothing by it there: its handler's upstream call takes longer than the rest. Alone, an
/// invocation finds the scanner idle and its scan starts at once.
const REST_PER_SCAN: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn sets_nodelay_only_on_connections_to_the_given_peer() {
        let runtime = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let to_runtime = TcpStream::connect(runtime.local_addr().unwrap()).unwrap();
        let to_other = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_runtime.nodelay().unwrap());
        let nodelay = Nodelay::new(vec![runtime.local_addr().unwrap()]);
        assert!(nodelay.apply() >= 2);
        assert!(to_runtime.nodelay().unwrap());
        assert!(!to_other.nodelay().unwrap());
    }

    /// Sockets that have the option cost one `getsockopt` each and are not inspected; one
    /// that lost it gets it back at the next pass.
    #[test]
    fn only_sockets_without_the_option_are_inspected() {
        let runtime = TcpListener::bind("127.0.0.1:0").unwrap();
        let nodelay = Nodelay::new(vec![runtime.local_addr().unwrap()]);
        let conns: Vec<TcpStream> = (0..64)
            .map(|_| TcpStream::connect(runtime.local_addr().unwrap()).unwrap())
            .collect();
        assert!(
            nodelay.apply() >= conns.len(),
            "every new connection inspected"
        );
        assert!(conns.iter().all(|c| c.nodelay().unwrap()));
        // The unit tests run at once, in one process: the only other sockets without the
        // option are the one or two of the test above.
        assert!(
            nodelay.apply() < conns.len() / 2,
            "sockets that have the option are not inspected again"
        );
        conns[0].set_nodelay(false).unwrap();
        assert!(nodelay.apply() >= 1);
        assert!(conns[0].nodelay().unwrap(), "set again once lost");
    }

    /// A burst of invocations shares scans, and each returns only after a scan that started
    /// after it arrived (it saw every socket opened before the invocation asked).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_shares_scans_and_each_waits_for_one_that_started_after_it() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        // `opened` stands for sockets opened; a scan records how many it could see.
        let opened = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(AtomicU64::new(0));
        let scans = Arc::new(AtomicU64::new(0));
        let scanner = {
            let (opened, seen, scans) = (opened.clone(), seen.clone(), scans.clone());
            SharedScans::new(move || {
                let now = opened.load(Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
                scans.fetch_add(1, Ordering::SeqCst);
                seen.fetch_max(now, Ordering::SeqCst);
            })
        };
        let mut tasks = Vec::new();
        for _ in 0..256 {
            let (scanner, opened, seen) = (scanner.clone(), opened.clone(), seen.clone());
            tasks.push(tokio::spawn(async move {
                let mine = opened.fetch_add(1, Ordering::SeqCst) + 1;
                scanner.after_a_fresh_scan().await;
                assert!(
                    seen.load(Ordering::SeqCst) >= mine,
                    "a scan saw socket {mine}"
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let n = scans.load(Ordering::SeqCst);
        assert!((1..=16).contains(&n), "{n} scans for 256 invocations");
        // Alone, an invocation still gets its own scan.
        opened.fetch_add(1, Ordering::SeqCst);
        scanner.after_a_fresh_scan().await;
        assert_eq!(scans.load(Ordering::SeqCst), n + 1);
        assert_eq!(seen.load(Ordering::SeqCst), opened.load(Ordering::SeqCst));
    }

    /// Back-to-back scans are spaced by the rest: the second starts no sooner than three
    /// times the first's duration after it ended, and still serves the invocation that asked
    /// during the first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scans_of_a_run_rest_between_them() {
        use std::sync::{Arc, Mutex};
        use std::time::{Duration, Instant};
        let spans: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
        let scanner = {
            let spans = spans.clone();
            SharedScans::new(move || {
                let began = Instant::now();
                std::thread::sleep(Duration::from_millis(20));
                spans.lock().unwrap().push((began, Instant::now()));
            })
        };
        let first = tokio::spawn({
            let scanner = scanner.clone();
            async move { scanner.after_a_fresh_scan().await }
        });
        // Ask while the first scan runs.
        tokio::time::sleep(Duration::from_millis(5)).await;
        scanner.after_a_fresh_scan().await;
        first.await.unwrap();
        let spans = spans.lock().unwrap();
        assert_eq!(spans.len(), 2);
        let (took, rest) = (spans[0].1 - spans[0].0, spans[1].0 - spans[0].1);
        assert!(
            rest >= took * REST_PER_SCAN,
            "rested {rest:?} after {took:?}"
        );
    }

    /// A panicking scan is survived (its waiters go on, the next scan runs), and nothing keeps
    /// the scan alive once its `SharedScans` is dropped: no thread left behind holding it.
    #[tokio::test]
    async fn a_panicking_scan_is_survived_and_nothing_outlives_the_scans() {
        struct Dropped(std::sync::mpsc::Sender<()>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let guard = Dropped(tx);
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let scanner = {
            let calls = calls.clone();
            SharedScans::new(move || {
                let _ = &guard;
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    panic!("first scan fails");
                }
            })
        };
        scanner.after_a_fresh_scan().await;
        scanner.after_a_fresh_scan().await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(rx.try_recv().is_err(), "the scan lives while its scans do");
        drop(scanner);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the scan was dropped with its scans");
    }

    #[test]
    fn no_addresses_is_a_no_op() {
        assert_eq!(Nodelay::new(vec![]).apply(), 0);
    }

    /// The open descriptors are found, high numbers included, and closed numbers are not.
    #[test]
    fn open_descriptors_are_the_open_ones() {
        use std::os::fd::{AsRawFd, OwnedFd};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // Two copies of the socket far above what the tests open (numbers are handed out
        // lowest first, so no other test takes them); the first is closed again.
        let dup_at = |min: i32| {
            // SAFETY: F_DUPFD on an open descriptor; the new one is owned below.
            let fd = unsafe { libc::fcntl(stream.as_raw_fd(), libc::F_DUPFD, min) };
            assert!(fd >= min, "F_DUPFD: {}", std::io::Error::last_os_error());
            // SAFETY: `fd` was just opened and is owned by nothing else.
            unsafe { OwnedFd::from_raw_fd(fd) }
        };
        let closed = {
            let gone = dup_at(900);
            gone.as_raw_fd()
        };
        let high = dup_at(closed + 1);
        let table = descriptor_table_size().unwrap();
        let open = open_descriptors(table);
        for fd in [listener.as_raw_fd(), stream.as_raw_fd(), high.as_raw_fd()] {
            assert!(open.contains(&fd), "{fd} is open");
        }
        assert!(!open.contains(&closed), "{closed} was closed");
        assert!(open.iter().all(|&fd| fd < table));
    }

    /// Every open descriptor's number is below the table size the pass goes up to.
    #[test]
    fn the_descriptor_table_size_bounds_every_open_descriptor() {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let conns: Vec<TcpStream> = (0..100)
            .map(|_| TcpStream::connect(listener.local_addr().unwrap()).unwrap())
            .collect();
        let table = descriptor_table_size().expect("Linux has /proc/self/status");
        let highest = conns.iter().map(|c| c.as_raw_fd()).max().unwrap();
        assert!(highest < table, "descriptor {highest}, table size {table}");
    }
}
