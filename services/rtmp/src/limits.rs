//! Bounds that this crate enforces in front of `rml_rtmp`.

use std::time::Duration;

use crate::front::{CommandLimits, MAX_AMF_MESSAGE};
use crate::reader::ReaderLimits;

/// Bytes an unauthorized connection may make the server hold: a few commands in flight.
const UNSTARTED_BUFFERED_BYTES: usize = 4 * MAX_AMF_MESSAGE;

/// Per-connection limits. Every wait has a deadline and every buffer a size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed for the whole handshake.
    pub handshake_timeout: Duration,
    /// Time allowed from the end of the handshake to an accepted `publish` or `play`: a
    /// connection that only holds a slot is cut.
    pub start_timeout: Duration,
    /// Time allowed without receiving a byte; encoders send continuously.
    pub idle_timeout: Duration,
    /// Time allowed for one write to the peer.
    pub write_timeout: Duration,
    /// Longest message a publisher may send once its publish is accepted; it must carry the
    /// largest keyframe of a legal stream. Until then only AMF0 commands fit
    /// ([`crate::front::MAX_AMF_MESSAGE`]).
    pub max_message_size: usize,
    /// Chunk streams a peer may use (encoders use three to six).
    pub max_chunk_streams: usize,
    /// Commands that cost server state.
    pub commands: CommandLimits,
    /// Size of the socket read buffer.
    pub read_buffer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            start_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            // A 4K H.264 or HEVC keyframe at a high bitrate is a few MiB.
            max_message_size: 8 * 1024 * 1024,
            max_chunk_streams: 32,
            commands: CommandLimits::default(),
            read_buffer_bytes: 64 * 1024,
        }
    }
}

impl Limits {
    /// What the chunk reader allows before a publish is accepted: commands only.
    pub(crate) fn unstarted_reader(&self) -> ReaderLimits {
        ReaderLimits {
            max_message_size: MAX_AMF_MESSAGE,
            max_chunk_streams: self.max_chunk_streams,
            max_buffered_bytes: UNSTARTED_BUFFERED_BYTES,
        }
    }

    /// What the chunk reader allows an accepted publisher: a largest message in flight with
    /// the other streams' messages interleaved, and a socket read on top.
    pub(crate) fn publishing_reader(&self) -> ReaderLimits {
        ReaderLimits {
            max_message_size: self.max_message_size,
            max_chunk_streams: self.max_chunk_streams,
            max_buffered_bytes: 2 * self.max_message_size + self.read_buffer_bytes,
        }
    }
}
