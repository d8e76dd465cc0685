//! Rendering of HLS media playlists (RFC 8216) for a sliding window of
//! segments. Output depends only on the inputs, so every edge renders
//! byte-identical playlists for the same index.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Largest program date time humantime can format (9999-12-31T23:59:59.999Z).
const MAX_PROGRAM_DATE_TIME_MS: i64 = 253_402_300_799_999;

/// One segment as listed in the playlist index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaylistSegment {
    /// Media sequence number; the segment is served as `<msn>.ts`.
    pub msn: u64,
    /// Segment duration in milliseconds.
    pub duration_ms: u64,
    /// Wall-clock time of the segment's first frame, in Unix milliseconds.
    pub program_date_time_ms: i64,
    /// First segment of a new publish session after an earlier one.
    pub discontinuity: bool,
}

/// The inputs of one playlist render.
#[derive(Debug, Clone, Copy)]
pub struct Playlist<'a> {
    /// Every retained segment, oldest first, msn strictly increasing.
    pub segments: &'a [PlaylistSegment],
    /// Discontinuities already trimmed away from the front of `segments`.
    pub discontinuity_base: u64,
    /// How many of the newest segments to list (see [`shown_count`]).
    pub window: usize,
    /// EXT-X-TARGETDURATION, in seconds: [`target_duration_s`] of the packager's target, which
    /// keeps every segment under it (ADR 17). A longer shown segment would raise it, as RFC
    /// 8216 §4.3.3.1 asks, but only an origin configured with a longer target makes one.
    pub min_target_duration_s: u64,
    /// Whether the stream has ended (adds EXT-X-ENDLIST).
    pub ended: bool,
}

/// `EXT-X-TARGETDURATION` (whole seconds) of a stream packaged with segments cut after
/// `target_duration_ms`: that target rounded up, at least 1. It is a constant of the
/// configuration, so it never changes within a playlist (RFC 8216 §6.2.1); the packager cuts
/// every segment before it could round above it (§4.3.3.1).
pub fn target_duration_s(target_duration_ms: u64) -> u64 {
    target_duration_ms.div_ceil(1000).max(1)
}

/// Index of the first segment shown when listing the newest `window` of
/// `segments_len` segments.
pub fn window_start(segments_len: usize, window: usize) -> usize {
    segments_len.saturating_sub(window)
}

/// Until when (Unix ms) a segment listed at `listed_at_ms`, whose media ended at
/// `media_end_ms`, stays in the playlist: `keep_ms` after it was listed, plus as long as it was
/// late. After an outage the segments that waited are listed in a burst, each late by the
/// outage; a player that stalled meanwhile plays them in order, in real time, and must still
/// find each one listed when it gets there. The origin retains what this keeps listed.
pub fn listed_until_ms(listed_at_ms: i64, media_end_ms: i64, keep_ms: i64) -> i64 {
    let late_ms = listed_at_ms.saturating_sub(media_end_ms).max(0);
    listed_at_ms.saturating_add(late_ms).saturating_add(keep_ms)
}

/// Index of the first segment a playlist shows at `now_ms`, of retained segments given as
/// (listed at, media end), Unix ms, oldest first: the newest `window` at least, and every
/// segment from the oldest one still kept. A segment is kept until [`listed_until_ms`], or
/// until a segment listed within `window` places after it would be (listed at plus lateness):
/// so a segment listed just before an outage, which no edge could read during it, stays
/// shown with the late ones listed after it. A segment listed at 0 (unknown) keeps nothing.
pub fn shown_from(segments: &[(i64, i64)], window: usize, now_ms: i64, keep_ms: i64) -> usize {
    let len = segments.len();
    let late_until = |&(listed_at, media_end): &(i64, i64)| {
        (listed_at > 0).then(|| listed_until_ms(listed_at, media_end, 0))
    };
    let mut first = len.saturating_sub(window);
    for (index, segment) in segments.iter().enumerate().take(first) {
        let own = (segment.0 > 0).then(|| listed_until_ms(segment.0, segment.1, keep_ms));
        let followers = segments[index + 1..len.min(index + window)]
            .iter()
            .filter_map(late_until);
        if own.into_iter().chain(followers).any(|until| until > now_ms) {
            first = index;
            break;
        }
    }
    first
}

/// How many of the newest retained segments a playlist shows at `now_ms` ([`shown_from`]).
pub fn shown_count(segments: &[(i64, i64)], window: usize, now_ms: i64, keep_ms: i64) -> usize {
    segments.len() - shown_from(segments, window, now_ms, keep_ms)
}

/// Renders the media playlist text (LF line endings, trailing newline).
pub fn render(playlist: &Playlist<'_>) -> String {
    let start = window_start(playlist.segments.len(), playlist.window);
    let (hidden, shown) = playlist
        .segments
        .split_at(start.min(playlist.segments.len()));
    // RFC 8216 4.3.3.1: every EXTINF rounded to the nearest integer must
    // not exceed the target duration.
    let target = shown
        .iter()
        .map(|s| s.duration_ms.saturating_add(500) / 1000)
        .fold(playlist.min_target_duration_s, u64::max);
    let media_sequence = match (shown.first(), hidden.last()) {
        (Some(first), _) => first.msn,
        (None, Some(last)) => last.msn.saturating_add(1),
        (None, None) => 0,
    };
    let hidden_discontinuities = hidden.iter().filter(|s| s.discontinuity).count() as u64;
    let discontinuity_sequence = playlist
        .discontinuity_base
        .saturating_add(hidden_discontinuities);

    let mut out = String::with_capacity(160 + shown.len() * 96);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n\
         #EXT-X-MEDIA-SEQUENCE:{media_sequence}\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}\n"
    );
    for segment in shown {
        if segment.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let _ = write!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{}.{:03},\n{}.ts\n",
            format_date_time(segment.program_date_time_ms),
            segment.duration_ms / 1000,
            segment.duration_ms % 1000,
            segment.msn
        );
    }
    if playlist.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// RFC 3339 UTC with milliseconds; out-of-range values are clamped because
/// humantime cannot format dates before 1970 or after 9999.
pub(super) fn format_date_time(unix_ms: i64) -> String {
    let clamped = unix_ms.clamp(0, MAX_PROGRAM_DATE_TIME_MS).unsigned_abs();
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(clamped);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
#[path = "playlist_tests.rs"]
mod tests;
