//! Dev-only harness for ferrocast's integration tests: real servers started on loopback
//! and killed (by PID) when dropped, plus scratch directories and free ports.
//!
//! - [`RedisServer`]: a `redis-server` without persistence, answering PING before it is
//!   handed out; it can be stopped and a fresh one started on the same port.
//! - [`SentinelCluster`]: a primary, a replica and three `redis-sentinel`s, with a
//!   [`failover`](SentinelCluster::failover) that returns once the replica is primary.
//! - [`S3Server`]: an `s3s-fs` server over a fresh [`TempDir`], serving one bucket with
//!   fixed credentials; [`S3Server::config`] gives the plain values a client needs.
//! - [`DevCommand`] / [`DevServer`]: `ferrocast dev` on ephemeral loopback ports, with the
//!   URLs it prints; crashed and restarted on the same ports and data directory.
//! - [`TempDir`]: a directory under the system temp dir, removed on drop.
//! - [`free_port`]: a loopback port nothing listens on right now.
//! - [`ll_conformance`]: an LL-HLS media playlist checker, for one playlist and for a
//!   series of reloads.
//!
//! The binaries come from `scripts/install-test-deps.sh`; a missing one panics saying so.
//! Only std is used, so that every crate's tests can depend on this one.

mod dev_server;
pub mod ll_conformance;
mod process;
mod redis;
mod resp;
mod s3;
mod sentinel;
mod temp_dir;

pub use dev_server::{DevCommand, DevServer, stdout_lines};
pub use redis::RedisServer;
pub use s3::{S3Endpoint, S3Server};
pub use sentinel::SentinelCluster;
pub use temp_dir::TempDir;

/// Ports handed out lie below the kernel's ephemeral range (32768–60999 by default), so the
/// outgoing connections tests make by the thousand can never take one between `free_port`
/// and the caller's bind; asking the OS for port 0 would return a port from that very range.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A port on 127.0.0.1 nothing listens on right now, outside the ephemeral range. Each call in
/// a process gets another port (a counter, offset by the process id so that concurrent test
/// processes start apart); another program may still bind it first, so servers started here
/// retry on another port.
///
/// # Panics
///
/// If no port of the range can be bound.
#[must_use]
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(PORTS.end - PORTS.start);
    let offset = std::process::id().wrapping_mul(97) % span;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = PORTS.start + ((offset + step) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {PORTS:?}");
}
