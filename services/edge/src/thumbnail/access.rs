//! Who may fetch a stream's thumbnail: the one place where a signed stream's playback token
//! is checked for thumbnails.

use axum::response::Response;
use ferrocast_base::{PlaybackId, StreamId};

use crate::state::Edge;

/// The audience a playback token must name to open a thumbnail (`aud` claim).
pub const AUDIENCE: &str = "thumbnail";

/// Whether the request may have the thumbnail of `stream_id`; `Err` is the answer to send
/// instead (401/403).
///
/// Every stream is public in this build: signed playback (a JWT whose `aud` is
/// [`AUDIENCE`], passed as `?token=`) is wired here once it lands: look up whether the
/// stream requires signing, and if so verify `token` for `playback_id` with audience
/// [`AUDIENCE`], answering 403 when it is missing, expired or for another audience.
pub(crate) async fn authorize(
    _edge: &Edge,
    _playback_id: &PlaybackId,
    _stream_id: &StreamId,
    _token: Option<&str>,
) -> Result<(), Response> {
    Ok(())
}
