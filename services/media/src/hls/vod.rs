//! The media playlist of a recording (ADR 21): every segment of one playlist generation, as
//! `EXT-X-PLAYLIST-TYPE:VOD` with `EXT-X-ENDLIST` once it ended, or `EVENT` while it still
//! grows (RFC 8216 §4.3.3.5: an event playlist only gains segments at its end). Pure, so every
//! edge renders the same bytes for the same recording.

use std::fmt::Write as _;

use super::playlist::PlaylistSegment;
use crate::text::date_time;

/// Renders a recording's playlist. `segments` are its segments, oldest first and
/// msn-contiguous (URIs `<msn>.ts`, relative); `ready` ends it. `EXT-X-TARGETDURATION` is the
/// longest segment rounded up (at least 1), so no `EXTINF` exceeds it however it is rounded
/// (§4.3.3.1). The first segment's discontinuity is not written (nothing precedes it here);
/// every later one is, where the encoder reconnected or a segment was lost. A program date
/// time opens each run of continuous segments.
pub fn render_vod(segments: &[PlaylistSegment], ready: bool) -> String {
    let target = segments
        .iter()
        .map(|segment| segment.duration_ms.div_ceil(1000))
        .fold(1, u64::max);
    let media_sequence = segments.first().map_or(0, |segment| segment.msn);
    let kind = if ready { "VOD" } else { "EVENT" };
    let mut out = String::with_capacity(160 + segments.len() * 64);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:{kind}\n#EXT-X-TARGETDURATION:{target}\n\
         #EXT-X-MEDIA-SEQUENCE:{media_sequence}\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    for (position, segment) in segments.iter().enumerate() {
        let reconnected = position > 0 && segment.discontinuity;
        if reconnected {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if position == 0 || reconnected {
            let _ = writeln!(
                out,
                "#EXT-X-PROGRAM-DATE-TIME:{}",
                date_time(segment.program_date_time_ms)
            );
        }
        let _ = write!(
            out,
            "#EXTINF:{}.{:03},\n{}.ts\n",
            segment.duration_ms / 1000,
            segment.duration_ms % 1000,
            segment.msn
        );
    }
    if ready {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
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
