//! Recordings as the admin API shows them, and the events control emits about them
//! (ADR 21). A recording is one playlist generation of a stream, kept in the segment index
//! ([`ferrocast_store::recording`]); its id is [`ferrocast_store::recording_id`].

use ferrocast_base::{PlaybackId, StreamId};
use ferrocast_store::{RecordingSummary, recording_id};
use serde::Serialize;

/// Where a recording plays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingPlayback {
    /// The MPEG-TS VOD playlist on the edges.
    pub hls: String,
    /// The CMAF (fMP4) VOD multivariant playlist (ADR 24); 404 for a recording whose CMAF
    /// objects were not stored.
    pub cmaf: String,
    /// The watch page playing it.
    pub watch: String,
    /// A JPEG of its first keyframe; change `time` for another moment (seconds).
    pub thumbnail: String,
}

/// One recording, as `GET /v1/recordings/{id}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordingView {
    /// Its public id.
    pub id: String,
    /// The stream it recorded.
    pub stream_id: StreamId,
    /// The stream's playback id (empty once the stream was deleted).
    pub playback_id: String,
    /// `recording` (its playlist is live), `ready` (ended, playable to the end), `expired`
    /// (past its retention, about to be deleted) or `deleting` (no longer served; its objects
    /// are being deleted, then it leaves the list).
    pub state: &'static str,
    /// Wall-clock time of its first frame, Unix ms.
    pub started_at_ms: i64,
    /// When it ended, Unix ms; `None` while recording.
    pub ended_at_ms: Option<i64>,
    /// Media duration in seconds (its segments' durations summed).
    pub duration_s: f64,
    /// Bytes of its MPEG-TS segments.
    pub size_bytes: u64,
    /// Where the encoder reconnected (or segments were lost): `EXT-X-DISCONTINUITY` tags.
    pub discontinuities: u64,
    /// When it will be deleted, Unix ms; `None` while recording.
    pub expires_at_ms: Option<i64>,
    /// Segments not recorded because it reached `recordings.max_duration` or a session of the
    /// broadcast did not record; 0 for a complete recording.
    pub skipped_segments: u64,
    /// Absolute playback URLs; `None` once the stream was deleted.
    pub playback: Option<RecordingPlayback>,
}

impl RecordingView {
    /// The view of `summary` of `stream_id`, with URLs under `play_url` (control's
    /// `public_play_url`) when the stream's playback id is known.
    pub fn new(
        stream_id: &StreamId,
        playback_id: Option<&PlaybackId>,
        summary: &RecordingSummary,
        play_url: &str,
        now_ms: i64,
    ) -> Self {
        let id = recording_id(stream_id, summary.generation);
        let base = play_url.trim_end_matches('/');
        let playback = playback_id.map(|pb| RecordingPlayback {
            hls: format!("{base}/vod/{pb}/{id}/index.m3u8"),
            cmaf: format!("{base}/vod/{pb}/{id}/cmaf.m3u8"),
            watch: format!("{base}/watch/{pb}?recording={id}"),
            thumbnail: format!("{base}/thumbnail/{pb}.jpg?recording={id}&time=0"),
        });
        let state = if summary.deleting {
            "deleting"
        } else if !summary.is_ready() {
            "recording"
        } else if summary.is_expired(now_ms) {
            "expired"
        } else {
            "ready"
        };
        Self {
            id,
            stream_id: stream_id.clone(),
            playback_id: playback_id.map(|pb| pb.to_string()).unwrap_or_default(),
            state,
            started_at_ms: summary.started_at_ms,
            ended_at_ms: summary.ended_at_ms,
            duration_s: summary.duration_ms as f64 / 1000.0,
            size_bytes: summary.bytes,
            discontinuities: summary.discontinuities,
            expires_at_ms: summary.expires_at_ms(),
            skipped_segments: summary.skipped_segments,
            playback,
        }
    }
}

/// What control tells the outside world about recordings (the webhooks outbox, wired by the
/// binary). Each event is emitted once per recording across control replicas: the replica
/// that wins a claim in Redis emits it. Both default to doing nothing.
pub trait RecordingEvents: Send + Sync {
    /// The recording's playlist ended: it plays to the end now (`recording.ready`).
    fn ready(&self, _recording: &RecordingView) {}
    /// The recording and its objects are gone (`recording.deleted`).
    fn deleted(&self, _recording: &RecordingView) {}
}

/// Emits nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecordingEvents;

impl RecordingEvents for NoRecordingEvents {}
