//! The per-role parts of the summary.

use serde::Serialize;

use super::{ErrorSummary, Percentiles, errors, per_second, percentiles, round3};
use crate::stats::{HlsStats, PlayStats, PublishStats, get};

/// Publisher results.
#[derive(Debug, Serialize)]
pub struct PublishSummary {
    /// Publishers started.
    pub count: usize,
    /// Publishers whose publish was accepted.
    pub publishing: u64,
    /// Audio and video messages sent.
    pub messages_sent: u64,
    /// Video frames sent.
    pub video_frames_sent: u64,
    /// Video frames that carried a latency stamp.
    pub stamped_frames: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Bytes sent per second.
    pub bytes_out_per_s: f64,
    /// Bytes received (server control messages).
    pub bytes_in: u64,
    /// Worst delay of a send behind the clip's real-time schedule, milliseconds.
    pub max_send_lag_ms: f64,
    /// Publish sessions restarted after a failure.
    pub reconnects: u64,
    /// Failures.
    pub errors: ErrorSummary,
}

/// HTTP-FLV or RTMP player results.
#[derive(Debug, Serialize)]
pub struct PlaySummary {
    /// Viewers planned.
    pub viewers: usize,
    /// Viewers started (fewer than planned if the run ended during the ramp).
    pub viewers_started: u64,
    /// Viewers that received at least one video frame.
    pub viewers_receiving: u64,
    /// Viewers whose first video frame was a keyframe.
    pub viewers_keyframe_first: u64,
    /// Fewest video frames a viewer received (0 when there were no viewers).
    pub min_video_frames_per_viewer: u64,
    /// Video frames received, all viewers.
    pub video_frames: u64,
    /// Audio frames received, all viewers.
    pub audio_frames: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes received per second.
    pub bytes_in_per_s: f64,
    /// Connect → first video keyframe; `null` if none arrived.
    pub ttff_ms: Option<Percentiles>,
    /// End-to-end latency per stamped frame; `null` if no stamped frame arrived.
    pub latency_ms: Option<Percentiles>,
    /// Frames more than one second late.
    pub late_frames: u64,
    /// Timestamp jumps of more than two frame intervals.
    pub gaps: u64,
    /// Frames estimated missing in those jumps.
    pub dropped_frames: u64,
    /// Periods of more than one second without video.
    pub stalls: u64,
    /// Total stalled time, milliseconds.
    pub stall_ms: f64,
    /// 404s while waiting for the stream to start (retried, not errors).
    pub not_ready_retries: u64,
    /// Connections opened again after a failure.
    pub reconnects: u64,
    /// Failures.
    pub errors: ErrorSummary,
}

/// HLS viewer results.
#[derive(Debug, Serialize)]
pub struct HlsSummary {
    /// Viewers planned.
    pub viewers: usize,
    /// Viewers started (fewer than planned if the run ended during the ramp).
    pub viewers_started: u64,
    /// Viewers that downloaded at least one segment.
    pub viewers_receiving: u64,
    /// Fewest segments a viewer downloaded (0 when there were no viewers).
    pub min_segments_per_viewer: u64,
    /// Playlists loaded.
    pub playlists: u64,
    /// Segments downloaded.
    pub segments: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes received per second.
    pub bytes_in_per_s: f64,
    /// Start → first segment downloaded; `null` if none.
    pub ttff_ms: Option<Percentiles>,
    /// Now − PDT − duration of each newly listed segment; `null` ("n/a") without PDT.
    pub latency_ms: Option<Percentiles>,
    /// Segments listed with a PDT in the future (clock skew), counted as zero latency.
    pub latency_clamped: u64,
    /// Media sequence numbers skipped between playlist loads.
    pub skipped_segments: u64,
    /// Times the playlist did not advance for over 1.5 target durations.
    pub stalls: u64,
    /// 404s while waiting for the stream to start (retried, not errors).
    pub not_ready_retries: u64,
    /// Connections opened again after a failure.
    pub reconnects: u64,
    /// Failures.
    pub errors: ErrorSummary,
}

fn min_or_zero(value: u64) -> u64 {
    if value == u64::MAX { 0 } else { value }
}

pub(super) fn publish(stats: &PublishStats, count: usize, elapsed_s: f64) -> PublishSummary {
    PublishSummary {
        count,
        publishing: get(&stats.publishing),
        messages_sent: get(&stats.messages),
        video_frames_sent: get(&stats.video_frames),
        stamped_frames: get(&stats.stamped),
        bytes_out: get(&stats.bytes_out),
        bytes_out_per_s: per_second(get(&stats.bytes_out), elapsed_s),
        bytes_in: get(&stats.bytes_in),
        max_send_lag_ms: round3(get(&stats.max_send_lag_us) as f64 / 1000.0),
        reconnects: get(&stats.reconnects),
        errors: errors(&stats.errors),
    }
}

pub(super) fn play(stats: &PlayStats, viewers: usize, elapsed_s: f64) -> PlaySummary {
    PlaySummary {
        viewers,
        viewers_started: get(&stats.started),
        viewers_receiving: get(&stats.receiving),
        viewers_keyframe_first: get(&stats.keyframe_first),
        min_video_frames_per_viewer: min_or_zero(get(&stats.min_video_frames)),
        video_frames: get(&stats.video_frames),
        audio_frames: get(&stats.audio_frames),
        bytes_in: get(&stats.bytes_in),
        bytes_in_per_s: per_second(get(&stats.bytes_in), elapsed_s),
        ttff_ms: percentiles(&stats.ttff.merged()),
        latency_ms: percentiles(&stats.latency.merged()),
        late_frames: get(&stats.late),
        gaps: get(&stats.gaps),
        dropped_frames: get(&stats.dropped),
        stalls: get(&stats.stalls),
        stall_ms: round3(get(&stats.stall_us) as f64 / 1000.0),
        not_ready_retries: get(&stats.not_ready),
        reconnects: get(&stats.reconnects),
        errors: errors(&stats.errors),
    }
}

pub(super) fn hls(stats: &HlsStats, viewers: usize, elapsed_s: f64) -> HlsSummary {
    HlsSummary {
        viewers,
        viewers_started: get(&stats.started),
        viewers_receiving: get(&stats.receiving),
        min_segments_per_viewer: min_or_zero(get(&stats.min_segments)),
        playlists: get(&stats.playlists),
        segments: get(&stats.segments),
        bytes_in: get(&stats.bytes_in),
        bytes_in_per_s: per_second(get(&stats.bytes_in), elapsed_s),
        ttff_ms: percentiles(&stats.ttff.merged()),
        latency_ms: percentiles(&stats.latency.merged()),
        latency_clamped: get(&stats.latency_clamped),
        skipped_segments: get(&stats.skipped_segments),
        stalls: get(&stats.stalls),
        not_ready_retries: get(&stats.not_ready),
        reconnects: get(&stats.reconnects),
        errors: errors(&stats.errors),
    }
}
