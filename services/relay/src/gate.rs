//! Where a receiver that missed frames may rejoin the stream without a decoding glitch.
//!
//! After frames were lost (a lagging subscriber) or the source changed (a new upstream), media
//! frames are held back until the next point a decoder can start from: a video keyframe, or —
//! in a stream without video — any audio frame. Script frames and codec configurations always
//! pass, because a decoder needs them before that point anyway.

use ferrocast_live::{Frame, FrameKind};

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Forward it.
    Pass,
    /// Forward it: it ends a skip of `skipped` frames (lost plus held back).
    Resumed { skipped: u64 },
    /// Drop it.
    Skip,
}

/// Tracks whether a receiver is waiting for a resume point.
#[derive(Debug, Default)]
pub(crate) struct ResumeGate {
    waiting: bool,
    skipped: u64,
}

impl ResumeGate {
    /// A gate that forwards everything until [`ResumeGate::close`].
    pub(crate) fn open() -> Self {
        Self::default()
    }

    /// A gate that waits for a resume point first.
    pub(crate) fn closed() -> Self {
        Self {
            waiting: true,
            skipped: 0,
        }
    }

    /// Starts waiting for a resume point; `lost` frames were already missed.
    pub(crate) fn close(&mut self, lost: u64) {
        self.waiting = true;
        self.skipped = self.skipped.saturating_add(lost);
    }

    /// Whether frames are being held back.
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// Decides on `frame`; `has_video` says whether the stream carries video.
    pub(crate) fn admit(&mut self, frame: &Frame, has_video: bool) -> Verdict {
        if !self.waiting || frame.kind == FrameKind::Script || frame.config {
            return Verdict::Pass;
        }
        let resumes = match frame.kind {
            FrameKind::Video => frame.keyframe,
            FrameKind::Audio => !has_video,
            FrameKind::Script => true,
        };
        if resumes {
            self.waiting = false;
            Verdict::Resumed {
                skipped: std::mem::take(&mut self.skipped),
            }
        } else {
            self.skipped = self.skipped.saturating_add(1);
            Verdict::Skip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(keyframe: bool, config: bool) -> Frame {
        Frame::new(FrameKind::Video, 0, keyframe, config, &[0x17, 1])
    }

    fn audio(config: bool) -> Frame {
        Frame::new(FrameKind::Audio, 0, false, config, &[0xaf, 1])
    }

    #[test]
    fn open_gate_passes_everything() {
        let mut gate = ResumeGate::open();
        assert_eq!(gate.admit(&video(false, false), true), Verdict::Pass);
        assert_eq!(gate.admit(&audio(false), true), Verdict::Pass);
    }

    #[test]
    fn closed_gate_waits_for_a_video_keyframe_but_passes_headers() {
        let mut gate = ResumeGate::closed();
        gate.close(5);
        assert_eq!(gate.admit(&video(false, false), true), Verdict::Skip);
        assert_eq!(gate.admit(&audio(false), true), Verdict::Skip);
        assert_eq!(gate.admit(&video(false, true), true), Verdict::Pass);
        assert_eq!(gate.admit(&audio(true), true), Verdict::Pass);
        let script = Frame::new(FrameKind::Script, 0, false, false, b"meta");
        assert_eq!(gate.admit(&script, true), Verdict::Pass);
        assert!(gate.is_waiting());
        assert_eq!(
            gate.admit(&video(true, false), true),
            Verdict::Resumed { skipped: 7 }
        );
        assert_eq!(gate.admit(&video(false, false), true), Verdict::Pass);
    }

    #[test]
    fn audio_resumes_a_stream_without_video() {
        let mut gate = ResumeGate::closed();
        assert_eq!(
            gate.admit(&audio(false), false),
            Verdict::Resumed { skipped: 0 }
        );
    }
}
