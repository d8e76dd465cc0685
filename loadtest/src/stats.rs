//! Live counters shared by every task: atomics for counts, a few mutex-sharded histograms
//! for distributions (merged at the end), and [`Errors`] by kind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use crate::errors::Errors;

const SHARDS: usize = 8;
/// Highest recordable value: one hour in microseconds; larger values saturate.
const MAX_US: u64 = 3_600_000_000;

/// A histogram of microsecond values, sharded so that concurrent tasks rarely contend.
pub struct Distribution {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl std::fmt::Debug for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distribution").finish_non_exhaustive()
    }
}

impl Default for Distribution {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(new_histogram())).collect(),
        }
    }
}

/// An empty histogram for 1 µs .. 1 h at two significant digits (1% resolution).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("static bounds are valid")
}

impl Distribution {
    /// Records `value_us` from the task numbered `task`.
    pub fn record(&self, task: usize, value_us: u64) {
        let shard = &self.shards[task % SHARDS];
        let mut histogram = shard.lock().unwrap_or_else(|e| e.into_inner());
        histogram.saturating_record(value_us.max(1));
    }

    /// All shards merged.
    pub fn merged(&self) -> Histogram<u64> {
        let mut total = new_histogram();
        for shard in &self.shards {
            let histogram = shard.lock().unwrap_or_else(|e| e.into_inner());
            // Same bounds on both sides: adding cannot fail.
            let _ = total.add(&*histogram);
        }
        total
    }
}

/// The wall clock in Unix microseconds.
pub fn unix_micros() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX)
}

/// Adds to a counter.
pub fn add(counter: &AtomicU64, value: u64) {
    counter.fetch_add(value, Ordering::Relaxed);
}

/// Reads a counter.
pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Statistics of the RTMP publishers.
#[derive(Debug, Default)]
pub struct PublishStats {
    /// Publishers whose publish request was accepted at least once.
    pub publishing: AtomicU64,
    /// Audio and video messages sent.
    pub messages: AtomicU64,
    /// Video frames sent.
    pub video_frames: AtomicU64,
    /// Video frames that carried our stamp.
    pub stamped: AtomicU64,
    /// Bytes written to sockets.
    pub bytes_out: AtomicU64,
    /// Bytes read from sockets.
    pub bytes_in: AtomicU64,
    /// Largest delay of a send behind its schedule, microseconds.
    pub max_send_lag_us: AtomicU64,
    /// Publish sessions restarted after a failure.
    pub reconnects: AtomicU64,
    /// Failures.
    pub errors: Errors,
}

/// Statistics of HTTP-FLV viewers or RTMP players.
#[derive(Debug, Default)]
pub struct PlayStats {
    /// Viewers started.
    pub started: AtomicU64,
    /// Viewers that received at least one video frame.
    pub receiving: AtomicU64,
    /// Viewers whose first video frame was a keyframe.
    pub keyframe_first: AtomicU64,
    /// Video frames received (configurations excluded).
    pub video_frames: AtomicU64,
    /// Audio frames received.
    pub audio_frames: AtomicU64,
    /// Bytes received.
    pub bytes_in: AtomicU64,
    /// Fewest video frames any finished viewer received (`u64::MAX` until one finishes).
    pub min_video_frames: AtomicU64,
    /// Connect → first video keyframe, microseconds.
    pub ttff: Distribution,
    /// Receive time minus the stamped send time, microseconds.
    pub latency: Distribution,
    /// Frames whose latency exceeded one second.
    pub late: AtomicU64,
    /// Jumps in video timestamps larger than twice the frame interval.
    pub gaps: AtomicU64,
    /// Frames missing in those jumps (estimated from the frame interval).
    pub dropped: AtomicU64,
    /// Periods of more than one second without a video frame.
    pub stalls: AtomicU64,
    /// Total time of those periods, microseconds.
    pub stall_us: AtomicU64,
    /// Requests answered 404 before the stream was playable (retried).
    pub not_ready: AtomicU64,
    /// Connections opened again after a failure.
    pub reconnects: AtomicU64,
    /// Failures.
    pub errors: Errors,
}

impl PlayStats {
    /// Fresh statistics.
    pub fn new() -> Self {
        let stats = Self::default();
        stats.min_video_frames.store(u64::MAX, Ordering::Relaxed);
        stats
    }
}

/// Statistics of HLS viewers.
#[derive(Debug)]
pub struct HlsStats {
    /// Viewers started.
    pub started: AtomicU64,
    /// Viewers that downloaded at least one segment.
    pub receiving: AtomicU64,
    /// Playlist requests answered.
    pub playlists: AtomicU64,
    /// Segments downloaded.
    pub segments: AtomicU64,
    /// Fewest segments any finished viewer downloaded (`u64::MAX` until one finishes).
    pub min_segments: AtomicU64,
    /// Bytes received.
    pub bytes_in: AtomicU64,
    /// Start → first segment downloaded, microseconds.
    pub ttff: Distribution,
    /// Now − PDT − duration of each newly seen newest segment, microseconds.
    pub latency: Distribution,
    /// New segments seen whose PDT is in the future (clock skew): latency counted as zero.
    pub latency_clamped: AtomicU64,
    /// Media sequence numbers skipped between two playlist loads.
    pub skipped_segments: AtomicU64,
    /// Times the playlist did not advance for more than 1.5 target durations.
    pub stalls: AtomicU64,
    /// Requests answered 404 before the stream was playable (retried).
    pub not_ready: AtomicU64,
    /// Connections opened again after a failure.
    pub reconnects: AtomicU64,
    /// Failures.
    pub errors: Errors,
}

impl HlsStats {
    /// Fresh statistics.
    pub fn new() -> Self {
        Self {
            started: AtomicU64::new(0),
            receiving: AtomicU64::new(0),
            playlists: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            min_segments: AtomicU64::new(u64::MAX),
            bytes_in: AtomicU64::new(0),
            ttff: Distribution::default(),
            latency: Distribution::default(),
            latency_clamped: AtomicU64::new(0),
            skipped_segments: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            not_ready: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            errors: Errors::default(),
        }
    }
}

/// Statistics of LL-HLS viewers.
#[derive(Debug)]
pub struct LlStats {
    /// Viewers started.
    pub started: AtomicU64,
    /// Viewers that fetched at least one part.
    pub receiving: AtomicU64,
    /// Playlist requests answered 200.
    pub playlists: AtomicU64,
    /// Blocking reloads sent (`_HLS_msn`/`_HLS_part`).
    pub blocking_reloads: AtomicU64,
    /// Parts fetched.
    pub parts: AtomicU64,
    /// Fewest parts any finished viewer fetched (`u64::MAX` until one finishes).
    pub min_parts: AtomicU64,
    /// Bytes received.
    pub bytes_in: AtomicU64,
    /// Start → first part received, microseconds.
    pub ttff: Distribution,
    /// Preload hint seen → that part's bytes received, microseconds.
    pub part_latency: Distribution,
    /// Blocking reloads answered 503 or taking more than three part targets.
    pub stalls: AtomicU64,
    /// Requests answered 404 before the stream was playable (retried).
    pub not_ready: AtomicU64,
    /// Sessions started again after a failure.
    pub reconnects: AtomicU64,
    /// Failures.
    pub errors: Errors,
}

impl LlStats {
    /// Fresh statistics.
    pub fn new() -> Self {
        Self {
            started: AtomicU64::new(0),
            receiving: AtomicU64::new(0),
            playlists: AtomicU64::new(0),
            blocking_reloads: AtomicU64::new(0),
            parts: AtomicU64::new(0),
            min_parts: AtomicU64::new(u64::MAX),
            bytes_in: AtomicU64::new(0),
            ttff: Distribution::default(),
            part_latency: Distribution::default(),
            stalls: AtomicU64::new(0),
            not_ready: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            errors: Errors::default(),
        }
    }
}

/// Everything measured in one run, one shared part per role.
#[derive(Debug)]
pub struct Stats {
    /// RTMP publishers.
    pub publish: Arc<PublishStats>,
    /// HTTP-FLV viewers.
    pub flv: Arc<PlayStats>,
    /// RTMP players.
    pub rtmp: Arc<PlayStats>,
    /// HLS viewers.
    pub hls: Arc<HlsStats>,
    /// LL-HLS viewers.
    pub ll: Arc<LlStats>,
}

impl Stats {
    /// Fresh statistics.
    pub fn new() -> Self {
        Self {
            publish: Arc::default(),
            flv: Arc::new(PlayStats::new()),
            rtmp: Arc::new(PlayStats::new()),
            hls: Arc::new(HlsStats::new()),
            ll: Arc::new(LlStats::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn shards_merge_into_one_distribution() {
        let distribution = Distribution::default();
        for value in 1..=1000u64 {
            distribution.record(value as usize, value * 1000);
        }
        let merged = distribution.merged();
        assert_eq!(merged.len(), 1000);
        assert!(merged.equivalent(merged.value_at_quantile(0.5), 500_000));
        distribution.record(0, u64::MAX);
        assert!(distribution.merged().max() >= MAX_US / 100 * 99);
    }
}
