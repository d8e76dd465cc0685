//! Where segments are cut: the one rule set that every muxer of a publish session follows,
//! so the MPEG-TS and the CMAF renditions cut at the same frames (ADR 16, decision 2).
//!
//! The rules (the TS packager's, moved here unchanged):
//! - Video mode (video expected from `onMetaData`, or a video decoder configuration has
//!   arrived, and the video track was not dropped): nothing is written until the first
//!   keyframe; audio before it is skipped. A segment is cut at a keyframe whose DTS is at
//!   least `target_duration_ms` after the segment start.
//! - Audio-only mode (video not expected, video dropped as unsupported, or no video
//!   configuration after 2 x target of audio): cut at the first audio frame at least
//!   `target_duration_ms` after the segment start.
//! - A video configuration arriving in audio-only mode switches to video mode: audio keeps
//!   filling the open segment and the first keyframe cuts a new one.
//! - Memory bound: once the open segment's frames cost `max_segment_bytes`, the next cut
//!   opportunity (keyframe in video mode, audio frame in audio-only mode) cuts regardless of
//!   duration. At twice that, the next frame of any kind cuts ([`Start::Forced`]).
//! - A changed decoder configuration (a new resolution, say) makes the next cut opportunity
//!   cut, so a segment never mixes two configurations: CMAF needs a new init segment there.
//!
//! The cost of a frame ([`frame_cost`]) is a measure every muxer shares (its payload plus
//! a fixed framing allowance), never one muxer's own output size: that is what keeps the
//! memory-bound cuts identical across outputs.

use crate::avc::DecoderConfig;
use crate::hls::PackagerConfig;

/// Bytes added to every frame's payload when costing it: one MPEG-TS packet, about what
/// a muxer adds around a frame (PES header and packet padding, or a `trun` entry).
pub(crate) const FRAME_OVERHEAD: usize = 188;

/// Where a new segment starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At a random access point: a keyframe in video mode, any audio frame in audio-only
    /// mode.
    RandomAccess,
    /// Wherever the memory bound forced the cut.
    Forced,
}

/// What a muxer does with the frame it asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Drop it: no segment is open (waiting for the first keyframe).
    Skip,
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
}

/// Decides, frame by frame, where one publish session's segments are cut.
#[derive(Debug, Clone)]
pub(crate) struct Cutter {
    config: PackagerConfig,
    /// Set when audio ran 2 x target without any video configuration.
    video_timed_out: bool,
    first_audio_dts_ms: Option<u64>,
    /// A keyframe has been written, so inter frames may follow.
    video_started: bool,
    /// A decoder configuration changed: the next cut opportunity cuts.
    reconfigured: bool,
    open: Option<Open>,
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
        }
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
    pub(crate) fn video(&mut self, dts_ms: u64, keyframe: bool, cost: usize) -> Action {
        let open = self.open.is_some();
        let action = if keyframe {
            let due = self.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
            let full = self.open_cost() >= self.config.max_segment_bytes;
            let cut = !self.video_started || !open || due || full || self.reconfigured;
            self.video_started = true;
            if cut {
                self.cut(dts_ms, Start::RandomAccess)
            } else {
                Action::Write
            }
        } else if !self.video_started || !open {
            return Action::Skip;
        } else if self.over_hard_limit() {
            self.cut(dts_ms, Start::Forced)
        } else {
            Action::Write
        };
        self.account(cost);
        action
    }

    /// Decides about one audio frame (of a configured, supported track) costing `cost`.
    pub(crate) fn audio(&mut self, dts_ms: u64, cost: usize, video: Video) -> Action {
        if !video.configured && !self.video_timed_out {
            let first = *self.first_audio_dts_ms.get_or_insert(dts_ms);
            let waited = dts_ms.saturating_sub(first);
            self.video_timed_out = waited >= self.config.target_duration_ms.saturating_mul(2);
        }
        let action = if self.video_mode(video) {
            if self.open.is_none() {
                return Action::Skip;
            }
            if self.over_hard_limit() {
                self.cut(dts_ms, Start::Forced)
            } else {
                Action::Write
            }
        } else {
            let due = self.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
            let full = self.open_cost() >= self.config.max_segment_bytes;
            if self.open.is_none() || due || full || self.reconfigured {
                // Every audio frame is independently decodable.
                self.cut(dts_ms, Start::RandomAccess)
            } else {
                Action::Write
            }
        };
        self.account(cost);
        action
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
mod tests {
    use super::*;

    const VIDEO: Video = Video {
        configured: true,
        dropped: false,
    };

    fn cutter(target_duration_ms: u64, expect_video: bool) -> Cutter {
        Cutter::new(PackagerConfig {
            target_duration_ms,
            expect_video,
            max_segment_bytes: 10_000,
        })
    }

    #[test]
    fn video_mode_cuts_at_due_keyframes_only() {
        let mut cuts = cutter(1_000, true);
        assert_eq!(cuts.audio(0, 200, VIDEO), Action::Skip);
        assert_eq!(cuts.video(0, false, 200), Action::Skip);
        let first = Action::Cut {
            at_ms: 33,
            start: Start::RandomAccess,
        };
        assert_eq!(cuts.video(33, true, 200), first);
        assert_eq!(cuts.audio(40, 200, VIDEO), Action::Write);
        assert_eq!(cuts.video(500, true, 200), Action::Write);
        assert_eq!(cuts.video(1_033, false, 200), Action::Write);
        assert!(matches!(
            cuts.video(1_066, true, 200),
            Action::Cut { at_ms: 1_066, .. }
        ));
    }

    #[test]
    fn a_changed_configuration_cuts_at_the_next_keyframe() {
        let mut cuts = cutter(10_000, true);
        assert!(matches!(cuts.video(0, true, 200), Action::Cut { .. }));
        cuts.reconfigured();
        assert_eq!(cuts.video(33, false, 200), Action::Write);
        assert!(matches!(
            cuts.video(66, true, 200),
            Action::Cut { at_ms: 66, .. }
        ));
        assert_eq!(cuts.video(99, true, 200), Action::Write);
    }

    #[test]
    fn hard_limit_forces_a_cut_on_any_frame() {
        let mut cuts = cutter(60_000, true);
        assert!(matches!(cuts.video(0, true, 15_000), Action::Cut { .. }));
        assert_eq!(cuts.video(33, false, 5_000), Action::Write);
        assert_eq!(
            cuts.audio(40, 100, VIDEO),
            Action::Cut {
                at_ms: 40,
                start: Start::Forced
            }
        );
    }
}
