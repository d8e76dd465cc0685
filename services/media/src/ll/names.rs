//! The names of everything under `/ll/{playback_id}/`, relative to that directory, and
//! their parsing. A name holds the session's epoch, so no name is ever reused and a CDN can
//! never serve a stale object for it (ADR 16 decision 5). Nothing per edge or per viewer.
//!
//! - `index.m3u8`: the LL-HLS multivariant playlist (the LL variant and its audio).
//! - `multivariant.m3u8`: the same plus the MPEG-TS variant as an alternative.
//! - `manifest.mpd`: the DASH MPD.
//! - `video.m3u8`, `audio.m3u8`: the LL-HLS media playlists.
//! - `{epoch}/init.{version}.{track}.mp4`: an init segment.
//! - `{epoch}/{seq}.{track}.m4s`: a complete segment of one track.
//! - `{epoch}/{seq}.{part}.{track}.m4s`: one part.

use ferrocast_base::Epoch;

use crate::cmaf::TrackKind;

/// The LL-HLS multivariant playlist.
pub const LL_MULTIVARIANT: &str = "index.m3u8";
/// The multivariant playlist with the MPEG-TS alternative.
pub const MULTIVARIANT: &str = "multivariant.m3u8";
/// The DASH MPD.
pub const MPD: &str = "manifest.mpd";

/// What a name under `/ll/{playback_id}/` refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlName {
    /// [`LL_MULTIVARIANT`].
    LlMultivariant,
    /// [`MULTIVARIANT`].
    Multivariant,
    /// [`MPD`].
    Mpd,
    /// A track's media playlist.
    Playlist(TrackKind),
    /// An init segment.
    Init {
        /// Session.
        epoch: Epoch,
        /// Init version within the session.
        version: u32,
        /// Track.
        track: TrackKind,
    },
    /// A complete segment of one track.
    Segment {
        /// Session.
        epoch: Epoch,
        /// Segment number within the session.
        seq: u64,
        /// Track.
        track: TrackKind,
    },
    /// One part of one track.
    Part {
        /// Session.
        epoch: Epoch,
        /// Segment number within the session.
        seq: u64,
        /// Part index within the segment.
        index: u32,
        /// Track.
        track: TrackKind,
    },
}

/// `{track}.m3u8`.
pub fn playlist(track: TrackKind) -> String {
    format!("{}.m3u8", track.name())
}

/// `{epoch}/init.{version}.{track}.mp4`.
pub fn init(epoch: Epoch, version: u32, track: TrackKind) -> String {
    format!("{}/init.{version}.{}.mp4", epoch.get(), track.name())
}

/// `{epoch}/{seq}.{track}.m4s`.
pub fn segment(epoch: Epoch, seq: u64, track: TrackKind) -> String {
    format!("{}/{seq}.{}.m4s", epoch.get(), track.name())
}

/// `{epoch}/{seq}.{index}.{track}.m4s`.
pub fn part(epoch: Epoch, seq: u64, index: u32, track: TrackKind) -> String {
    format!("{}/{seq}.{index}.{}.m4s", epoch.get(), track.name())
}

/// Parses a name relative to `/ll/{playback_id}/`; `None` for anything else.
pub fn parse(name: &str) -> Option<LlName> {
    match name {
        LL_MULTIVARIANT => return Some(LlName::LlMultivariant),
        MULTIVARIANT => return Some(LlName::Multivariant),
        MPD => return Some(LlName::Mpd),
        _ => {}
    }
    if let Some(track) = name.strip_suffix(".m3u8").and_then(track) {
        return Some(LlName::Playlist(track));
    }
    let (epoch, file) = name.split_once('/')?;
    let epoch = Epoch(number(epoch)?);
    if let Some(rest) = file.strip_prefix("init.") {
        let (version, track_mp4) = rest.split_once('.')?;
        let track = track(track_mp4.strip_suffix(".mp4")?)?;
        let version = u32::try_from(number(version)?).ok()?;
        return Some(LlName::Init {
            epoch,
            version,
            track,
        });
    }
    let stem = file.strip_suffix(".m4s")?;
    let mut fields = stem.split('.');
    let seq = number(fields.next()?)?;
    match (fields.next()?, fields.next(), fields.next()) {
        (name, None, None) => Some(LlName::Segment {
            epoch,
            seq,
            track: track(name)?,
        }),
        (index, Some(name), None) => Some(LlName::Part {
            epoch,
            seq,
            index: u32::try_from(number(index)?).ok()?,
            track: track(name)?,
        }),
        _ => None,
    }
}

/// The track a name field spells (`video`, `audio`: [`TrackKind::name`]).
pub(crate) fn track(name: &str) -> Option<TrackKind> {
    match name {
        "video" => Some(TrackKind::Video),
        "audio" => Some(TrackKind::Audio),
        _ => None,
    }
}

/// A decimal number without sign or leading zeros (one spelling per value, so one URI per
/// object for a CDN).
pub(crate) fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back() {
        let epoch = Epoch(7);
        let cases = [
            (
                init(epoch, 2, TrackKind::Video),
                LlName::Init {
                    epoch,
                    version: 2,
                    track: TrackKind::Video,
                },
            ),
            (
                segment(epoch, 11, TrackKind::Audio),
                LlName::Segment {
                    epoch,
                    seq: 11,
                    track: TrackKind::Audio,
                },
            ),
            (
                part(epoch, 11, 3, TrackKind::Video),
                LlName::Part {
                    epoch,
                    seq: 11,
                    index: 3,
                    track: TrackKind::Video,
                },
            ),
            (
                playlist(TrackKind::Audio),
                LlName::Playlist(TrackKind::Audio),
            ),
            (MPD.to_string(), LlName::Mpd),
        ];
        for (name, parsed) in cases {
            assert_eq!(parse(&name), Some(parsed), "{name}");
        }
    }

    #[test]
    fn other_spellings_are_refused() {
        for name in [
            "7/011.video.m4s",
            "7/11.video.mp4",
            "07/1.video.m4s",
            "7/1.2.3.video.m4s",
            "7/init.1.subs.mp4",
            "x/1.video.m4s",
            "7/+1.video.m4s",
            "../1.video.m4s",
        ] {
            assert_eq!(parse(name), None, "{name}");
        }
    }
}
