//! Where segments are cut: the one rule set that every muxer of a publish session follows,
//! so the MPEG-TS and the CMAF renditions cut at the same frames (ADR 16, decision 2).
//!
//! The rules:
//! - Video mode (video expected from `onMetaData`, or a video decoder configuration has
//!   arrived, and the video track was not dropped): nothing is written until the first
//!   keyframe. Audio before it is held ([`Backlog`]: the newest target's worth, within the
//!   byte bound); what of it is not older than the keyframe follows it into the first
//!   segment. A segment is cut at a keyframe whose DTS is at least `target_duration_ms`
//!   after the segment start.
//! - Audio-only mode (video not expected, video dropped as unsupported, or no video
//!   configuration after one target of audio): cut at the first audio frame at least
//!   `target_duration_ms` after the segment start. The audio held while waiting for video
//!   opens the first segment at its first frame, so an audio-only publish loses no frame.
//! - A video configuration arriving in audio-only mode switches to video mode: audio keeps
//!   filling the open segment and the first keyframe cuts a new one.
//! - Ceiling (RFC 8216 §4.3.3.1, ADR 17): `EXT-X-TARGETDURATION` is
//!   [`target_duration_s`] of the configured target and never changes, so no segment may
//!   round above it. A frame of the leading track (video in video mode, audio otherwise)
//!   after which the next one, a frame step later, could take the open segment past
//!   [`Cutter::ceiling_ms`] cuts, keyframe or not ([`Start::Forced`]); the next keyframe
//!   then cuts again, so segments realign with the encoder's keyframes. A segment that
//!   still outlasts the ceiling (across a timestamp gap) is listed at the ceiling: each
//!   muxer caps its duration there.
//! - Memory bound: once the open segment's frames cost `max_segment_bytes`, the next cut
//!   opportunity (keyframe in video mode, audio frame in audio-only mode) cuts regardless of
//!   duration. At twice that, the next frame of any kind cuts ([`Start::Forced`]).
//! - A changed decoder configuration (a new resolution, say) makes the next cut opportunity
//!   cut, so a segment never mixes two configurations: CMAF needs a new init segment there.
//!
//! The cost of a frame ([`frame_cost`]) is a measure every muxer shares (its payload plus
//! a fixed framing allowance), never one muxer's own output size: that is what keeps the
//! memory-bound cuts identical across outputs. Frame steps, likewise, come from the DTS
//! that every muxer is given.

use crate::avc::DecoderConfig;
use crate::hls::{PackagerConfig, target_duration_s};
use crate::timestamp::{DEFAULT_AUDIO_STEP_MS, DEFAULT_VIDEO_STEP_MS};

mod backlog;

pub(crate) use backlog::{Backlog, Held};

/// Bytes added to every frame's payload when costing it: one MPEG-TS packet, about what
/// a muxer adds around a frame (PES header and packet padding, or a `trun` entry).
pub(crate) const FRAME_OVERHEAD: usize = 188;
/// Largest DTS step taken as a track's frame cadence; bigger steps are gaps.
const MAX_FRAME_STEP_MS: u64 = 1_000;
/// Timestamp jitter allowed for when predicting where the next frame falls (the ceiling).
const CEILING_SLACK_MS: u64 = 20;

/// Where a new segment starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At a random access point: a keyframe in video mode, any audio frame in audio-only
    /// mode.
    RandomAccess,
    /// Wherever the memory bound or the ceiling forced the cut.
    Forced,
}

/// What a muxer does with the frame it asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Drop it: no segment is open (a video frame waiting for the first keyframe).
    Skip,
    /// Keep it in the [`Backlog`]: an audio frame while video is expected and no segment
    /// is open.
    Hold,
    /// Append it to the open segment.
    Write,
    /// Close the open segment (if any) and open one at `at_ms` that starts with this frame.
    Cut {
        /// Session DTS where the new segment starts: the frame's, or the open segment's
        /// start if the frame lags it, so segments never go back in time.
        at_ms: u64,
        /// Whether the new segment starts at a random access point.
        start: Start,
    },
}

/// The state of the video track that the rules depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Video {
    /// A decoder configuration (sequence header) has arrived.
    pub(crate) configured: bool,
    /// The track was dropped as unsupported.
    pub(crate) dropped: bool,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    start_dts_ms: u64,
    cost: usize,
    /// Cut where no random access point was: the next keyframe cuts.
    forced: bool,
}

/// The cadence of one track: its last DTS and the step to it.
#[derive(Debug, Clone, Copy)]
struct Cadence {
    last_dts_ms: Option<u64>,
    step_ms: u64,
}

impl Cadence {
    fn new(step_ms: u64) -> Self {
        Self {
            last_dts_ms: None,
            step_ms,
        }
    }

    fn observe(&mut self, dts_ms: u64) {
        if let Some(step) = self.last_dts_ms.and_then(|last| dts_ms.checked_sub(last))
            && (1..=MAX_FRAME_STEP_MS).contains(&step)
        {
            self.step_ms = step;
        }
        self.last_dts_ms = Some(dts_ms);
    }
}

/// Decides, frame by frame, where one publish session's segments are cut.
#[derive(Debug, Clone)]
pub(crate) struct Cutter {
    config: PackagerConfig,
    /// Set when audio ran one target without any video configuration.
    video_timed_out: bool,
    first_audio_dts_ms: Option<u64>,
    /// A keyframe has been written, so inter frames may follow.
    video_started: bool,
    /// A decoder configuration changed: the next cut opportunity cuts.
    reconfigured: bool,
    open: Option<Open>,
    video: Cadence,
    audio: Cadence,
}

/// The cost of one frame: its payload, any decoder configuration a muxer may repeat in
/// front of it, and [`FRAME_OVERHEAD`].
pub(crate) fn frame_cost(payload_len: usize, repeated_config_len: usize) -> usize {
    payload_len
        .saturating_add(repeated_config_len)
        .saturating_add(FRAME_OVERHEAD)
}

/// Bytes of parameter sets a muxer may repeat in front of a keyframe, each with a 4-byte
/// start code or length prefix.
pub(crate) fn config_len(config: &DecoderConfig) -> usize {
    config
        .sps
        .iter()
        .chain(&config.pps)
        .map(|set| set.len() + 4)
        .sum()
}

impl Cutter {
    /// A cutter for a new session.
    pub(crate) fn new(config: PackagerConfig) -> Self {
        Self {
            config,
            video_timed_out: false,
            first_audio_dts_ms: None,
            video_started: false,
            reconfigured: false,
            open: None,
            video: Cadence::new(DEFAULT_VIDEO_STEP_MS),
            audio: Cadence::new(DEFAULT_AUDIO_STEP_MS),
        }
    }

    /// An empty backlog bounded by this session's settings: one target of audio, and
    /// frames costing at most `max_segment_bytes`.
    pub(crate) fn backlog<T>(&self) -> Backlog<T> {
        Backlog::new(
            self.config.target_duration_ms,
            self.config.max_segment_bytes,
        )
    }

    /// The longest a segment may be listed as: it still rounds to the target duration.
    pub(crate) fn ceiling_ms(&self) -> u64 {
        target_duration_s(self.config.target_duration_ms)
            .saturating_mul(1_000)
            .saturating_add(499)
    }

    /// The last step between two video frames that looked like frame cadence (a guess
    /// until two frames came), which a muxer gives the session's last frame.
    pub(crate) fn video_step_ms(&self) -> u64 {
        self.video.step_ms
    }

    /// Whether segments are cut on video keyframes (see the module docs).
    pub(crate) fn video_mode(&self, video: Video) -> bool {
        !video.dropped && (video.configured || (self.config.expect_video && !self.video_timed_out))
    }

    /// A track's decoder configuration changed: cut at the next opportunity.
    pub(crate) fn reconfigured(&mut self) {
        self.reconfigured = true;
    }

    /// Decides about one video frame (of a configured, supported track) costing `cost`.
    ///
    /// After a cut, a muxer writes this frame, then the held audio not older than it.
    pub(crate) fn video(&mut self, dts_ms: u64, keyframe: bool, cost: usize) -> Action {
        self.video.observe(dts_ms);
        let step = self.video.step_ms;
        let action = match self.open {
            Some(open) if keyframe => {
                let due = self.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
                let full = open.cost >= self.config.max_segment_bytes;
                let long = self.over_ceiling(dts_ms, step);
                let first = !self.video_started;
                if first || due || full || long || open.forced || self.reconfigured {
                    self.cut(dts_ms, Start::RandomAccess)
                } else {
                    Action::Write
                }
            }
            None if keyframe => self.cut(dts_ms, Start::RandomAccess),
            Some(_) if self.video_started => {
                if self.over_hard_limit() || self.over_ceiling(dts_ms, step) {
                    self.cut(dts_ms, Start::Forced)
                } else {
                    Action::Write
                }
            }
            _ => return Action::Skip,
        };
        self.video_started |= keyframe;
        self.account(cost);
        action
    }

    /// Decides about one audio frame (of a configured, supported track) costing `cost`.
    ///
    /// Call [`Cutter::release`] first: this frame may find video given up on.
    pub(crate) fn audio(&mut self, dts_ms: u64, cost: usize, video: Video) -> Action {
        self.audio_arrives(dts_ms, video);
        let action = if self.video_mode(video) {
            if self.open.is_none() {
                return Action::Hold;
            }
            if self.over_hard_limit() {
                self.cut(dts_ms, Start::Forced)
            } else {
                Action::Write
            }
        } else {
            let due = self.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
            let full = self.open_cost() >= self.config.max_segment_bytes;
            let long = self.over_ceiling(dts_ms, self.audio.step_ms);
            if self.open.is_none() || due || full || long || self.reconfigured {
                // Every audio frame is independently decodable.
                self.cut(dts_ms, Start::RandomAccess)
            } else {
                Action::Write
            }
        };
        self.account(cost);
        action
    }

    /// Before an audio frame at `dts_ms` is decided: if it finds the session audio-only with
    /// no segment open and audio held since `held_from`, opens the first segment there
    /// (returns where). The muxer then writes every held frame ([`Cutter::released`]) and
    /// asks [`Cutter::audio`] about this frame.
    pub(crate) fn release(
        &mut self,
        dts_ms: u64,
        video: Video,
        held_from: Option<u64>,
    ) -> Option<u64> {
        self.audio_arrives(dts_ms, video);
        let first = held_from?;
        if self.open.is_some() || self.video_mode(video) {
            return None;
        }
        match self.cut(first, Start::RandomAccess) {
            Action::Cut { at_ms, .. } => Some(at_ms),
            _ => None,
        }
    }

    /// At the end of the session: if no segment is open and audio was held since
    /// `held_from` while no video configuration came (an audio-only publish shorter than
    /// the wait for video), opens one there for it.
    pub(crate) fn release_at_end(&mut self, video: Video, held_from: Option<u64>) -> Option<u64> {
        let first = held_from?;
        if self.open.is_some() || video.configured {
            return None;
        }
        match self.cut(first, Start::RandomAccess) {
            Action::Cut { at_ms, .. } => Some(at_ms),
            _ => None,
        }
    }

    /// A held frame costing `cost` was written to the open segment.
    pub(crate) fn released(&mut self, cost: usize) {
        self.account(cost);
    }

    /// Gives up on video after one target of audio without a video configuration.
    /// (Observing the same frame twice changes nothing: a step of 0 is no cadence.)
    fn audio_arrives(&mut self, dts_ms: u64, video: Video) {
        self.audio.observe(dts_ms);
        if video.configured || self.video_timed_out {
            return;
        }
        let first = *self.first_audio_dts_ms.get_or_insert(dts_ms);
        let waited = dts_ms.saturating_sub(first);
        self.video_timed_out = waited >= self.config.target_duration_ms;
    }

    fn elapsed_ms(&self, dts_ms: u64) -> u64 {
        self.open
            .map_or(0, |open| dts_ms.saturating_sub(open.start_dts_ms))
    }

    fn open_cost(&self) -> usize {
        self.open.map_or(0, |open| open.cost)
    }

    fn over_hard_limit(&self) -> bool {
        self.open_cost() >= self.config.max_segment_bytes.saturating_mul(2)
    }

    /// Whether the open segment must close at the frame at `dts_ms`: the frame after it,
    /// one `step_ms` (plus jitter) later, could take the segment past the ceiling.
    fn over_ceiling(&self, dts_ms: u64, step_ms: u64) -> bool {
        let next = step_ms.saturating_add(CEILING_SLACK_MS);
        self.open.is_some() && self.elapsed_ms(dts_ms).saturating_add(next) > self.ceiling_ms()
    }

    fn cut(&mut self, dts_ms: u64, start: Start) -> Action {
        // A segment never starts before the one it follows. The track that cuts can change
        // (video arriving late, or dropped), and the new one may lag the open segment's
        // start: it then cuts at that start, so the closed segment lasts 0 ms and neither
        // the timeline nor the program date time goes back. Frames keep their timestamps.
        let at_ms = self
            .open
            .map_or(dts_ms, |open| dts_ms.max(open.start_dts_ms));
        self.open = Some(Open {
            start_dts_ms: at_ms,
            cost: 0,
            forced: start == Start::Forced,
        });
        self.reconfigured = false;
        Action::Cut { at_ms, start }
    }

    fn account(&mut self, cost: usize) {
        if let Some(open) = &mut self.open {
            open.cost = open.cost.saturating_add(cost);
        }
    }
}

#[cfg(test)]
mod tests;
