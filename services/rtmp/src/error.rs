//! The error type of RTMP connections.

use std::time::Duration;

/// Why an RTMP connection ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RtmpError {
    /// The socket failed.
    #[error("rtmp socket error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer did not complete the handshake in time.
    #[error("rtmp handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
    /// The peer sent nothing for too long.
    #[error("rtmp peer idle for {0:?}")]
    IdleTimeout(Duration),
    /// A write to the peer did not complete in time.
    #[error("rtmp write timed out after {0:?}")]
    WriteTimeout(Duration),
    /// The handshake bytes were invalid.
    #[error("rtmp handshake failed: {0}")]
    Handshake(String),
    /// The peer sent bytes that are not valid RTMP.
    #[error("rtmp protocol error: {0}")]
    Protocol(String),
    /// The peer made `rml_rtmp` panic; the session state is unusable.
    #[error("rtmp parser panicked on malformed input")]
    ParserPanicked,
    /// The peer kept sending without completing a message.
    #[error("rtmp peer buffered {0} bytes without completing a message")]
    Unproductive(usize),
}
