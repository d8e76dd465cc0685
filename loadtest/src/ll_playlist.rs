//! What an LL-HLS player reads from a playlist (RFC 8216bis): the parts with their media
//! sequence numbers and indices, the part target, the preload hint, the end marker, and the
//! position of the next part (what the next blocking reload asks for); from a multivariant
//! playlist, the first variant and its audio rendition.

/// A parsed LL-HLS playlist.
#[derive(Debug, PartialEq)]
pub enum LlEntry<'a> {
    /// A media playlist.
    Media(LlPlaylist<'a>),
    /// A multivariant playlist: the first variant and the audio rendition's URI, if any.
    Multivariant {
        /// The first `EXT-X-STREAM-INF` URI.
        video: &'a str,
        /// The `URI` of the first `EXT-X-MEDIA:TYPE=AUDIO`.
        audio: Option<&'a str>,
    },
}

/// A media playlist's parts.
#[derive(Debug, PartialEq)]
pub struct LlPlaylist<'a> {
    /// `EXT-X-PART-INF:PART-TARGET`, seconds.
    pub part_target_s: f64,
    /// Every listed part, oldest first.
    pub parts: Vec<LlPart<'a>>,
    /// `(msn, part)` of the part after the last listed one: `_HLS_msn`/`_HLS_part` of the
    /// next blocking reload (what the preload hint names).
    pub next: (u64, u32),
    /// The preload hint's URI.
    pub hint: Option<&'a str>,
    /// `EXT-X-ENDLIST` is present.
    pub ended: bool,
}

/// One `EXT-X-PART`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlPart<'a> {
    /// Its segment's media sequence number.
    pub msn: u64,
    /// Its index in the segment.
    pub index: u32,
    /// Its URI as written.
    pub uri: &'a str,
    /// `GAP=YES`: there is nothing to fetch.
    pub gap: bool,
}

/// A playlist that cannot be played.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LlPlaylistError {
    /// No `#EXTM3U` first line.
    #[error("no #EXTM3U header")]
    NotM3u,
    /// A media playlist without `EXT-X-PART-INF`: not low-latency.
    #[error("no EXT-X-PART-INF")]
    NoPartInf,
    /// A tag whose value does not parse.
    #[error("bad value in {0}")]
    BadValue(&'static str),
}

/// Parses playlist text.
pub fn parse(text: &str) -> Result<LlEntry<'_>, LlPlaylistError> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err(LlPlaylistError::NotM3u);
    }
    let mut part_target_s = None;
    let mut msn = 0u64;
    let mut index = 0u32;
    let mut parts = Vec::new();
    let mut hint = None;
    let mut ended = false;
    let mut in_variant = false;
    let mut audio = None;
    for line in lines {
        if let Some(attributes) = line.strip_prefix("#EXT-X-PART-INF:") {
            let target = attribute(attributes, "PART-TARGET")
                .and_then(|value| value.parse::<f64>().ok())
                .filter(|value| value.is_finite() && *value > 0.0);
            part_target_s = Some(target.ok_or(LlPlaylistError::BadValue("EXT-X-PART-INF"))?);
        } else if let Some(value) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            msn = value
                .parse()
                .map_err(|_| LlPlaylistError::BadValue("EXT-X-MEDIA-SEQUENCE"))?;
        } else if let Some(attributes) = line.strip_prefix("#EXT-X-SKIP:") {
            let skipped = attribute(attributes, "SKIPPED-SEGMENTS")
                .and_then(|value| value.parse::<u64>().ok())
                .ok_or(LlPlaylistError::BadValue("EXT-X-SKIP"))?;
            msn += skipped;
        } else if let Some(attributes) = line.strip_prefix("#EXT-X-PART:") {
            let uri =
                attribute(attributes, "URI").ok_or(LlPlaylistError::BadValue("EXT-X-PART"))?;
            let gap = attribute(attributes, "GAP") == Some("YES");
            parts.push(LlPart {
                msn,
                index,
                uri,
                gap,
            });
            index += 1;
        } else if let Some(attributes) = line.strip_prefix("#EXT-X-PRELOAD-HINT:") {
            hint = attribute(attributes, "URI");
        } else if let Some(attributes) = line.strip_prefix("#EXT-X-MEDIA:") {
            if audio.is_none() && attribute(attributes, "TYPE") == Some("AUDIO") {
                audio = attribute(attributes, "URI");
            }
        } else if line.starts_with("#EXT-X-STREAM-INF") {
            in_variant = true;
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if !line.starts_with('#') {
            if in_variant {
                return Ok(LlEntry::Multivariant { video: line, audio });
            }
            msn += 1;
            index = 0;
        }
    }
    let part_target_s = part_target_s.ok_or(LlPlaylistError::NoPartInf)?;
    Ok(LlEntry::Media(LlPlaylist {
        part_target_s,
        parts,
        next: (msn, index),
        hint,
        ended,
    }))
}

/// The value of `name` in an attribute list, without quotes.
fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attributes;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            let next = quoted[end + 1..].strip_prefix(',').unwrap_or("");
            (&quoted[..end], next)
        } else {
            match after.split_once(',') {
                Some((value, next)) => (value, next),
                None => (after, ""),
            }
        };
        if key.trim() == name {
            return Some(value);
        }
        rest = next;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const LIVE: &str = "#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-PART-INF:PART-TARGET=0.334
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002
#EXT-X-MEDIA-SEQUENCE:20
#EXT-X-SKIP:SKIPPED-SEGMENTS=2
#EXT-X-PART:DURATION=0.333,URI=\"3/2.0.video.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.333,URI=\"3/2.1.video.m4s\"
#EXTINF:0.666,
3/2.video.m4s
#EXT-X-PART:DURATION=0.333,URI=\"3/3.0.audio.m4s\",GAP=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"3/3.1.video.m4s\"
";

    #[test]
    fn reads_parts_and_the_next_position() {
        let LlEntry::Media(playlist) = parse(LIVE).unwrap() else {
            panic!("a media playlist");
        };
        assert_eq!(playlist.part_target_s, 0.334);
        let positions: Vec<(u64, u32, bool)> = playlist
            .parts
            .iter()
            .map(|p| (p.msn, p.index, p.gap))
            .collect();
        assert_eq!(positions, [(22, 0, false), (22, 1, false), (23, 0, true)]);
        assert_eq!(playlist.next, (23, 1));
        assert_eq!(playlist.hint, Some("3/3.1.video.m4s"));
        assert!(!playlist.ended);
    }

    #[test]
    fn reads_the_variant_and_its_audio() {
        let text = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"audio\",DEFAULT=YES,URI=\"audio.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"a\"\n\
            video.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000\n\
            ../../hls/x/media-1.m3u8\n";
        assert_eq!(
            parse(text).unwrap(),
            LlEntry::Multivariant {
                video: "video.m3u8",
                audio: Some("audio.m3u8")
            }
        );
    }

    #[test]
    fn refuses_what_is_not_ll() {
        assert_eq!(parse("<html>"), Err(LlPlaylistError::NotM3u));
        let ts = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n0.ts\n";
        assert_eq!(parse(ts), Err(LlPlaylistError::NoPartInf));
    }
}
