//! The media playlist of a recording (ADR 21): every segment of one playlist generation, as
//! `EXT-X-PLAYLIST-TYPE:VOD` with `EXT-X-ENDLIST` once it ended, or `EVENT` while it still
//! grows (RFC 8216 §4.3.3.5: an event playlist only gains segments at its end). Pure, so every
//! edge renders the same bytes for the same recording.

use std::fmt::{self, Write as _};

use super::playlist::PlaylistSegment;
use crate::text::date_time;

/// `EXT-X-VERSION` of the MPEG-TS playlist: nothing in it needs more than 3.
const TS_VERSION: u8 = 3;

/// Renders a recording's playlist. `segments` are its segments, oldest first and
/// msn-contiguous (URIs `<msn>.ts`, relative); `ready` ends it. `EXT-X-TARGETDURATION` is the
/// longest segment rounded up (at least 1), so no `EXTINF` exceeds it however it is rounded
/// (§4.3.3.1). The first segment's discontinuity is not written (nothing precedes it here);
/// every later one is, where the encoder reconnected or a segment was lost. A program date
/// time opens each run of continuous segments.
pub fn render_vod(segments: &[PlaylistSegment], ready: bool) -> String {
    let mut out = String::with_capacity(160 + segments.len() * 64);
    write_header(&mut out, TS_VERSION, ready, segments);
    for (position, segment) in segments.iter().enumerate() {
        let reconnected = position > 0 && segment.discontinuity;
        let opening = Opening {
            discontinuity: reconnected,
            map: None,
            date_time: position == 0 || reconnected,
        };
        write_segment(
            &mut out,
            segment,
            &opening,
            format_args!("{}.ts", segment.msn),
        );
    }
    write_end(&mut out, ready);
    out
}

/// Writes a recording playlist's header: `EXT-X-PLAYLIST-TYPE` `VOD` once `ready`, `EVENT`
/// while it grows; `EXT-X-TARGETDURATION` the longest of `listed` rounded up (at least 1);
/// `EXT-X-MEDIA-SEQUENCE` the first listed msn (0 when none is).
pub(super) fn write_header<'a>(
    out: &mut String,
    version: u8,
    ready: bool,
    listed: impl IntoIterator<Item = &'a PlaylistSegment>,
) {
    let mut listed = listed.into_iter().peekable();
    let media_sequence = listed.peek().map_or(0, |segment| segment.msn);
    let target = listed
        .map(|segment| segment.duration_ms.div_ceil(1000))
        .fold(1, u64::max);
    let kind = if ready { "VOD" } else { "EVENT" };
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-PLAYLIST-TYPE:{kind}\n\
         #EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{media_sequence}\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n"
    );
}

/// The tags a segment of a recording playlist opens with, beyond its `EXTINF`.
pub(super) struct Opening<'a> {
    /// `EXT-X-DISCONTINUITY`: it does not continue the segment listed before it.
    pub(super) discontinuity: bool,
    /// `EXT-X-MAP` with this URI: it needs another init segment than the one before it.
    pub(super) map: Option<&'a str>,
    /// `EXT-X-PROGRAM-DATE-TIME`: it opens a run of continuous segments.
    pub(super) date_time: bool,
}

/// Writes one segment: its opening tags in the order RFC 8216 players expect them
/// (discontinuity, map, date), its `EXTINF` and its `uri`.
pub(super) fn write_segment(
    out: &mut String,
    segment: &PlaylistSegment,
    opening: &Opening<'_>,
    uri: impl fmt::Display,
) {
    if opening.discontinuity {
        out.push_str("#EXT-X-DISCONTINUITY\n");
    }
    if let Some(map) = opening.map {
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"{map}\"");
    }
    if opening.date_time {
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            date_time(segment.program_date_time_ms)
        );
    }
    let _ = write!(
        out,
        "#EXTINF:{}.{:03},\n{uri}\n",
        segment.duration_ms / 1000,
        segment.duration_ms % 1000
    );
}

/// Ends a `ready` recording's playlist with `EXT-X-ENDLIST`.
pub(super) fn write_end(out: &mut String, ready: bool) {
    if ready {
        out.push_str("#EXT-X-ENDLIST\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(msn: u64, duration_ms: u64, discontinuity: bool) -> PlaylistSegment {
        PlaylistSegment {
            msn,
            duration_ms,
            program_date_time_ms: 1_700_000_000_000 + msn as i64 * 2000,
            discontinuity,
        }
    }

    #[test]
    fn a_ready_recording_is_a_vod_playlist_with_its_reconnect() {
        let segments = [
            segment(7, 2000, true),
            segment(8, 2001, false),
            segment(9, 1500, true),
        ];
        let text = render_vod(&segments, true);
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:3\n\
             #EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:34.000Z\n#EXTINF:2.000,\n7.ts\n\
             #EXTINF:2.001,\n8.ts\n\
             #EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:38.000Z\n\
             #EXTINF:1.500,\n9.ts\n#EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn a_growing_recording_is_an_event_playlist_without_an_end() {
        let text = render_vod(&[segment(0, 999, false)], false);
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
        assert!(text.contains("#EXT-X-TARGETDURATION:1\n"));
        assert!(!text.contains("ENDLIST"));
        let empty = render_vod(&[], false);
        assert!(empty.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
    }
}
