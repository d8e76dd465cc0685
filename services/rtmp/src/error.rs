//! The error type of RTMP connections.

use std::error::Error;
use std::time::Duration;

use crate::reader::ChunkError;

/// Why an RTMP connection ended abnormally.
///
/// [`RtmpError::Handshake`] and [`RtmpError::Protocol`] keep their cause as a boxed error: one
/// of our own rules' messages, the AMF0 reader's error, or `rml_rtmp`'s, whose types must not
/// appear in this crate's API (ADR 0001). The cause is in their text too, because logs print
/// only `{error}`.
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
    Handshake(#[source] Box<dyn Error + Send + Sync>),
    /// The peer sent bytes that are not valid RTMP.
    #[error("rtmp protocol error: {0}")]
    Protocol(#[source] Box<dyn Error + Send + Sync>),
    /// The peer made `rml_rtmp` panic; the session state is unusable.
    #[error("rtmp parser panicked on malformed input")]
    ParserPanicked,
    /// The peer's chunk stream broke a rule or a limit.
    #[error("rtmp chunk stream: {0}")]
    Chunk(#[from] ChunkError),
    /// The peer neither published nor played within the start deadline.
    #[error("rtmp peer neither published nor played within {0:?}")]
    StartTimeout(Duration),
}
