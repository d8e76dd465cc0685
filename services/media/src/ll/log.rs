//! [`PartLog`]: the init segments, parts and segment ends of one stream's low-latency window.
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
//! - **Gaps.** A segment whose msn does not follow the one before it (a session that starts
//!   after msns a dead origin announced, or a segment this log never got) is a
//!   discontinuity, and playlists list only the segments after the newest gap: msns are
//!   implied by position in a playlist, so a gap cannot be listed across.
//! - **Retention.** A complete segment stays in the log while it is in the playlist window
//!   (the newest complete segments within [`LogConfig::window_ms`], plus the open one), then
//!   for its own duration plus the window after it leaves (RFC 8216 §6.2.2), measured in
//!   media time of the segments that followed it. [`LogConfig::max_bytes`] caps everything.
//!
//! A replay rebuilds an equal log, with one exception: a discontinuity that [`PartLog::cut_off`]
//! put inside a session (its next segment follows without a gap) is not carried by events.
//! Only origins' logs are replayed, and an origin never cuts its own log off.

mod apply;
mod replay;
mod window;

use bytes::{Bytes, BytesMut};
use ferrocast_base::{Epoch, Msn};

use super::{LogConfig, SegmentSummary, SessionInfo};
use crate::cmaf::{Init, MediaDuration, TrackKind};

pub(crate) use window::{listed_start, target_duration_s, window_ms};

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// An event that needs an earlier one the log does not hold.
    #[error("out of order: {0}")]
    OutOfOrder(&'static str),
    /// An event that contradicts what the log holds.
    #[error("inconsistent: {0}")]
    Inconsistent(&'static str),
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
    /// Frames in the video part (0 without one): the multivariant's `FRAME-RATE`.
    pub video_samples: u32,
    /// Frames in the audio part (0 without one).
    pub audio_samples: u32,
}

impl LogPart {
    /// The bytes of `track`, if this part has that track.
    pub fn track(&self, track: TrackKind) -> Option<&Bytes> {
        match track {
            TrackKind::Video => self.video.as_ref(),
            TrackKind::Audio => self.audio.as_ref(),
        }
    }

    fn bytes(&self) -> usize {
        self.video.as_ref().map_or(0, Bytes::len) + self.audio.as_ref().map_or(0, Bytes::len)
    }
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

impl LogSegment {
    /// The init version `track` needs in this segment.
    pub fn init_version(&self, track: TrackKind) -> Option<u32> {
        match track {
            TrackKind::Video => self.video_init,
            TrackKind::Audio => self.audio_init,
        }
    }

    /// Its duration: the summary's once complete, else the sum of its parts so far.
    pub fn duration(&self) -> MediaDuration {
        if let Some(summary) = &self.complete {
            return summary.duration;
        }
        let timescale = self
            .parts
            .first()
            .map_or(crate::cmaf::VIDEO_TIMESCALE, |p| p.duration.timescale);
        MediaDuration {
            ticks: self.parts.iter().map(|p| p.duration.ticks).sum(),
            timescale,
        }
    }

    /// How many of its parts are settled for `track`: their bytes of `track` arrived, or it
    /// is known that they have none. Per part index the packager sends video before audio,
    /// so a video part is settled as soon as its index exists, and an audio part once its
    /// bytes or a later index (or the segment's end) arrived.
    pub fn settled_parts(&self, track: TrackKind) -> usize {
        let count = self.parts.len();
        if self.complete.is_some() || track == TrackKind::Video {
            return count;
        }
        match self.parts.last() {
            Some(last) if last.audio.is_none() => count - 1,
            _ => count,
        }
    }

    fn bytes(&self) -> usize {
        self.parts.iter().map(LogPart::bytes).sum()
    }
}

/// What the log holds; compared by [`PartLog`]'s `PartialEq` (its version is not).
#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    /// The sessions of retained segments and the newest one, oldest first.
    sessions: Vec<SessionInfo>,
    /// The session the next Init, Part or SegmentEnd belongs to (`None`: an older session's
    /// events, ignored).
    cursor: Option<Epoch>,
    /// The newest session ended cleanly.
    ended: bool,
    /// The newest segment was cut off: the next one is a discontinuity.
    cut: bool,
    /// The init segments retained segments need, and the newest of each track of the newest
    /// session.
    inits: Vec<(Epoch, Init)>,
    /// Oldest first; msns rise.
    segments: Vec<LogSegment>,
    /// Discontinuities of segments no longer in the log (`EXT-X-DISCONTINUITY-SEQUENCE`).
    gone_discontinuities: u64,
}

/// The low-latency window of one stream. See the module docs for its rules.
#[derive(Debug, Clone)]
pub struct PartLog {
    config: LogConfig,
    state: State,
    version: u64,
}

/// Equal when they hold the same media and would render the same bytes; the version (a
/// count of this value's own changes) is not compared.
impl PartialEq for PartLog {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config && self.state == other.state
    }
}

impl PartLog {
    /// An empty log.
    pub fn new(config: LogConfig) -> Self {
        Self {
            config,
            state: State::default(),
            version: 0,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The origin is gone: the open segment is closed where its parts end (its duration is
    /// their sum) and the next session's first segment will be a discontinuity (ADR 16
    /// decision 8). Nothing is dropped.
    pub fn cut_off(&mut self) {
        let closed = self.close_open();
        if closed || !self.state.cut {
            self.state.cut = true;
            self.version += 1;
        }
    }

    /// Counts every change; an edge's blocked requests wake when it moves.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The newest session, if any.
    pub fn session(&self) -> Option<&SessionInfo> {
        self.state.sessions.last()
    }

    /// The session `epoch`, if the log still holds it.
    pub fn session_of(&self, epoch: Epoch) -> Option<&SessionInfo> {
        self.state.sessions.iter().find(|s| s.epoch == epoch)
    }

    /// The newest session ended cleanly (`EXT-X-ENDLIST`).
    pub fn ended(&self) -> bool {
        self.state.ended
    }

    /// Retained segments, oldest first (including those past the playlist window but inside
    /// the §6.2.2 margin, and the open one last).
    pub fn segments(&self) -> &[LogSegment] {
        &self.state.segments
    }

    /// The segments a playlist lists now: the newest complete ones within the window, and
    /// the open one.
    pub fn listed(&self) -> &[LogSegment] {
        let segments = &self.state.segments;
        &segments[listed_start(segments, self.window_ms(), true)..]
    }

    /// How many discontinuities come before `segments()[index]` since the log began: the
    /// `EXT-X-DISCONTINUITY-SEQUENCE` of a playlist that starts there.
    pub fn discontinuities_before(&self, index: usize) -> u64 {
        let held = self.state.segments[..index.min(self.state.segments.len())]
            .iter()
            .filter(|s| s.discontinuity)
            .count();
        self.state.gone_discontinuities + held as u64
    }

    /// The playlist window of the newest session, milliseconds (see [`window_ms`]).
    pub fn window_ms(&self) -> u64 {
        window_ms(&self.config, self.session())
    }

    /// The init segment of `track`, version `version`, of session `epoch`.
    pub fn init(&self, epoch: Epoch, track: TrackKind, version: u32) -> Option<&Init> {
        self.state
            .inits
            .iter()
            .find(|(e, init)| *e == epoch && init.track == track && init.version == version)
            .map(|(_, init)| init)
    }

    /// The newest init segment of `track` (codec string, dimensions for the multivariant).
    pub fn newest_init(&self, track: TrackKind) -> Option<&Init> {
        let newest = self.session()?.epoch;
        self.state
            .inits
            .iter()
            .filter(|(e, init)| *e == newest && init.track == track)
            .map(|(_, init)| init)
            .max_by_key(|init| init.version)
    }

    /// One part's bytes of `track`.
    pub fn part_bytes(
        &self,
        epoch: Epoch,
        seq: u64,
        index: u32,
        track: TrackKind,
    ) -> Option<Bytes> {
        let segment = self.find(epoch, seq)?;
        let part = segment.parts.get(usize::try_from(index).ok()?)?;
        part.track(track).cloned()
    }

    /// A complete segment's bytes of `track` (its parts concatenated).
    pub fn segment_bytes(&self, epoch: Epoch, seq: u64, track: TrackKind) -> Option<Bytes> {
        let segment = self.find(epoch, seq)?;
        segment.complete?;
        let mut bytes = BytesMut::new();
        for part in &segment.parts {
            if let Some(data) = part.track(track) {
                bytes.extend_from_slice(data);
            }
        }
        (!bytes.is_empty()).then(|| bytes.freeze())
    }

    /// Whether part `part` of segment `msn` exists (a blocking reload waits until it does),
    /// for every track: see [`LogSegment::settled_parts`]. A `part` at or past the part count
    /// of a complete segment is part 0 of the next segment (RFC 8216bis §6.2.5.2), so it
    /// exists once that one does.
    pub fn has_part(&self, msn: Msn, part: u32) -> bool {
        let Some(segment) = self.by_msn(msn) else {
            return false;
        };
        let part = usize::try_from(part).unwrap_or(usize::MAX);
        if segment.complete.is_some() && part >= segment.parts.len() {
            return self.has_part(msn.next(), 0);
        }
        let settled = [TrackKind::Video, TrackKind::Audio]
            .into_iter()
            .map(|track| segment.settled_parts(track))
            .min()
            .unwrap_or(0);
        part < settled
    }

    /// Bytes of media held.
    pub fn bytes(&self) -> usize {
        let inits: usize = self.state.inits.iter().map(|(_, i)| i.data.len()).sum();
        let parts: usize = self.state.segments.iter().map(LogSegment::bytes).sum();
        inits + parts
    }

    /// The segment `msn`, if held.
    pub fn by_msn(&self, msn: Msn) -> Option<&LogSegment> {
        let first = self.state.segments.first()?.msn;
        let at = usize::try_from(msn.get().checked_sub(first.get())?).ok()?;
        // Msns rise but may jump at a gap, so check the guess and fall back to a search.
        match self.state.segments.get(at) {
            Some(segment) if segment.msn == msn => Some(segment),
            _ => self.state.segments.iter().find(|s| s.msn == msn),
        }
    }

    fn find(&self, epoch: Epoch, seq: u64) -> Option<&LogSegment> {
        self.state
            .segments
            .iter()
            .rev()
            .find(|s| s.epoch == epoch && s.seq == seq)
    }

    /// Closes the open segment where its parts end; whether there was one.
    fn close_open(&mut self) -> bool {
        let Some(segment) = self.state.segments.last_mut() else {
            return false;
        };
        if segment.complete.is_some() {
            return false;
        }
        let started_at = self
            .state
            .sessions
            .iter()
            .find(|s| s.epoch == segment.epoch)
            .map_or(segment.program_date_time_ms, |s| s.started_at_unix_ms);
        let start_dts_ms = segment.program_date_time_ms.saturating_sub(started_at);
        segment.complete = Some(SegmentSummary {
            seq: segment.seq,
            start_dts_ms: u64::try_from(start_dts_ms).unwrap_or(0),
            duration: segment.duration(),
            parts: u32::try_from(segment.parts.len()).unwrap_or(u32::MAX),
            starts_with_keyframe: segment.parts.first().is_some_and(|p| p.independent),
        });
        true
    }
}

#[cfg(test)]
mod tests;
