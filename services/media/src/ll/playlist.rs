//! LL-HLS media playlists of one track rendered from a [`PartLog`] (RFC 8216bis): parts,
//! preload hints, server control, blocking requests and delta updates.
//!
//! SKELETON (lead): bodies to be written by the owner of `media::ll`.
//!
//! - `EXT-X-TARGETDURATION` is `crate::hls::target_duration_s` of the session's target and
//!   never changes; `EXT-X-PART-INF:PART-TARGET` is the session's part target.
//! - `EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3×part target,
//!   CAN-SKIP-UNTIL=6×target duration`.
//! - Parts are listed for the segments of the last three target durations; older segments
//!   are listed as whole segments only.
//! - A blocking request is answered **up to exactly the requested part** plus the preload
//!   hint of the next one, so two edges that hold that part answer the same bytes.
//! - The audio playlist lists one `EXT-X-PART` per part index of the leading track, so its
//!   parts add up to the segment like the video playlist's (a part without audio is
//!   `GAP=YES`).

use ferrocast_base::Msn;

use super::PartLog;
use crate::cmaf::TrackKind;

/// The query of a playlist request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// `_HLS_msn`: block until this segment (with `part`, this part) exists.
    pub msn: Option<Msn>,
    /// `_HLS_part`: only with `msn`.
    pub part: Option<u32>,
    /// `_HLS_skip=YES`: a delta update.
    pub skip: bool,
}

/// How a playlist request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The playlist.
    Playlist(String),
    /// The requested part does not exist yet: wait for the log to change and ask again.
    Wait,
    /// Not a valid request (`_HLS_part` without `_HLS_msn`, or an msn more than two
    /// segments ahead): 400 with this reason.
    BadRequest(&'static str),
    /// No such playlist (no session, or no such track).
    NotFound,
}

/// Renders `track`'s media playlist for `request`.
#[allow(unused_variables, clippy::todo)]
pub fn render(log: &PartLog, track: TrackKind, request: &Request) -> Answer {
    todo!()
}
