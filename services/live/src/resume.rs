//! Where a receiver that missed frames may rejoin the stream without a decoding glitch: the
//! one "skip to the next keyframe" rule, used by the hub (a new publish session), the viewer
//! policy (a slow viewer) and the relay (a lagging subscriber, a new upstream).
//!
//! After frames were lost (a lagging subscriber) or the source changed (a new upstream), media
//! frames are held back until the next point a decoder can start from: a video keyframe, or —
//! in a stream without video — any audio frame. Script frames and codec configurations always
//! pass, because a decoder needs them before that point anyway.

use crate::{Frame, FrameKind};

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateVerdict {
    /// Forward it.
    Pass,
    /// Forward it: it ends a skip of `skipped` frames (lost plus held back).
    Resumed {
        /// Frames lost or held back since the gate closed.
        skipped: u64,
    },
    /// Drop it.
    Skip,
}

/// Tracks whether a receiver is waiting for a resume point.
#[derive(Debug, Default)]
pub struct ResumeGate {
    waiting: bool,
    skipped: u64,
}

impl ResumeGate {
    /// A gate that forwards everything until [`ResumeGate::close`].
    pub fn open() -> Self {
        Self::default()
    }

    /// A gate that waits for a resume point first.
    pub fn closed() -> Self {
        Self {
            waiting: true,
            skipped: 0,
        }
    }

    /// Starts waiting for a resume point; `lost` frames were already missed.
    pub fn close(&mut self, lost: u64) {
        self.waiting = true;
        self.skipped = self.skipped.saturating_add(lost);
    }

    /// Whether frames are being held back.
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// Decides on `frame`; `has_video` says whether the stream carries video.
    pub fn admit(&mut self, frame: &Frame, has_video: bool) -> GateVerdict {
        if !self.waiting || frame.kind == FrameKind::Script || frame.config {
            return GateVerdict::Pass;
        }
        if is_resume_point(frame, has_video) {
            self.waiting = false;
            GateVerdict::Resumed {
                skipped: std::mem::take(&mut self.skipped),
            }
        } else {
            self.skipped = self.skipped.saturating_add(1);
            GateVerdict::Skip
        }
    }
}

/// Whether a decoder can start at `frame` (a media frame, not a header).
fn is_resume_point(frame: &Frame, has_video: bool) -> bool {
    match frame.kind {
        FrameKind::Video => frame.keyframe,
        FrameKind::Audio => !has_video,
        FrameKind::Script => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO_BODY: [u8; 2] = [0x17, 1];
    const AUDIO_BODY: [u8; 2] = [0xaf, 1];

    #[test]
    fn open_gate_passes_everything() {
        let mut gate = ResumeGate::open();
        assert_eq!(
            gate.admit(&Frame::video(0, &VIDEO_BODY), true),
            GateVerdict::Pass
        );
        assert_eq!(
            gate.admit(&Frame::audio(0, &AUDIO_BODY), true),
            GateVerdict::Pass
        );
    }

    #[test]
    fn closed_gate_waits_for_a_video_keyframe_but_passes_headers() {
        let mut gate = ResumeGate::closed();
        gate.close(5);
        let inter = Frame::video(0, &VIDEO_BODY);
        assert_eq!(gate.admit(&inter, true), GateVerdict::Skip);
        assert_eq!(
            gate.admit(&Frame::audio(0, &AUDIO_BODY), true),
            GateVerdict::Skip
        );
        let video_config = Frame::sequence_header(FrameKind::Video, 0, &VIDEO_BODY);
        assert_eq!(gate.admit(&video_config, true), GateVerdict::Pass);
        let audio_config = Frame::sequence_header(FrameKind::Audio, 0, &AUDIO_BODY);
        assert_eq!(gate.admit(&audio_config, true), GateVerdict::Pass);
        let script = Frame::script(0, b"meta");
        assert_eq!(gate.admit(&script, true), GateVerdict::Pass);
        assert!(gate.is_waiting());
        assert_eq!(
            gate.admit(&Frame::keyframe(0, &VIDEO_BODY), true),
            GateVerdict::Resumed { skipped: 7 }
        );
        assert_eq!(gate.admit(&inter, true), GateVerdict::Pass);
    }

    #[test]
    fn audio_resumes_a_stream_without_video() {
        let mut gate = ResumeGate::closed();
        assert_eq!(
            gate.admit(&Frame::audio(0, &AUDIO_BODY), false),
            GateVerdict::Resumed { skipped: 0 }
        );
    }
}
