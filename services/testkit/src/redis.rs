//! A real `redis-server` on a free loopback port, without persistence.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

use crate::process;

/// A `redis-server` child process (`--save '' --appendonly no`) on 127.0.0.1, answering
/// PING; killed (by PID) on drop.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers PING.
    ///
    /// # Panics
    ///
    /// If `redis-server` is missing ("run scripts/install-test-deps.sh") or does not come
    /// up on any of several ports.
    #[must_use]
    pub fn start() -> Self {
        process::on_a_free_port("redis-server", Self::start_on)
    }

    /// Starts one on `port` (say, the port of a [stopped](Self::stop) server) and waits
    /// until it answers PING; `None` if it exited (the port is taken) or never answered.
    ///
    /// # Panics
    ///
    /// If `redis-server` is missing ("run scripts/install-test-deps.sh").
    #[must_use]
    pub fn start_on(port: u16) -> Option<Self> {
        let child = process::spawn(
            Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"]),
            "scripts/install-test-deps.sh",
        );
        // Dropped (and so killed) if it never answers.
        let mut server = Self { child, port };
        process::wait_ready(&mut server.child, || answers_ping(port)).then_some(server)
    }

    /// `redis://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server now (an outage); [`RedisServer::start_on`] with [`Self::port`]
    /// brings up a fresh, empty one in its place.
    pub fn stop(&mut self) {
        process::kill(&mut self.child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a Redis on `port` answers `PING` with `+PONG` within a second.
fn answers_ping(port: u16) -> bool {
    let Ok(mut socket) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(1));
    if socket.set_read_timeout(timeout).is_err() || socket.set_write_timeout(timeout).is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    socket.write_all(b"PING\r\n").is_ok()
        && socket.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
