//! The parts of an HLS playlist a player needs: segments with their media sequence numbers,
//! durations and program date-times, the target duration, the end marker, and for a
//! multivariant playlist the variant URIs.

/// A parsed playlist.
#[derive(Debug, PartialEq)]
pub enum Playlist<'a> {
    /// A media playlist.
    Media(MediaPlaylist<'a>),
    /// A multivariant playlist: the variant URIs in order.
    Multivariant(Vec<&'a str>),
}

/// A media playlist.
#[derive(Debug, PartialEq)]
pub struct MediaPlaylist<'a> {
    /// `EXT-X-TARGETDURATION`, seconds.
    pub target_duration_s: f64,
    /// The segments, oldest first.
    pub segments: Vec<Segment<'a>>,
    /// `EXT-X-ENDLIST` is present.
    pub ended: bool,
}

/// One media segment.
#[derive(Debug, PartialEq)]
pub struct Segment<'a> {
    /// Media sequence number.
    pub msn: u64,
    /// `EXTINF` duration, seconds.
    pub duration_s: f64,
    /// The URI line as written.
    pub uri: &'a str,
    /// Wall-clock time of its first sample (Unix microseconds), from `EXT-X-PROGRAM-DATE-TIME`
    /// on it or carried forward from an earlier segment.
    pub program_date_time_us: Option<i64>,
}

/// A playlist that cannot be played.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    /// No `#EXTM3U` first line.
    #[error("no #EXTM3U header")]
    NotM3u,
    /// A media playlist without `EXT-X-TARGETDURATION`.
    #[error("no EXT-X-TARGETDURATION")]
    NoTargetDuration,
    /// A tag whose value does not parse.
    #[error("bad value in {0}")]
    BadValue(&'static str),
}

/// Parses playlist text.
pub fn parse(text: &str) -> Result<Playlist<'_>, PlaylistError> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err(PlaylistError::NotM3u);
    }
    let mut target_duration_s = None;
    let mut msn = 0u64;
    let mut ended = false;
    let mut segments = Vec::new();
    let mut variants = Vec::new();
    let mut in_variant = false;
    let mut duration_s = None;
    let mut next_pdt_us: Option<i64> = None;
    for line in lines {
        if let Some(value) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target_duration_s = Some(number(value, "EXT-X-TARGETDURATION")?);
        } else if let Some(value) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            msn = value
                .parse()
                .map_err(|_| PlaylistError::BadValue("EXT-X-MEDIA-SEQUENCE"))?;
        } else if let Some(value) = line.strip_prefix("#EXTINF:") {
            let value = value.split(',').next().unwrap_or_default();
            duration_s = Some(number(value, "EXTINF")?);
        } else if let Some(value) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            let pdt =
                parse_date_time(value).ok_or(PlaylistError::BadValue("EXT-X-PROGRAM-DATE-TIME"))?;
            next_pdt_us = Some(pdt);
        } else if line.starts_with("#EXT-X-STREAM-INF") {
            in_variant = true;
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if line.starts_with("#EXT-X-DISCONTINUITY") && !line.contains(':') {
            next_pdt_us = None; // the timeline restarts; only a new PDT tells where
        } else if !line.starts_with('#') {
            if in_variant {
                variants.push(line);
                in_variant = false;
                continue;
            }
            let duration = duration_s.take().unwrap_or(0.0);
            segments.push(Segment {
                msn,
                duration_s: duration,
                uri: line,
                program_date_time_us: next_pdt_us,
            });
            next_pdt_us = next_pdt_us.map(|pdt| pdt + (duration * 1e6).round() as i64);
            msn += 1;
        }
    }
    if !variants.is_empty() {
        return Ok(Playlist::Multivariant(variants));
    }
    let target_duration_s = target_duration_s.ok_or(PlaylistError::NoTargetDuration)?;
    Ok(Playlist::Media(MediaPlaylist {
        target_duration_s,
        segments,
        ended,
    }))
}

fn number(value: &str, tag: &'static str) -> Result<f64, PlaylistError> {
    let parsed: f64 = value
        .trim()
        .parse()
        .map_err(|_| PlaylistError::BadValue(tag))?;
    if !parsed.is_finite() || parsed < 0.0 {
        return Err(PlaylistError::BadValue(tag));
    }
    Ok(parsed)
}

/// Parses an ISO 8601 / RFC 3339 date-time with `Z` or a `±hh:mm` offset into Unix
/// microseconds.
pub fn parse_date_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (local, offset_s) = if let Some(local) = text.strip_suffix('Z') {
        (local, 0i64)
    } else {
        // The offset sign comes after the time, past the date's own dashes.
        let sign_at = text.rfind(['+', '-']).filter(|&at| at > 10)?;
        let (local, offset) = text.split_at(sign_at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let digits: String = offset[1..].chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 4 {
            return None;
        }
        let hours: i64 = digits[..2].parse().ok()?;
        let minutes: i64 = digits[2..].parse().ok()?;
        (local, sign * (hours * 3600 + minutes * 60))
    };
    let utc = humantime::parse_rfc3339_weak(&format!("{local}Z")).ok()?;
    let since_epoch = utc.duration_since(std::time::UNIX_EPOCH).ok()?;
    let micros = i64::try_from(since_epoch.as_micros()).ok()?;
    Some(micros - offset_s * 1_000_000)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const LIVE: &str = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:11
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-PROGRAM-DATE-TIME:2026-11-21T07:07:40.123Z
#EXTINF:2.002,
11.ts
#EXTINF:1.5,
12.ts

#EXT-X-DISCONTINUITY
#EXTINF:2.000,
13.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-21T09:08:03.500+02:00
#EXTINF:0.040,
/abs/14.ts
";

    const T0: i64 = 1_795_244_860_123_000; // 2026-11-21T07:07:40.123Z

    #[test]
    fn reads_a_live_media_playlist() {
        let Playlist::Media(playlist) = parse(LIVE).unwrap() else {
            panic!("not a media playlist");
        };
        assert_eq!(playlist.target_duration_s, 2.0);
        assert!(!playlist.ended);
        let msns: Vec<u64> = playlist.segments.iter().map(|s| s.msn).collect();
        assert_eq!(msns, [11, 12, 13, 14]);
        let uris: Vec<&str> = playlist.segments.iter().map(|s| s.uri).collect();
        assert_eq!(uris, ["11.ts", "12.ts", "13.ts", "/abs/14.ts"]);
        let pdts: Vec<Option<i64>> = playlist
            .segments
            .iter()
            .map(|s| s.program_date_time_us)
            .collect();
        assert_eq!(
            pdts,
            [Some(T0), Some(T0 + 2_002_000), None, Some(T0 + 23_377_000)]
        );
        assert_eq!(playlist.segments[3].duration_s, 0.04);
    }

    #[test]
    fn reads_the_end_and_variants() {
        let ended = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n";
        let Playlist::Media(playlist) = parse(ended).unwrap() else {
            panic!("not a media playlist");
        };
        assert!(playlist.ended);
        assert_eq!(playlist.segments[0].msn, 0);
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow/index.m3u8\n\
                      #EXT-X-STREAM-INF:BANDWIDTH=2000\nhigh/index.m3u8\n";
        assert_eq!(
            parse(master).unwrap(),
            Playlist::Multivariant(vec!["low/index.m3u8", "high/index.m3u8"])
        );
    }

    #[test]
    fn refuses_broken_playlists() {
        assert_eq!(parse("<html>"), Err(PlaylistError::NotM3u));
        assert_eq!(
            parse("#EXTM3U\n#EXTINF:2,\na.ts\n"),
            Err(PlaylistError::NoTargetDuration)
        );
        assert_eq!(
            parse("#EXTM3U\n#EXT-X-TARGETDURATION:x\n"),
            Err(PlaylistError::BadValue("EXT-X-TARGETDURATION"))
        );
        assert_eq!(
            parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n"),
            Err(PlaylistError::BadValue("EXT-X-PROGRAM-DATE-TIME"))
        );
    }

    #[test]
    fn date_times_with_offsets() {
        assert_eq!(parse_date_time("2026-11-21T07:07:40.123Z"), Some(T0));
        assert_eq!(parse_date_time("2026-11-21T08:07:40.123+01:00"), Some(T0));
        assert_eq!(parse_date_time("2026-11-21T06:07:40.123-0100"), Some(T0));
        assert_eq!(parse_date_time("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_date_time("2026-11-21"), None);
    }
}
