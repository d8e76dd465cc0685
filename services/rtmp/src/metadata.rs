//! The publisher's `onMetaData`, as this crate hands it out: an owned type of our own, so that
//! no `rml_rtmp` type reaches the crates that decide what to do with it.

use rml_rtmp::sessions::StreamMetadata;

/// What a publisher announced about its stream (`@setDataFrame` / `onMetaData`); a field is
/// `None` when the encoder left it out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// Video width in pixels.
    pub width: Option<u32>,
    /// Video height in pixels.
    pub height: Option<u32>,
    /// The FLV video codec id (7 is AVC).
    pub video_codec_id: Option<u32>,
    /// Frames per second.
    pub frame_rate: Option<f32>,
    /// Video bitrate in kbit/s.
    pub video_bitrate_kbps: Option<u32>,
    /// The FLV sound format (10 is AAC).
    pub audio_codec_id: Option<u32>,
    /// Audio bitrate in kbit/s.
    pub audio_bitrate_kbps: Option<u32>,
    /// Audio sample rate in Hz.
    pub audio_sample_rate: Option<u32>,
    /// Audio channel count.
    pub audio_channels: Option<u32>,
    /// Whether the audio is stereo.
    pub stereo: Option<bool>,
    /// The encoder's name.
    pub encoder: Option<String>,
}

impl Metadata {
    /// Takes over what `rml_rtmp` decoded; kept out of the public API (no `From` impl) so
    /// that its type stays inside this crate.
    pub(crate) fn from_rml(metadata: StreamMetadata) -> Self {
        Self {
            width: metadata.video_width,
            height: metadata.video_height,
            video_codec_id: metadata.video_codec_id,
            frame_rate: metadata.video_frame_rate,
            video_bitrate_kbps: metadata.video_bitrate_kbps,
            audio_codec_id: metadata.audio_codec_id,
            audio_bitrate_kbps: metadata.audio_bitrate_kbps,
            audio_sample_rate: metadata.audio_sample_rate,
            audio_channels: metadata.audio_channels,
            stereo: metadata.audio_is_stereo,
            encoder: metadata.encoder,
        }
    }
}
