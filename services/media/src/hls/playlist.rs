//! Rendering of HLS media playlists (RFC 8216) for a sliding window of
//! segments. Output depends only on the inputs, so every edge renders
//! byte-identical playlists for the same index.

use std::fmt::Write as _;

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

/// Delta updates of a media playlist (RFC 8216bis §6.2.5.1): a long (DVR) playlist offers
/// them, and a client that asks (`_HLS_skip=YES`) gets the older segments as one
/// `EXT-X-SKIP` line instead of listed again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    /// `EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL`, seconds: segments that start at least this far
    /// from the playlist's end may be skipped. `None`: no delta updates offered.
    pub can_skip_until_s: Option<u64>,
    /// This answer is a delta update (the request asked for one and one is offered).
    pub skip: bool,
}

/// Renders the media playlist text (LF line endings, trailing newline).
pub fn render(playlist: &Playlist<'_>) -> String {
    render_with(playlist, Delta::default())
}

/// [`render`], offering delta updates as `delta` says. A delta update keeps the full
/// playlist's `EXT-X-MEDIA-SEQUENCE` and `EXT-X-DISCONTINUITY-SEQUENCE` and replaces its
/// leading segments (with their tags) by `EXT-X-SKIP:SKIPPED-SEGMENTS=<n>`.
pub fn render_with(playlist: &Playlist<'_>, delta: Delta) -> String {
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
    let skipped = match delta.can_skip_until_s {
        Some(until_s) if delta.skip => skippable(shown, until_s.saturating_mul(1000)),
        _ => 0,
    };
    // EXT-X-SKIP (and the server control that offers it) need version 9.
    let version = if delta.can_skip_until_s.is_some() {
        9
    } else {
        3
    };

    let mut out = String::with_capacity(200 + (shown.len() - skipped) * 96);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n"
    );
    if let Some(until_s) = delta.can_skip_until_s {
        let _ = writeln!(out, "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL={until_s}");
    }
    let _ = write!(
        out,
        "#EXT-X-MEDIA-SEQUENCE:{media_sequence}\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}\n"
    );
    if skipped > 0 {
        let _ = writeln!(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
    }
    for segment in &shown[skipped..] {
        if segment.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let _ = write!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{}.{:03},\n{}.ts\n",
            crate::text::date_time(segment.program_date_time_ms),
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

/// How many leading segments of `shown` start more than `until_ms` before its end: the ones
/// a delta update may skip.
fn skippable(shown: &[PlaylistSegment], until_ms: u64) -> usize {
    let total: u64 = shown.iter().map(|s| s.duration_ms).sum();
    let mut start = 0u64;
    shown
        .iter()
        .take_while(|segment| {
            let from_end = total.saturating_sub(start);
            start = start.saturating_add(segment.duration_ms);
            from_end > until_ms
        })
        .count()
}

#[cfg(test)]
#[path = "playlist_tests.rs"]
mod tests;
