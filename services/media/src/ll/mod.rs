//! The low-latency window of one stream (ADR 16): the part log an origin builds from its CMAF
//! packager and every edge mirrors from the relay, and what is rendered from it: LL-HLS media
//! playlists ([`playlist`]), the multivariant playlist ([`variants`]) and the DASH MPD
//! ([`mpd`]).
//!
//! Everything here is pure: the same events give the same log, and the same log gives the
//! same bytes on every edge (rule 2). URIs are named by [`names`] and never carry anything
//! per edge or per viewer.

#[cfg(test)]
mod fixtures;
mod log;
pub mod mpd;
pub mod names;
pub mod playlist;
pub mod variants;

use ferrocast_base::{Epoch, Msn};

use crate::cmaf::{self, MediaDuration};

pub use log::{LogError, LogPart, LogSegment, PartLog};

/// One entry of a stream's part log: what the origin applies to its own log, what the relay
/// carries, and what an edge applies to its mirror.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEvent {
    /// A publish session starts; later events belong to it until the next `Session`.
    Session(SessionInfo),
    /// A track's init segment (its `version` counts up within the session).
    Init(cmaf::Init),
    /// One part of one track.
    Part(cmaf::Part),
    /// Every part of a segment has been sent.
    SegmentEnd(SegmentSummary),
    /// The session ended cleanly: the publisher stopped.
    SessionEnd,
}

/// The start of a publish session in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session's epoch: part of every object and URI it names.
    pub epoch: Epoch,
    /// The media sequence number of the session's segment `seq` 0: segment `seq` is
    /// `first_msn + seq`.
    pub first_msn: Msn,
    /// Wall-clock time of session DTS 0, Unix milliseconds (`EXT-X-PROGRAM-DATE-TIME`, the
    /// MPD's times).
    pub started_at_unix_ms: i64,
    /// The packager's part target, milliseconds (`PART-TARGET`).
    pub part_target_ms: u64,
    /// The packager's segment target, milliseconds (`EXT-X-TARGETDURATION` is its rounding
    /// by `crate::hls::target_duration_s`). Carried per session, so an edge needs no
    /// configuration that must match the origin's.
    pub target_duration_ms: u64,
}

/// A finished segment without its bytes (an edge concatenates the parts it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The segment, counted from 0 in the session.
    pub seq: u64,
    /// Session DTS where it starts, milliseconds.
    pub start_dts_ms: u64,
    /// The sum of its parts' durations.
    pub duration: MediaDuration,
    /// How many part indices it has.
    pub parts: u32,
    /// Whether its first frame is a random access point.
    pub starts_with_keyframe: bool,
}

impl From<&cmaf::SegmentEnd> for SegmentSummary {
    fn from(end: &cmaf::SegmentEnd) -> Self {
        Self {
            seq: end.seq,
            start_dts_ms: end.start_dts_ms,
            duration: end.duration,
            parts: end.parts,
            starts_with_keyframe: end.starts_with_keyframe,
        }
    }
}

/// Settings of a [`PartLog`] and of what is rendered from it (the part and segment targets
/// come with each session: [`SessionInfo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// How much complete media a playlist lists behind the open segment, milliseconds (at
    /// least three target durations, RFC 8216bis §4.4.3.8). The default, 16 s, is more than
    /// CAN-SKIP-UNTIL (six 2 s targets), so a delta update has segments to skip.
    pub window_ms: u64,
    /// Cap on the bytes the log holds; past it the oldest segments go first, even inside the
    /// RFC 8216 §6.2.2 margin.
    pub max_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            window_ms: 16_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}
