//! Why a thumbnail could not be made, sorted so that a server can answer each kind apart.

use ferrocast_media::MediaError;

/// Why a keyframe could not become a thumbnail.
#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    /// The stream's video is not H.264 (OpenH264 decodes nothing else): a client error, not
    /// a failure.
    #[error("thumbnails need H.264 video; this stream is {0}")]
    UnsupportedCodec(String),
    /// The frame given is not a keyframe, or the configuration is not a sequence header.
    #[error("not a keyframe with its decoder configuration: {0}")]
    NotAKeyframe(&'static str),
    /// The bytes do not parse (FLV video header, AVC configuration, NAL lengths, SPS).
    #[error("malformed keyframe: {0}")]
    Malformed(#[from] MediaError),
    /// The picture is larger than the caller allows decoding.
    #[error("picture {width}x{height} is larger than thumbnails decode")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// The decoder refused the access unit or produced no picture.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// The JPEG encoder failed.
    #[error("jpeg encoding failed: {0}")]
    Encode(String),
}
