//! [`PartLog`]: the init segments, parts and segment ends of one stream's low-latency window.
//!
//! SKELETON (lead): the bodies are to be written by the helper that owns `media::ll`; the
//! signatures are the contract the origin, relay and edge code against.
//!
//! Rules the implementation keeps:
//! - **Replays are idempotent.** An event the log already holds (same epoch and position) is
//!   ignored, so an edge that resubscribes after a relay hiccup applies the origin's whole
//!   replay onto its mirror without change. Events of an epoch older than the newest session
//!   are ignored.
//! - **Order is checked.** A part whose predecessor is missing, or a segment end before its
//!   parts, is refused with a [`LogError`] and the log is unchanged; the caller (an edge)
//!   then cuts the session off ([`PartLog::cut_off`]) and waits for a new segment.
//! - **Sessions.** A `Session` after segments of another epoch makes its first segment a
//!   discontinuity. A session whose `first_msn` does not follow the newest segment (a rewind
//!   after a takeover the index did not see) drops the log's segments at and after it; that
//!   case is logged by the caller and listed in docs/failure-modes.md.
//! - **Retention.** A complete segment stays in the log while it is in the playlist window
//!   (the newest complete segments within [`LogConfig::window_ms`], plus the open one), then
//!   for its own duration plus the window after it leaves (RFC 8216 §6.2.2), measured in
//!   media time of the segments that followed it. [`LogConfig::max_bytes`] caps everything.

use bytes::Bytes;
use ferrocast_base::{Epoch, Msn};

use super::{LogConfig, LogEvent, SegmentSummary, SessionInfo};
use crate::cmaf::{Init, MediaDuration, TrackKind};

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// An event that needs an earlier one the log does not hold.
    #[error("out of order: {0}")]
    OutOfOrder(&'static str),
}

/// One part of a segment in the log: both tracks' bytes of one part index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPart {
    /// Index within the segment, from 0.
    pub index: u32,
    /// Duration on the leading track's timeline.
    pub duration: MediaDuration,
    /// Starts with a random access point.
    pub independent: bool,
    /// The video track's part, if any.
    pub video: Option<Bytes>,
    /// The audio track's part, if any.
    pub audio: Option<Bytes>,
}

/// One segment in the log, complete or still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSegment {
    /// Its media sequence number.
    pub msn: Msn,
    /// The session that made it.
    pub epoch: Epoch,
    /// Its number within the session (names its objects and URIs).
    pub seq: u64,
    /// First segment of a session that follows another one in the log, or cut off.
    pub discontinuity: bool,
    /// Wall-clock time of its first frame, Unix milliseconds.
    pub program_date_time_ms: i64,
    /// The init version of each track that its parts need (`None`: no such track).
    pub video_init: Option<u32>,
    /// See `video_init`.
    pub audio_init: Option<u32>,
    /// Its parts so far, in index order.
    pub parts: Vec<LogPart>,
    /// Set once it is complete (its end arrived, or it was cut off).
    pub complete: Option<SegmentSummary>,
}

/// The low-latency window of one stream. See the module docs for its rules.
#[derive(Debug, Clone)]
pub struct PartLog {
    config: LogConfig,
}

#[allow(unused_variables, clippy::todo)]
impl PartLog {
    /// An empty log.
    pub fn new(config: LogConfig) -> Self {
        Self { config }
    }

    /// Its settings.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Applies one event (ignored when already held).
    pub fn apply(&mut self, event: LogEvent) -> Result<(), LogError> {
        todo!()
    }

    /// The events that rebuild this log in an empty one: what a new relay subscriber gets
    /// first. Holds every retained segment, the inits they need and the open segment's parts.
    pub fn replay(&self) -> Vec<LogEvent> {
        todo!()
    }

    /// The origin is gone: the open segment is closed where its parts end (its duration is
    /// their sum) and the next session's first segment will be a discontinuity (ADR 16
    /// decision 8). Nothing is dropped.
    pub fn cut_off(&mut self) {
        todo!()
    }

    /// Counts every change; an edge's blocked requests wake when it moves.
    pub fn version(&self) -> u64 {
        todo!()
    }

    /// The newest session, if any.
    pub fn session(&self) -> Option<&SessionInfo> {
        todo!()
    }

    /// The newest session ended cleanly (`EXT-X-ENDLIST`).
    pub fn ended(&self) -> bool {
        todo!()
    }

    /// Retained segments, oldest first (including those past the playlist window but inside
    /// the §6.2.2 margin, and the open one last).
    pub fn segments(&self) -> &[LogSegment] {
        todo!()
    }

    /// The segments a playlist lists now: the newest complete ones within the window, and
    /// the open one.
    pub fn listed(&self) -> &[LogSegment] {
        todo!()
    }

    /// The init segment of `track`, version `version`, of session `epoch`.
    pub fn init(&self, epoch: Epoch, track: TrackKind, version: u32) -> Option<&Init> {
        todo!()
    }

    /// The newest init segment of `track` (codec string, dimensions for the multivariant).
    pub fn newest_init(&self, track: TrackKind) -> Option<&Init> {
        todo!()
    }

    /// One part's bytes of `track`.
    pub fn part_bytes(
        &self,
        epoch: Epoch,
        seq: u64,
        index: u32,
        track: TrackKind,
    ) -> Option<Bytes> {
        todo!()
    }

    /// A complete segment's bytes of `track` (its parts concatenated).
    pub fn segment_bytes(&self, epoch: Epoch, seq: u64, track: TrackKind) -> Option<Bytes> {
        todo!()
    }

    /// Whether part `part` of segment `msn` exists (a blocking reload waits until it does).
    /// `part` = the segment's part count once it is complete also counts as existing: it is
    /// part 0 of the next segment in the RFC's terms, so callers ask for (msn + 1, 0).
    pub fn has_part(&self, msn: Msn, part: u32) -> bool {
        todo!()
    }

    /// Bytes of media held.
    pub fn bytes(&self) -> usize {
        todo!()
    }
}
