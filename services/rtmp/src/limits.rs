//! Bounds that this crate enforces in front of `rml_rtmp`.

use std::time::Duration;

/// Per-connection limits. Every wait has a deadline and every buffer a size.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time allowed for the whole handshake.
    pub handshake_timeout: Duration,
    /// Time allowed without receiving a byte; encoders send continuously.
    pub idle_timeout: Duration,
    /// Time allowed for one write to the peer.
    pub write_timeout: Duration,
    /// Bytes the peer may send without completing a single RTMP message. This bounds what the
    /// parser buffers for half-sent messages, whatever chunk size the peer announces.
    pub max_unproductive_bytes: usize,
    /// Size of the socket read buffer.
    pub read_buffer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_unproductive_bytes: 8 * 1024 * 1024,
            read_buffer_bytes: 64 * 1024,
        }
    }
}
