//! Keeps the timestamps an edge publishes monotonic across upstreams.
//!
//! Each origin session numbers its frames from its own start, so a stream that moves to a new
//! origin (or a new publish session) starts again near zero, while the edge's viewers stay on
//! their connection and must never see time go back. On an upstream change the first media
//! frame of the new upstream is placed one frame interval after the last forwarded frame, and
//! every later frame of that upstream keeps the same offset. Codec configurations and metadata
//! that arrive before that frame are stamped at the same instant, so a player resets its
//! decoder exactly where the new pictures begin. See ADR 14.

use ferrocast_live::{Frame, FrameKind};

/// The frame interval assumed until one is measured (25 fps; also a typical AAC frame).
const DEFAULT_INTERVAL_MS: u32 = 40;
/// Deltas above this are gaps, not frame intervals.
const MAX_INTERVAL_MS: u32 = 1_000;

/// Rewrites timestamps of the frames one pull forwards to its local hub.
#[derive(Debug, Default)]
pub(crate) struct Rebaser {
    /// Added to the current upstream's timestamps.
    offset: i64,
    /// The newest timestamp forwarded so far, across upstreams.
    newest_out: Option<u32>,
    /// No frame of the current upstream is stamped below this (the instant it was placed at).
    floor: u32,
    /// A new upstream started and none of its media frames was forwarded yet.
    placing: bool,
    /// The last video and audio timestamps of the current upstream, as received.
    previous_video: Option<u32>,
    previous_audio: Option<u32>,
    /// The most recent frame intervals measured, per track.
    video_interval: Option<u32>,
    audio_interval: Option<u32>,
}

impl Rebaser {
    /// A rebaser for a pull's first upstream: its timestamps pass unchanged.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The pull switched to a new upstream; its timestamps are placed after the last forwarded.
    pub(crate) fn switch_upstream(&mut self) {
        self.previous_video = None;
        self.previous_audio = None;
        // Nothing forwarded yet: the new upstream's own timeline is as good as any.
        self.placing = self.newest_out.is_some();
    }

    /// `frame` with its timestamp on the edge's timeline (the same frame when unchanged).
    pub(crate) fn rebase(&mut self, frame: Frame) -> Frame {
        let header = frame.config || frame.kind == FrameKind::Script;
        if self.placing && !header {
            let placed_at = self.next_slot();
            self.offset = i64::from(placed_at) - i64::from(frame.timestamp_ms);
            self.floor = placed_at;
            self.placing = false;
        }
        self.measure(&frame);
        let stamped = if self.placing {
            // Not recorded as forwarded: the first picture goes at this same instant.
            self.next_slot()
        } else {
            let shifted = i64::from(frame.timestamp_ms) + self.offset;
            let clamped = shifted.clamp(i64::from(self.floor), i64::from(u32::MAX));
            let stamped = u32::try_from(clamped).expect("clamped into the u32 range");
            self.newest_out = Some(
                self.newest_out
                    .map_or(stamped, |newest| newest.max(stamped)),
            );
            stamped
        };
        if stamped == frame.timestamp_ms {
            return frame;
        }
        // The FLV tag carries the timestamp, so it is written again; only after an upstream
        // change, and viewers share the new tag as before.
        frame.retimed(stamped)
    }

    /// One frame interval after the newest forwarded timestamp.
    fn next_slot(&self) -> u32 {
        let interval = self
            .video_interval
            .or(self.audio_interval)
            .unwrap_or(DEFAULT_INTERVAL_MS);
        self.newest_out
            .map_or(0, |newest| newest.saturating_add(interval))
    }

    fn measure(&mut self, frame: &Frame) {
        if frame.config {
            return;
        }
        let (previous, interval) = match frame.kind {
            FrameKind::Video => (&mut self.previous_video, &mut self.video_interval),
            FrameKind::Audio => (&mut self.previous_audio, &mut self.audio_interval),
            FrameKind::Script => return,
        };
        if let Some(before) = previous.replace(frame.timestamp_ms) {
            let delta = frame.timestamp_ms.wrapping_sub(before);
            if (1..=MAX_INTERVAL_MS).contains(&delta) {
                *interval = Some(delta);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(timestamp_ms: u32, keyframe: bool) -> Frame {
        let body = [0x17, 1, 0, 0, 0, 9];
        if keyframe {
            Frame::keyframe(timestamp_ms, &body)
        } else {
            Frame::video(timestamp_ms, &body)
        }
    }

    fn audio(timestamp_ms: u32) -> Frame {
        Frame::audio(timestamp_ms, &[0xaf, 1, 7])
    }

    fn config(timestamp_ms: u32) -> Frame {
        Frame::sequence_header(FrameKind::Video, timestamp_ms, &[0x17, 0, 0, 0, 0, 1])
    }

    #[test]
    fn the_first_upstream_passes_unchanged() {
        let mut rebaser = Rebaser::new();
        let frame = video(5_000, true);
        let tag = frame.tag.clone();
        let out = rebaser.rebase(frame);
        assert_eq!(out.timestamp_ms, 5_000);
        // Same bytes, not a copy.
        assert_eq!(out.tag.as_ptr(), tag.as_ptr());
        // A switch before anything was forwarded keeps the new upstream's own timeline.
        let mut fresh = Rebaser::new();
        fresh.switch_upstream();
        assert_eq!(fresh.rebase(video(700, true)).timestamp_ms, 700);
    }

    #[test]
    fn a_new_upstream_continues_one_frame_after_the_last() {
        let mut rebaser = Rebaser::new();
        for timestamp in [10_000, 10_033, 10_066, 10_100] {
            rebaser.rebase(video(timestamp, timestamp == 10_000));
        }
        rebaser.switch_upstream();
        // The new origin starts near zero with its configs, then its keyframe.
        let header = rebaser.rebase(config(0));
        assert_eq!(header.timestamp_ms, 10_134);
        let keyframe = rebaser.rebase(video(20, true));
        assert_eq!(keyframe.timestamp_ms, 10_134);
        assert_eq!(keyframe.body(), video(20, true).body());
        assert!(keyframe.keyframe);
        // Audio slightly before the keyframe is held at the keyframe's instant.
        assert_eq!(rebaser.rebase(audio(5)).timestamp_ms, 10_134);
        assert_eq!(rebaser.rebase(video(53, false)).timestamp_ms, 10_167);
        assert_eq!(rebaser.rebase(audio(60)).timestamp_ms, 10_174);
    }

    #[test]
    fn an_upstream_ahead_in_time_is_pulled_back_to_the_last_frame() {
        let mut rebaser = Rebaser::new();
        rebaser.rebase(audio(1_000));
        rebaser.rebase(audio(1_021));
        rebaser.switch_upstream();
        // Audio-only: the measured audio interval places the new upstream.
        assert_eq!(rebaser.rebase(audio(900_000)).timestamp_ms, 1_042);
        assert_eq!(rebaser.rebase(audio(900_021)).timestamp_ms, 1_063);
    }

    #[test]
    fn timestamps_never_go_back_over_many_switches() {
        let mut rebaser = Rebaser::new();
        let mut newest = 0;
        for upstream in 0..20u32 {
            rebaser.switch_upstream();
            let start = (upstream * 7_919) % 5_000;
            rebaser.rebase(config(0));
            for frame in 0..30 {
                let out = rebaser.rebase(video(start + frame * 33, frame == 0));
                assert!(
                    out.timestamp_ms >= newest,
                    "upstream {upstream} frame {frame}"
                );
                newest = out.timestamp_ms;
            }
        }
        // Near the top of the range, stamps saturate rather than wrap.
        let mut rebaser = Rebaser::new();
        rebaser.rebase(video(u32::MAX - 10, true));
        rebaser.switch_upstream();
        assert_eq!(rebaser.rebase(video(0, true)).timestamp_ms, u32::MAX);
    }
}
