//! The multivariant playlists of a stream (RFC 8216bis §4.4.6): the LL-HLS variant with its
//! `CODECS` (from the init segments' codec strings), `RESOLUTION`, `FRAME-RATE` and
//! `BANDWIDTH` (the peak measured over the log's complete segments), audio as an
//! `EXT-X-MEDIA` rendition; and, as an alternative, the MPEG-TS variant.
//!
//! SKELETON (lead): bodies to be written by the owner of `media::ll`.

use super::PartLog;

/// The MPEG-TS variant offered beside the LL one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsVariant {
    /// Its media playlist, relative to the multivariant playlist.
    pub uri: String,
    /// Its measured peak bit rate, bits per second.
    pub bandwidth: u64,
}

/// Renders the multivariant playlist; `None` before the log has an init segment. With `ts`,
/// the MPEG-TS variant is listed after the LL one.
#[allow(unused_variables, clippy::todo)]
pub fn render(log: &PartLog, ts: Option<&TsVariant>) -> Option<String> {
    todo!()
}
