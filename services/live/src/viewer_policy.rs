//! The slow-viewer policy of live viewers that read the hub's ring (HTTP-FLV, RTMP play):
//! skip, don't buffer.
//!
//! A viewer more than `max_lag` behind the newest frame, or overrun by the ring, skips to the
//! next keyframe (any audio frame when the stream has no video: the [`ResumeGate`] rule); one
//! that must skip more than `max_skips` times within `skip_window` is cut. Codec configurations
//! and metadata always pass. The clock is passed in, so the policy is pure.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Batch, Frame, FrameKind, GateVerdict, ResumeGate};

/// Bounds on how far behind a viewer may fall: the `viewers` settings of origins (RTMP
/// players) and edges (HTTP-FLV viewers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewerLimits {
    /// A viewer this far behind live skips to the next keyframe.
    #[serde(with = "humantime_serde")]
    pub max_lag: Duration,
    /// A viewer that has to skip more than this many times within `skip_window` is cut.
    pub max_skips: usize,
    /// The window for `max_skips`.
    #[serde(with = "humantime_serde")]
    pub skip_window: Duration,
}

impl Default for ViewerLimits {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_secs(5),
            max_skips: 3,
            skip_window: Duration::from_secs(30),
        }
    }
}

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Send,
    /// Drop it (count it): the viewer waits for a resume point.
    Drop,
    /// End the viewer: it cannot keep up.
    Cut,
}

/// What to do with a batch.
#[derive(Debug, Clone)]
pub enum BatchVerdict {
    /// Send every frame: the batch's shared bytes will do.
    All,
    /// Send these frames only; `dropped` were dropped (count them).
    Part {
        /// The frames that pass, in order.
        send: Vec<Frame>,
        /// How many were dropped.
        dropped: u64,
    },
    /// End the viewer: it cannot keep up.
    Cut,
}

/// Where live is now, as the hub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveEdge {
    /// Timestamp of the newest published frame.
    pub newest_timestamp_ms: u32,
    /// Whether the stream carries video (else any audio frame is a resume point).
    pub has_video: bool,
}

/// One viewer's state under the policy: a resume gate and at most `max_skips + 1` instants.
#[derive(Debug)]
pub struct ViewerPolicy {
    limits: ViewerLimits,
    gate: ResumeGate,
    recent_skips: VecDeque<Instant>,
}

impl ViewerPolicy {
    /// A viewer that starts sending at once.
    pub fn new(limits: ViewerLimits) -> Self {
        Self {
            limits,
            gate: ResumeGate::open(),
            recent_skips: VecDeque::new(),
        }
    }

    /// Drops media until the next resume point, without counting a skip: for a viewer whose
    /// start frames held no keyframe (the stream has just begun or its GOP was too long to
    /// cache), so that it never starts decoding mid-GOP.
    pub fn wait_for_keyframe(&mut self) {
        self.gate.close(0);
    }

    /// Whether media is being dropped until the next resume point.
    pub fn is_waiting(&self) -> bool {
        self.gate.is_waiting()
    }

    /// The verdict on the next live frame.
    pub fn judge(&mut self, frame: &Frame, live: LiveEdge, now: Instant) -> Verdict {
        // Headers are never behind: a decoder needs the newest ones whatever it skips.
        if frame.config || frame.kind == FrameKind::Script {
            return Verdict::Send;
        }
        match self.gate.admit(frame, live.has_video) {
            GateVerdict::Skip => return Verdict::Drop,
            GateVerdict::Resumed { .. } => return Verdict::Send,
            GateVerdict::Pass => {}
        }
        let behind_ms = live.newest_timestamp_ms.saturating_sub(frame.timestamp_ms);
        if u128::from(behind_ms) > self.limits.max_lag.as_millis() {
            // The lagging frame is old even if it is a keyframe: wait for a fresh one.
            return self.skip(now);
        }
        Verdict::Send
    }

    /// The verdict on every frame of a batch, in order.
    pub fn judge_batch(&mut self, batch: &Batch, live: LiveEdge, now: Instant) -> BatchVerdict {
        let frames = batch.frames();
        let mut verdicts = Vec::new();
        for (index, frame) in frames.iter().enumerate() {
            let verdict = self.judge(frame, live, now);
            if verdict == Verdict::Cut {
                return BatchVerdict::Cut;
            }
            if verdict == Verdict::Drop && verdicts.is_empty() {
                // The first drop: the frames before it passed.
                verdicts = vec![Verdict::Send; index];
            }
            if !verdicts.is_empty() || verdict == Verdict::Drop {
                verdicts.push(verdict);
            }
        }
        if verdicts.is_empty() {
            return BatchVerdict::All;
        }
        let send: Vec<Frame> = frames
            .iter()
            .zip(&verdicts)
            .filter(|(_, verdict)| **verdict == Verdict::Send)
            .map(|(frame, _)| frame.clone())
            .collect();
        let dropped = (frames.len() - send.len()) as u64;
        BatchVerdict::Part { send, dropped }
    }

    /// The ring overran the viewer (frames were lost): skip to the next resume point, or cut.
    /// Returns [`Verdict::Drop`] or [`Verdict::Cut`].
    pub fn overrun(&mut self, now: Instant) -> Verdict {
        self.skip(now)
    }

    fn skip(&mut self, now: Instant) -> Verdict {
        let window = self.limits.skip_window;
        while self
            .recent_skips
            .front()
            .is_some_and(|at| now.duration_since(*at) > window)
        {
            self.recent_skips.pop_front();
        }
        self.recent_skips.push_back(now);
        self.gate.close(0);
        if self.recent_skips.len() > self.limits.max_skips {
            return Verdict::Cut;
        }
        Verdict::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(timestamp_ms: u32, keyframe: bool) -> Frame {
        if keyframe {
            Frame::keyframe(timestamp_ms, &[0x17, 1])
        } else {
            Frame::video(timestamp_ms, &[0x17, 1])
        }
    }

    fn audio(timestamp_ms: u32) -> Frame {
        Frame::audio(timestamp_ms, &[0xAF, 1])
    }

    fn live(newest_timestamp_ms: u32) -> LiveEdge {
        LiveEdge {
            newest_timestamp_ms,
            has_video: true,
        }
    }

    #[test]
    fn frames_near_live_are_sent() {
        let mut policy = ViewerPolicy::new(ViewerLimits::default());
        let now = Instant::now();
        assert_eq!(
            policy.judge(&video(1000, false), live(5000), now),
            Verdict::Send
        );
    }

    #[test]
    fn a_lagging_viewer_skips_to_a_fresh_keyframe() {
        let mut policy = ViewerPolicy::new(ViewerLimits::default());
        let now = Instant::now();
        assert_eq!(
            policy.judge(&video(0, true), live(6000), now),
            Verdict::Drop
        );
        assert_eq!(policy.judge(&audio(10), live(6000), now), Verdict::Drop);
        assert_eq!(
            policy.judge(&video(5900, false), live(6000), now),
            Verdict::Drop
        );
        let config = Frame::sequence_header(FrameKind::Video, 0, &[0x17, 0]);
        assert_eq!(policy.judge(&config, live(6000), now), Verdict::Send);
        assert_eq!(
            policy.judge(&video(6000, true), live(6000), now),
            Verdict::Send
        );
        assert_eq!(policy.judge(&audio(6010), live(6010), now), Verdict::Send);
    }

    #[test]
    fn a_batch_passes_whole_or_in_part() {
        let mut policy = ViewerPolicy::new(ViewerLimits::default());
        let now = Instant::now();
        let batch = Batch::new(vec![audio(10), video(33, false)]);
        assert!(matches!(
            policy.judge_batch(&batch, live(33), now),
            BatchVerdict::All
        ));
        policy.wait_for_keyframe();
        let batch = Batch::new(vec![audio(40), video(66, true), audio(70)]);
        match policy.judge_batch(&batch, live(70), now) {
            BatchVerdict::Part { send, dropped } => {
                let sent: Vec<u32> = send.iter().map(|f| f.timestamp_ms).collect();
                assert_eq!((sent, dropped), (vec![66, 70], 1));
            }
            other => panic!("expected a part, got {other:?}"),
        }
    }

    #[test]
    fn audio_only_streams_resume_on_audio() {
        let mut policy = ViewerPolicy::new(ViewerLimits::default());
        policy.wait_for_keyframe();
        let audio_only = LiveEdge {
            newest_timestamp_ms: 100,
            has_video: false,
        };
        assert_eq!(
            policy.judge(&audio(100), audio_only, Instant::now()),
            Verdict::Send
        );
    }

    #[test]
    fn too_many_skips_within_the_window_cut_the_viewer() {
        let limits = ViewerLimits {
            max_skips: 2,
            skip_window: Duration::from_secs(10),
            ..ViewerLimits::default()
        };
        let mut policy = ViewerPolicy::new(limits);
        let start = Instant::now();
        assert_eq!(policy.overrun(start), Verdict::Drop);
        assert_eq!(
            policy.overrun(start + Duration::from_secs(5)),
            Verdict::Drop
        );
        // The first skip has left the window by now.
        assert_eq!(
            policy.overrun(start + Duration::from_secs(11)),
            Verdict::Drop
        );
        assert_eq!(
            policy.overrun(start + Duration::from_secs(12)),
            Verdict::Cut
        );
    }
}
