//! What a player of a continuous stream (HTTP-FLV, RTMP) measures per video frame: time to
//! first keyframe, latency from our stamps, timestamp gaps (dropped frames) and stalls.

use std::time::{Duration, Instant};

use crate::stats::{PlayStats, add};
use crate::video::{VideoInfo, VideoKind};

/// No video for longer than this is a stall.
pub const STALL_AFTER: Duration = Duration::from_secs(1);
/// Frames older than this on arrival are late.
const LATE_AFTER_US: u64 = 1_000_000;

/// One viewer's frame bookkeeping, across its reconnections.
#[derive(Debug)]
pub struct Tracker {
    task: usize,
    connected_at: Instant,
    first_keyframe_seen: bool,
    ever_received: bool,
    last_frame_at: Option<Instant>,
    last_timestamp_ms: Option<u32>,
    frame_interval: IntervalEstimate,
    video_frames: u64,
}

impl Tracker {
    /// A tracker for the viewer numbered `task`.
    pub fn new(task: usize) -> Self {
        Self {
            task,
            connected_at: Instant::now(),
            first_keyframe_seen: false,
            ever_received: false,
            last_frame_at: None,
            last_timestamp_ms: None,
            frame_interval: IntervalEstimate::default(),
            video_frames: 0,
        }
    }

    /// A new connection attempt starts now: time to first frame counts from here, and the
    /// timestamp timeline restarts.
    pub fn connecting(&mut self) {
        self.connected_at = Instant::now();
        self.first_keyframe_seen = false;
        self.last_timestamp_ms = None;
    }

    /// Whether any video frame arrived on any connection.
    pub fn ever_received(&self) -> bool {
        self.ever_received
    }

    /// Accounts one video message received at `now` (`now_us` on the wall clock).
    pub fn on_video(
        &mut self,
        info: &VideoInfo,
        timestamp_ms: u32,
        now: Instant,
        now_us: u64,
        stats: &PlayStats,
    ) {
        if info.kind != VideoKind::Frame {
            return;
        }
        self.video_frames += 1;
        add(&stats.video_frames, 1);
        if !self.ever_received {
            self.ever_received = true;
            add(&stats.receiving, 1);
            if info.keyframe {
                add(&stats.keyframe_first, 1);
            }
        }
        if info.keyframe && !self.first_keyframe_seen {
            self.first_keyframe_seen = true;
            let elapsed = now.saturating_duration_since(self.connected_at);
            stats.ttff.record(self.task, micros(elapsed));
        }
        if let Some(stamp_us) = info.stamp_us {
            let latency_us = now_us.saturating_sub(stamp_us);
            stats.latency.record(self.task, latency_us);
            if latency_us > LATE_AFTER_US {
                add(&stats.late, 1);
            }
        }
        self.check_stall(now, stats);
        self.last_frame_at = Some(now);
        self.check_gap(timestamp_ms, stats);
    }

    /// Accounts a stall still going on when the run ends.
    pub fn finish(&mut self, now: Instant, stats: &PlayStats) {
        self.check_stall(now, stats);
        stats
            .min_video_frames
            .fetch_min(self.video_frames, std::sync::atomic::Ordering::Relaxed);
    }

    fn check_stall(&mut self, now: Instant, stats: &PlayStats) {
        let Some(last) = self.last_frame_at else {
            return;
        };
        let quiet = now.saturating_duration_since(last);
        if quiet > STALL_AFTER {
            add(&stats.stalls, 1);
            add(&stats.stall_us, micros(quiet));
            // Counted once: the next check measures from here.
            self.last_frame_at = Some(now);
        }
    }

    fn check_gap(&mut self, timestamp_ms: u32, stats: &PlayStats) {
        let previous = self.last_timestamp_ms.replace(timestamp_ms);
        let Some(previous) = previous else {
            return;
        };
        let delta = timestamp_ms.wrapping_sub(previous);
        // A step back (or a wrap-sized jump) is a new timeline, not a gap.
        if delta == 0 || delta > u32::MAX / 2 {
            return;
        }
        let Some(interval) = self.frame_interval.observe(delta) else {
            return;
        };
        if delta > 2 * interval {
            add(&stats.gaps, 1);
            add(&stats.dropped, u64::from(delta / interval - 1));
        }
    }
}

/// The frame interval: the median of the first [`IntervalEstimate::SAMPLES`] timestamp
/// steps, robust to the odd short or long step.
#[derive(Debug, Default)]
struct IntervalEstimate {
    steps: [u32; IntervalEstimate::SAMPLES],
    count: usize,
    median: u32,
}

impl IntervalEstimate {
    const SAMPLES: usize = 15;
    /// Steps needed before gaps are judged.
    const ENOUGH: usize = 5;

    /// Learns from `step` while sampling; the estimate once there are enough steps.
    fn observe(&mut self, step: u32) -> Option<u32> {
        if self.count < Self::SAMPLES {
            self.steps[self.count] = step;
            self.count += 1;
            let mut sorted = self.steps;
            let sampled = &mut sorted[..self.count];
            sampled.sort_unstable();
            self.median = sampled[self.count / 2];
        }
        (self.count >= Self::ENOUGH).then_some(self.median.max(1))
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn frame(keyframe: bool, stamp_us: Option<u64>) -> VideoInfo {
        VideoInfo {
            kind: VideoKind::Frame,
            keyframe,
            stamp_us,
        }
    }

    #[test]
    fn measures_first_frame_latency_gaps_and_stalls() {
        let stats = PlayStats::new();
        let mut tracker = Tracker::new(0);
        let start = tracker.connected_at;
        let config = VideoInfo {
            kind: VideoKind::Config,
            keyframe: true,
            stamp_us: None,
        };
        tracker.on_video(&config, 0, start, 0, &stats);
        assert_eq!(tracker.video_frames, 0);
        let at = |ms: u64| start + Duration::from_millis(ms);
        tracker.on_video(&frame(true, Some(1_000)), 0, at(50), 21_000, &stats);
        tracker.on_video(&frame(false, Some(2_000)), 33, at(83), 2_000_500, &stats);
        for (index, timestamp) in [66, 100, 133, 166, 200].into_iter().enumerate() {
            let arrival = at(116 + 33 * index as u64);
            tracker.on_video(&frame(false, None), timestamp, arrival, 0, &stats);
        }
        // 5 frames missing (233..=366), then 1.5 s without video.
        tracker.on_video(&frame(false, None), 400, at(1_800), 0, &stats);
        tracker.finish(at(1_850), &stats);

        assert_eq!(tracker.video_frames, 8);
        assert_eq!(stats.receiving.load(Relaxed), 1);
        assert_eq!(stats.keyframe_first.load(Relaxed), 1);
        let ttff = stats.ttff.merged();
        assert_eq!(ttff.len(), 1);
        assert!(ttff.equivalent(ttff.max(), 50_000));
        let latency = stats.latency.merged();
        assert_eq!(latency.len(), 2);
        assert!(latency.equivalent(latency.min(), 20_000));
        assert_eq!(stats.late.load(Relaxed), 1);
        assert_eq!(stats.gaps.load(Relaxed), 1);
        assert_eq!(stats.dropped.load(Relaxed), 5);
        assert_eq!(stats.stalls.load(Relaxed), 1);
        assert_eq!(stats.min_video_frames.load(Relaxed), 8);
    }

    #[test]
    fn the_interval_is_a_median() {
        let mut estimate = IntervalEstimate::default();
        let steps = [1, 33, 34, 33, 33, 200, 33, 34];
        let judged: Vec<Option<u32>> = steps.iter().map(|&s| estimate.observe(s)).collect();
        assert_eq!(judged[..4], [None; 4]);
        assert_eq!(judged[4..], [Some(33); 4]);
    }

    #[test]
    fn an_inter_frame_first_is_reported() {
        let stats = PlayStats::new();
        let mut tracker = Tracker::new(3);
        let now = Instant::now();
        tracker.on_video(&frame(false, None), 0, now, 0, &stats);
        tracker.on_video(&frame(true, None), 33, now, 0, &stats);
        assert_eq!(stats.receiving.load(Relaxed), 1);
        assert_eq!(stats.keyframe_first.load(Relaxed), 0);
        assert_eq!(stats.ttff.merged().len(), 1);
    }
}
