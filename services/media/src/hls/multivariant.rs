//! Rendering of the HLS multivariant playlist (RFC 8216 §4.3.4): one variant per stream,
//! pointing at the media playlist of the stream's current generation.
//!
//! The stable URL players open (`index.m3u8`) is this playlist; the media playlist it names
//! changes when a new publish starts a new playlist after an ended one. A player that reached
//! `EXT-X-ENDLIST` on the old media playlist picks up the live again by reloading this one,
//! and the old media playlist never loses its ENDLIST (RFC 8216 §6.2.1).

use std::fmt::Write as _;

/// One listed segment's size and length, for the variant's `BANDWIDTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSize {
    /// Object size in bytes; 0 when unknown.
    pub bytes: u64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

/// The peak bit rate over `segments` in bits per second (RFC 8216 §4.3.4.2: `BANDWIDTH` is
/// the peak segment bit rate), never below `floor`. Segments of unknown size or zero length
/// are skipped, so an index of old records without sizes yields `floor`.
pub fn peak_bandwidth(segments: &[SegmentSize], floor: u64) -> u64 {
    segments
        .iter()
        .filter(|segment| segment.bytes > 0 && segment.duration_ms > 0)
        .map(|segment| {
            let bits = u128::from(segment.bytes) * 8 * 1000;
            let rate = bits.div_ceil(u128::from(segment.duration_ms));
            u64::try_from(rate).unwrap_or(u64::MAX)
        })
        .fold(floor, u64::max)
}

/// The file name of the media playlist of `generation`, relative to the multivariant one.
pub fn media_playlist_name(generation: u64) -> String {
    format!("media-{generation}.m3u8")
}

/// The generation named by a media playlist file name, if `file` is one.
pub fn parse_media_playlist_name(file: &str) -> Option<u64> {
    let digits = file.strip_prefix("media-")?.strip_suffix(".m3u8")?;
    // Only the canonical spelling, so one generation has exactly one URL (CDN-cacheable).
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Renders the multivariant playlist with one variant (LF line endings, trailing newline).
pub fn render_multivariant(generation: u64, bandwidth: u64) -> String {
    let mut out = String::with_capacity(96);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}\n{}\n",
        media_playlist_name(generation)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_multivariant() {
        assert_eq!(
            render_multivariant(42, 2_750_000),
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=2750000\nmedia-42.m3u8\n"
        );
    }

    #[test]
    fn multivariant_names_only_the_generation_and_is_not_a_media_playlist() {
        let text = render_multivariant(7, 1_000_000);
        let uris: Vec<&str> = text.lines().filter(|line| !line.starts_with('#')).collect();
        assert_eq!(uris, ["media-7.m3u8"]);
        // RFC 8216 §4.3.4: a multivariant playlist must not carry media playlist tags.
        for media_tag in [
            "#EXTINF",
            "#EXT-X-TARGETDURATION",
            "#EXT-X-MEDIA-SEQUENCE",
            "#EXT-X-ENDLIST",
        ] {
            assert!(!text.contains(media_tag), "{media_tag} in {text}");
        }
        assert_eq!(render_multivariant(7, 1_000_000), text);
    }

    #[test]
    fn bandwidth_is_the_peak_segment_rate_above_the_floor() {
        let segments = [
            SegmentSize {
                bytes: 625_000,
                duration_ms: 2_000,
            }, // 2.5 Mb/s
            SegmentSize {
                bytes: 1_000_000,
                duration_ms: 2_000,
            }, // 4 Mb/s
            SegmentSize {
                bytes: 0,
                duration_ms: 2_000,
            }, // unknown size
            SegmentSize {
                bytes: 9_999,
                duration_ms: 0,
            }, // no length
        ];
        assert_eq!(peak_bandwidth(&segments, 500_000), 4_000_000);
        assert_eq!(peak_bandwidth(&segments[2..], 500_000), 500_000);
        assert_eq!(peak_bandwidth(&[], 300), 300);
        // A rate that does not divide evenly rounds up: BANDWIDTH is an upper bound.
        let odd = [SegmentSize {
            bytes: 1,
            duration_ms: 3,
        }];
        assert_eq!(peak_bandwidth(&odd, 0), 2_667);
        let huge = [SegmentSize {
            bytes: u64::MAX,
            duration_ms: 1,
        }];
        assert_eq!(peak_bandwidth(&huge, 0), u64::MAX);
    }

    #[test]
    fn media_playlist_names_round_trip_and_only_canonical_ones_parse() {
        for generation in [0, 1, 42, u64::MAX] {
            let name = media_playlist_name(generation);
            assert_eq!(parse_media_playlist_name(&name), Some(generation));
        }
        for bad in [
            "media-.m3u8",
            "media-01.m3u8",
            "media-+1.m3u8",
            "media--1.m3u8",
            "media-1.m3u8x",
            "media-18446744073709551616.m3u8",
            "index.m3u8",
            "1.ts",
        ] {
            assert_eq!(parse_media_playlist_name(bad), None, "{bad}");
        }
    }
}
