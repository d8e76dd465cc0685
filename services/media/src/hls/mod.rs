//! HLS packaging: FLV audio/video tag bodies in, MPEG-TS segments, media playlists and the
//! multivariant playlist out.

mod audio;
mod multivariant;
mod packager;
mod playlist;
mod segmenter;
mod vod;
mod vod_cmaf;

pub use multivariant::{
    SegmentSize, media_playlist_name, parse_media_playlist_name, peak_bandwidth,
    render_multivariant,
};
pub use packager::{DroppedTracks, Packager, PackagerConfig};
pub use playlist::{
    Delta, Playlist, PlaylistSegment, listed_until_ms, render, render_with, shown_count,
    shown_from, target_duration_s, window_start,
};
pub use segmenter::Segment;
pub use vod::render_vod;
pub use vod_cmaf::{
    CMAF_MULTIVARIANT, CmafVodName, CmafVodSegment, parse_cmaf_vod_name, render_cmaf_vod,
    render_cmaf_vod_multivariant,
};

/// Delay (0.7 s at 90 kHz) added to every PTS and DTS written to segments.
///
/// The PCR is derived from the undelayed decode time, so it runs this far
/// ahead of the DTS: decoders following the MPEG-TS buffer model get time to
/// receive a frame before it must be decoded, and B-frame streams (whose first
/// DTS precedes their first PTS) never need negative timestamps. It is the
/// same default mux delay ffmpeg uses.
pub const PRESENTATION_DELAY_90K: u64 = 63_000;
