//! The roles of the one binary: `dev` (all in one process) and the cluster's `control`,
//! `origin` and `edge`, each a typed configuration and a `run` that wires the libraries.
//! A role's configuration holds its process settings and nests the libraries' own
//! configurations (`origin`, `edge`, `control`) rather than copying their fields.

pub mod control;
mod control_owners;
pub mod dev;
mod dev_relay;
pub mod edge;
mod heartbeat;
pub mod ops;
pub mod origin;

use std::net::SocketAddr;

/// The URL host for `addr`: the configured public host, or the listen address, or
/// 127.0.0.1 for a wildcard listen.
pub fn url_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    }
}

/// A node id: the configured one, or `<role>-<random>` when none is.
pub fn node_id(configured: Option<&str>, role: &str) -> String {
    if let Some(id) = configured {
        return id.to_owned();
    }
    format!(
        "{role}-{}",
        &ferrocast_control::credentials::new_stream_id().as_str()[..6]
    )
}
