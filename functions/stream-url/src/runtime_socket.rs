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

/// Sets `TCP_NODELAY` on every open TCP socket whose peer is one of `addrs`; returns how many.
/// Cheap (one directory listing of `/proc/self/fd`); a no-op where `/proc` is absent.
pub fn set_nodelay_to(addrs: &[SocketAddr]) -> usize {
    if addrs.is_empty() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut set = 0;
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: the descriptor is borrowed, never closed (ManuallyDrop), and only used for
        // getpeername/setsockopt, which are harmless on any socket, even one that was closed and
        // reused by another thread in between.
        let stream = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        if stream.peer_addr().is_ok_and(|peer| addrs.contains(&peer))
            && stream.set_nodelay(true).is_ok()
        {
            set += 1;
        }
    }
    set
}

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
        let n = set_nodelay_to(&[runtime.local_addr().unwrap()]);
        assert!(n >= 1);
        assert!(to_runtime.nodelay().unwrap());
        assert!(!to_other.nodelay().unwrap());
    }

    #[test]
    fn no_addresses_is_a_no_op() {
        assert_eq!(set_nodelay_to(&[]), 0);
    }
}
