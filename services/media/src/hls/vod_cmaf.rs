//! The CMAF playlists of a recording (ADR 21), beside its MPEG-TS playlist ([`super::vod`]):
//! a multivariant playlist ([`CMAF_MULTIVARIANT`]) and one media playlist per track, whose
//! segments are the per-track `moof`+`mdat` objects the origin stored with each TS segment.
//!
//! A track's playlist lists only the segments whose object for that track was stored; a
//! missing one is a hole, and the segment after it opens with `EXT-X-DISCONTINUITY`. Each
//! segment needs the init segment of its session and decoder configuration: `EXT-X-MAP`
//! names it before the first segment and again wherever it changes (RFC 8216 §4.3.2.5: a map
//! applies until the next one, across discontinuities). Every name is relative to the
//! recording's directory and spelled by [`CmafVodName`], one spelling per object, so a CDN
//! caches each once. Pure, like the TS renderer: every edge renders the same bytes.

use std::fmt;

use super::playlist::PlaylistSegment;
use super::vod::{Opening, write_end, write_header, write_segment};
use crate::cmaf::{InitDescription, TrackKind};
use crate::ll::{names, variants};

/// The CMAF multivariant playlist of a recording, beside the TS `index.m3u8`.
pub const CMAF_MULTIVARIANT: &str = "cmaf.m3u8";

/// `EXT-X-VERSION` of the CMAF playlists: `EXT-X-MAP` in a media playlist needs at least 6
/// (RFC 8216 §7); the multivariant playlist declares the same, so the set reads as one.
const CMAF_VERSION: u8 = 7;

/// One recorded segment as the CMAF playlist of one track sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmafVodSegment {
    /// The segment as the TS playlist lists it (msn, duration, date, discontinuity).
    pub segment: PlaylistSegment,
    /// The init segment this track's CMAF segment needs, as (session epoch, init version);
    /// `None` when the track's CMAF segment was not stored.
    pub init: Option<(u64, u32)>,
}

/// What a file name under a recording's directory names (CMAF side only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmafVodName {
    /// [`CMAF_MULTIVARIANT`].
    Multivariant,
    /// A track's media playlist: `video.m3u8`, `audio.m3u8`.
    Playlist(TrackKind),
    /// A track's segment: `{msn}.{track}.m4s`.
    Segment {
        /// The segment's media sequence number.
        msn: u64,
        /// The track.
        track: TrackKind,
    },
    /// The init segment that segment `msn` of `track` needs: `init.{msn}.{track}.mp4`.
    Init {
        /// The media sequence number of the first segment that uses this init.
        msn: u64,
        /// The track.
        track: TrackKind,
    },
}

/// The file name, relative to the recording's directory; [`parse_cmaf_vod_name`] reads it
/// back.
impl fmt::Display for CmafVodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Multivariant => f.write_str(CMAF_MULTIVARIANT),
            Self::Playlist(track) => f.write_str(&names::playlist(track)),
            Self::Segment { msn, track } => write!(f, "{msn}.{}.m4s", track.name()),
            Self::Init { msn, track } => write!(f, "init.{msn}.{}.mp4", track.name()),
        }
    }
}

/// Parses a file name under a recording's directory. Numbers must be canonical decimals (no
/// sign, no leading zero), so each object has one name; anything else, the TS side's names
/// included (`index.m3u8`, `7.ts`), is `None`.
pub fn parse_cmaf_vod_name(file: &str) -> Option<CmafVodName> {
    if file == CMAF_MULTIVARIANT {
        return Some(CmafVodName::Multivariant);
    }
    if let Some(track) = file.strip_suffix(".m3u8").and_then(names::track) {
        return Some(CmafVodName::Playlist(track));
    }
    if let Some(rest) = file.strip_prefix("init.") {
        let (msn, track) = rest.strip_suffix(".mp4")?.split_once('.')?;
        return Some(CmafVodName::Init {
            msn: names::number(msn)?,
            track: names::track(track)?,
        });
    }
    let (msn, track) = file.strip_suffix(".m4s")?.split_once('.')?;
    Some(CmafVodName::Segment {
        msn: names::number(msn)?,
        track: names::track(track)?,
    })
}

/// A segment `track`'s playlist lists.
struct Listed<'a> {
    segment: &'a PlaylistSegment,
    init: (u64, u32),
    /// Segments without this track's object came just before it.
    after_hole: bool,
}

/// The segments that have this track's object, each knowing whether a hole precedes it.
fn listed(segments: &[CmafVodSegment]) -> Vec<Listed<'_>> {
    let mut hole = false;
    let mut listed = Vec::with_capacity(segments.len());
    for recorded in segments {
        match recorded.init {
            None => hole = true,
            Some(init) => {
                listed.push(Listed {
                    segment: &recorded.segment,
                    init,
                    after_hole: hole,
                });
                hole = false;
            }
        }
    }
    listed
}

/// Renders `track`'s media playlist of a recording. `segments` are the recording's, oldest
/// first; those without the track's object are left out, and the next listed one opens with
/// `EXT-X-DISCONTINUITY`, as does a segment that starts a new session (except the first
/// listed: nothing precedes it). `EXT-X-MAP` comes before the first listed segment and
/// wherever the init changes; `EXT-X-PROGRAM-DATE-TIME` opens each run of continuous
/// segments. `ready` ends it (`VOD` with `EXT-X-ENDLIST`; `EVENT` while it grows).
pub fn render_cmaf_vod(track: TrackKind, segments: &[CmafVodSegment], ready: bool) -> String {
    let listed = listed(segments);
    let mut out = String::with_capacity(200 + listed.len() * 72);
    write_header(
        &mut out,
        CMAF_VERSION,
        ready,
        listed.iter().map(|entry| entry.segment),
    );
    let mut mapped = None;
    for (position, entry) in listed.iter().enumerate() {
        let segment = entry.segment;
        let discontinuity = position > 0 && (entry.after_hole || segment.discontinuity);
        let map = (mapped != Some(entry.init)).then(|| {
            let msn = segment.msn;
            CmafVodName::Init { msn, track }.to_string()
        });
        mapped = Some(entry.init);
        let opening = Opening {
            discontinuity,
            map: map.as_deref(),
            date_time: position == 0 || discontinuity,
        };
        let uri = CmafVodName::Segment {
            msn: segment.msn,
            track,
        };
        write_segment(&mut out, segment, &opening, uri);
    }
    write_end(&mut out, ready);
    out
}

/// Renders a recording's CMAF multivariant playlist from its tracks' init segments, as
/// [`crate::cmaf::describe_init`] read them; `None` when it has neither track. With both,
/// audio is a rendition of the video variant; audio alone is the variant. `BANDWIDTH` is
/// `bandwidth` (at least 1, which RFC 8216 requires to be positive).
pub fn render_cmaf_vod_multivariant(
    video: Option<&InitDescription>,
    audio: Option<&InitDescription>,
    bandwidth: u64,
) -> Option<String> {
    if video.is_none() && audio.is_none() {
        return None;
    }
    let shared = variants::codecs_and_resolution(
        video.map(|track| track.codec.as_str()),
        audio.map(|track| track.codec.as_str()),
        video.and_then(|track| track.dimensions),
    );
    let attributes = format!("BANDWIDTH={},{shared}", bandwidth.max(1));
    let mut text = format!("#EXTM3U\n#EXT-X-VERSION:{CMAF_VERSION}\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    variants::write_track_variant(&mut text, &attributes, video.is_some(), audio.is_some());
    Some(text)
}

#[cfg(test)]
#[path = "vod_cmaf_tests.rs"]
mod tests;
