//! CMAF packaging (ADR 16): one publish session's parsed FLV frames in; per track an init
//! segment, parts (`moof`+`mdat` CMAF chunks) and the end of each segment out.
//!
//! - **Tracks.** Video and audio are separate CMAF tracks, each with its own init segment
//!   (`ftyp`+`moov` with `mvex`), as dash.js and Shaka require. Video is H.264 (`avc1`), or
//!   HEVC (`hvc1`) or AV1 (`av01`) from Enhanced RTMP (ADR 19), timescale 90 kHz; audio is AAC or MP3 (`mp4a`, timescale = its sample rate).
//! - **Segments** are cut by [`crate::cuts`], the rules of the MPEG-TS packager, so segment
//!   *n* of both renditions covers the same frames. A segment is the concatenation of its
//!   parts; its duration is the sum of theirs.
//! - **Parts.** The leading track (video, or audio in audio-only mode) closes a part before
//!   the frame that would take it past `part_target_ms`, so no part is longer than that;
//!   the last part of a segment may be shorter. The other track's part closes at the same
//!   moment with the frames that arrived meanwhile, and carries the same index and duration,
//!   so the two playlists advance together. A part is `independent` when its first frame
//!   is a keyframe (every audio part is).
//! - **Timing.** Video decode times are the session DTS in 90 kHz ticks; a frame lasts
//!   until the next one, except that a single frame never lasts longer than a part (a stall
//!   leaves a gap in decode time rather than an over-long part). The session's last video
//!   frame lasts the last frame step, as in the TS packager. Audio frames last exactly their
//!   sample count, and the audio clock follows the FLV timestamps only when they move more
//!   than a frame away from it (a gap or a jump).
//!
//! Nothing here touches I/O: the origin uploads [`SegmentEnd::tracks`] and relays each
//! [`Part`].

mod codecs;
mod describe;
mod init;
mod packager;
mod segments;
mod track;

use bytes::Bytes;

/// The MP3 frame header the MP3 track's init segment is made from ([`crate::mpeg_audio`]).
pub use crate::mpeg_audio::{
    Header as Mp3Header, Version as MpegVersion, parse as parse_mp3_header,
};
pub use describe::{InitDescription, describe_init};
pub use packager::{Config, DEFAULT_PART_TARGET_MS, Packager};

/// The 90 kHz timescale of video tracks.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// Added to every decode time written (`tfdt`), as the MPEG-TS muxer adds it to every PTS
/// and DTS ([`crate::hls::PRESENTATION_DELAY_90K`]): variants of one stream must carry
/// matching timestamps (RFC 8216 §6.2.4), or a player that switches between the CMAF and the
/// MPEG-TS variant, or aligns them (Shaka), finds no segment at the time it looks for.
pub const PRESENTATION_DELAY_MS: u64 = crate::hls::PRESENTATION_DELAY_90K / 90;

/// Session time `ms` as a video decode time: [`VIDEO_TIMESCALE`] ticks, delayed by
/// [`PRESENTATION_DELAY_MS`]. The one conversion, so cuts, ceilings and samples agree.
pub(crate) fn video_ticks(ms: u64) -> u64 {
    ms.saturating_add(PRESENTATION_DELAY_MS)
        .saturating_mul(u64::from(VIDEO_TIMESCALE) / 1_000)
}

/// One of a session's CMAF tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// The video track (track id 1).
    Video,
    /// The audio track (track id 2).
    Audio,
}

impl TrackKind {
    /// The short name used in object and part names (`video`, `audio`).
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        }
    }
}

/// A span of media time counted on a track's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaDuration {
    /// Ticks of `timescale`.
    pub ticks: u64,
    /// Ticks per second.
    pub timescale: u32,
}

impl MediaDuration {
    /// The duration in seconds.
    pub fn as_secs_f64(&self) -> f64 {
        self.ticks as f64 / f64::from(self.timescale.max(1))
    }

    /// The duration in whole milliseconds, rounded down.
    pub fn as_millis(&self) -> u64 {
        let millis = u128::from(self.ticks) * 1_000 / u128::from(self.timescale.max(1));
        u64::try_from(millis).unwrap_or(u64::MAX)
    }
}

/// What the packager produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A track's (new) init segment. It comes before the first part that needs it: at the
    /// track's first segment, and again at the first segment after its decoder
    /// configuration changed.
    Init(Init),
    /// One part of a track.
    Part(Part),
    /// Every part of a segment has been produced.
    SegmentEnd(SegmentEnd),
}

/// An init segment (`ftyp` + `moov`) of one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    /// The track.
    pub track: TrackKind,
    /// 0 for the track's first init segment of the session, then 1, 2, …
    pub version: u32,
    /// The RFC 6381 codec string, e.g. `avc1.64001f`, `hvc1.1.6.L93.B0`, `mp4a.40.2`,
    /// `mp4a.6B`.
    pub codec: String,
    /// Ticks per second of the track's timestamps.
    pub timescale: u32,
    /// Width and height in pixels from the SPS (video whose SPS could be read).
    pub dimensions: Option<(u32, u32)>,
    /// The bytes.
    pub data: Bytes,
}

/// One part: a `moof` + `mdat` of one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The track.
    pub track: TrackKind,
    /// The segment it belongs to, counted from 0 in the session (the origin adds the media
    /// sequence number of the session's first segment).
    pub seq: u64,
    /// Its index within the segment, from 0. An audio part is skipped if no audio arrived
    /// during a video part, so audio indices can have holes.
    pub index: u32,
    /// The part's duration on the leading track's timeline: the same for the video and
    /// the audio part of one index. At most the part target.
    pub duration: MediaDuration,
    /// Whether the part starts with a random access point.
    pub independent: bool,
    /// Frames (samples) in the part.
    pub samples: u32,
    /// The bytes.
    pub data: Bytes,
}

/// The end of a segment, with each track's whole segment for object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEnd {
    /// The segment, counted from 0 in the session.
    pub seq: u64,
    /// Session DTS where the segment starts (the cut), in milliseconds.
    pub start_dts_ms: u64,
    /// The sum of its parts' durations.
    pub duration: MediaDuration,
    /// How many parts (indices) it has.
    pub parts: u32,
    /// Whether its first frame is a random access point.
    pub starts_with_keyframe: bool,
    /// Each track's segment: the concatenation of that track's parts, in order.
    pub tracks: Vec<TrackSegment>,
}

/// One track's bytes of a finished segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSegment {
    /// The track.
    pub track: TrackKind,
    /// The bytes.
    pub data: Bytes,
}

#[cfg(test)]
#[path = "packager_tests/mod.rs"]
mod tests;
