//! Thumbnails: one H.264 keyframe in, one JPEG out (ADR 23).
//!
//! Synchronous and free of I/O: the caller decides where the work runs (the edge runs it on
//! one low-priority thread of its own, never on the async runtime). The input is checked by
//! our own parsers first ([`Keyframe`]: the FLV video tag, the AVC decoder configuration, the
//! SPS and its picture size), then decoded by OpenH264 ([`decode`]), optionally scaled down
//! ([`scale`]) and encoded by a pure-Rust JPEG encoder ([`jpeg`]).
//!
//! Three ways in, so that every source of a keyframe can use the same step: FLV tag bodies
//! (what a live hub holds), an AVC decoder configuration record plus an access unit in AVCC
//! form (what FLV and MP4/CMAF carry), or an Annex-B access unit (what an MPEG-TS segment
//! carries, parameter sets inline).

mod decode;
mod error;
mod input;
mod jpeg;
mod picture;
mod scale;

pub use error::ThumbnailError;
pub use input::Keyframe;
pub use picture::Picture;

/// Bounds on the output width a caller may ask for (`?width=`).
pub const WIDTH_RANGE: std::ops::RangeInclusive<u32> = 16..=1920;

/// What to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Scale down to this width, keeping the aspect ratio; `None` (or a width at least the
    /// picture's) keeps the stream's own size. Never scales up.
    pub width: Option<u32>,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// Largest picture (width × height, as the SPS declares it) that is decoded at all; a
    /// larger one is refused before the decoder sees it.
    pub max_pixels: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            width: None,
            quality: 80,
            // 4096 × 2304 (4K UHD and DCI 4K at 16:9).
            max_pixels: 4096 * 2304,
        }
    }
}

/// A rendered thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The JPEG file.
    pub jpeg: Vec<u8>,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

impl Keyframe {
    /// Decodes the keyframe and encodes it as a JPEG: the expensive step (a 720p keyframe
    /// takes milliseconds to tens of milliseconds of one core).
    pub fn render(&self, options: &Options) -> Result<Thumbnail, ThumbnailError> {
        let (width, height) = self.dimensions();
        if u64::from(width) * u64::from(height) > options.max_pixels {
            return Err(ThumbnailError::TooLarge { width, height });
        }
        let decoded = decode::decode(self.annex_b())?;
        if decoded.dimensions() != (width, height) {
            return Err(ThumbnailError::Decode(format!(
                "decoded {:?}, the SPS declares {width}x{height}",
                decoded.dimensions()
            )));
        }
        let picture = match options.width {
            Some(target) => scale::to_width(&decoded, target),
            None => decoded,
        };
        let jpeg = jpeg::encode(&picture, self.full_range(), options.quality)?;
        let (width, height) = picture.dimensions();
        Ok(Thumbnail {
            jpeg,
            width,
            height,
        })
    }
}
