//! Dev-only harness for ferrocast's integration tests: real servers started on loopback
//! and killed (by PID) when dropped, plus scratch directories and free ports.
//!
//! - [`RedisServer`]: a `redis-server` without persistence, answering PING before it is
//!   handed out; it can be stopped and a fresh one started on the same port.
//! - [`S3Server`]: an `s3s-fs` server over a fresh [`TempDir`], serving one bucket with
//!   fixed credentials; [`S3Server::config`] gives the plain values a client needs.
//! - [`TempDir`]: a directory under the system temp dir, removed on drop.
//! - [`free_port`]: a loopback port nothing listens on right now.
//!
//! The binaries come from `scripts/install-test-deps.sh`; a missing one panics saying so.
//! Only std is used, so that every crate's tests can depend on this one.

mod process;
mod redis;
mod s3;
mod temp_dir;

pub use redis::RedisServer;
pub use s3::{S3Endpoint, S3Server};
pub use temp_dir::TempDir;

/// A port on 127.0.0.1 nothing listens on right now (the OS picks it; another process may
/// take it before the caller binds it, so servers started here retry on another port).
///
/// # Panics
///
/// If no loopback port can be bound at all.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}
