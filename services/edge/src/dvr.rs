//! DVR: a live MPEG-TS playlist that reaches back `dvr_window` (a stream's setting, from
//! control), so a viewer can seek back while the stream is live (docs/dvr.md).
//!
//! The older segments come from the stream's recording of the current generation: the
//! recording already keeps every segment in the object store and lists it in the index, so
//! DVR stores nothing of its own, and a stream that does not record has only its live window.
//! A long playlist is costly to send every target duration, so a DVR playlist offers delta
//! updates (`CAN-SKIP-UNTIL`, `_HLS_skip=YES`): a player that has the playlist gets its last
//! few segments and one `EXT-X-SKIP` line.

use std::time::Duration;

use ferrocast_base::{Msn, StreamId};
use ferrocast_media::hls::{Delta, PlaylistSegment};
use ferrocast_store::{IndexState, SegmentRecord};

use crate::state::Edge;

/// `CAN-SKIP-UNTIL` in target durations: the least RFC 8216bis §4.4.3.8 allows.
const SKIP_UNTIL_TARGETS: u64 = 6;

/// The playlist entry of an index record.
pub(crate) fn entry(record: &SegmentRecord) -> PlaylistSegment {
    PlaylistSegment {
        msn: record.msn.get(),
        duration_ms: record.duration_ms,
        program_date_time_ms: record.program_date_time_ms,
        discontinuity: record.discontinuity,
    }
}

/// The recorded segments older than the live listing of `state` that fall within `window` of
/// the playlist's end, oldest first. Empty when the stream does not record (or the index
/// cannot say: the playlist then falls back to the live window, logged).
pub(crate) async fn older_segments(
    edge: &Edge,
    stream_id: &StreamId,
    state: &IndexState,
    window: Duration,
) -> Vec<PlaylistSegment> {
    let Some(first_live) = state.segments.first() else {
        return Vec::new();
    };
    let recording = match edge.deps.index.recording(stream_id, state.generation).await {
        Ok(Some(recording)) => recording,
        Ok(None) => return Vec::new(),
        Err(failure) => {
            tracing::warn!(%stream_id, error = %failure, "index unavailable: DVR playlist shortened to the live window");
            return Vec::new();
        }
    };
    let live_ms: u64 = state.segments.iter().map(|s| s.duration_ms).sum();
    let mut budget = u64::try_from(window.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_sub(live_ms);
    // Only the run that continues the live listing: a recording that stopped (at
    // `max_duration`) left a gap, and a playlist's sequence numbers must not skip.
    let mut next = first_live.msn.get();
    let mut older: Vec<PlaylistSegment> = recording
        .segments
        .iter()
        .rev()
        .filter(|record| record.msn < first_live.msn)
        .take_while(|record| {
            let continues = next.checked_sub(1) == Some(record.msn.get());
            let fits = record.duration_ms <= budget;
            next = record.msn.get();
            budget = budget.saturating_sub(record.duration_ms);
            continues && fits
        })
        .map(entry)
        .collect();
    older.reverse();
    older
}

/// A segment of the current generation's recording that left the live listing: what a DVR
/// playlist names beyond the live window.
pub(crate) async fn recorded_segment(
    edge: &Edge,
    stream_id: &StreamId,
    state: &IndexState,
    msn: Msn,
) -> Option<SegmentRecord> {
    let found = edge
        .deps
        .index
        .recording_segment(stream_id, state.generation, msn)
        .await;
    match found {
        Ok(found) => found.map(|(_, record)| record),
        Err(failure) => {
            tracing::warn!(%stream_id, msn = msn.get(), error = %failure, "index unavailable for a DVR segment");
            None
        }
    }
}

/// The delta updates a DVR playlist offers, and whether `query` asks for one.
pub(crate) fn delta(target_duration_s: u64, query: Option<&str>) -> Delta {
    // The LL-HLS parser reads the directive; a query it refuses asks for no delta.
    let asked = query.and_then(|query| crate::ll::query::parse(query).ok());
    let asked = asked.is_some_and(|request| request.skip);
    Delta {
        can_skip_until_s: Some(target_duration_s.saturating_mul(SKIP_UNTIL_TARGETS)),
        skip: asked,
    }
}
