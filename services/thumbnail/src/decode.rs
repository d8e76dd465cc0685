//! One Annex-B access unit through OpenH264 into a packed [`Picture`].
//!
//! A fresh decoder per keyframe: a keyframe needs no earlier state, and a decoder that saw
//! one stream's malformed frame never sees another's. Creating one costs far less than the
//! decode itself. The decoder runs single-threaded (its default), so one thumbnail costs at
//! most one core, which is what the edge's worker pool counts on.

use openh264::decoder::{DecodedYUV, Decoder};
use openh264::formats::YUVSource;

use crate::ThumbnailError;
use crate::picture::{Picture, chroma_size, pack_plane};

/// Decodes one access unit; the picture it yields, packed.
pub(crate) fn decode(annex_b: &[u8]) -> Result<Picture, ThumbnailError> {
    let mut decoder = Decoder::new().map_err(|error| ThumbnailError::Decode(error.to_string()))?;
    let decoded = decoder
        .decode(annex_b)
        .map_err(|error| ThumbnailError::Decode(error.to_string()))?
        .ok_or_else(|| ThumbnailError::Decode("no picture from the keyframe".into()))?;
    pack(&decoded)
}

/// Copies the decoder's padded planes into a [`Picture`] of the visible size.
fn pack(decoded: &DecodedYUV<'_>) -> Result<Picture, ThumbnailError> {
    let (width, height) = decoded.dimensions();
    let (y_stride, u_stride, v_stride) = decoded.strides();
    let width_u32 = u32::try_from(width).map_err(|_| bad_size())?;
    let height_u32 = u32::try_from(height).map_err(|_| bad_size())?;
    let (chroma_width, chroma_height) = chroma_size(width_u32, height_u32);
    let (chroma_width, chroma_height) = (chroma_width as usize, chroma_height as usize);
    let y = pack_plane(decoded.y(), y_stride, width, height).ok_or_else(bad_size)?;
    let u = pack_plane(decoded.u(), u_stride, chroma_width, chroma_height).ok_or_else(bad_size)?;
    let v = pack_plane(decoded.v(), v_stride, chroma_width, chroma_height).ok_or_else(bad_size)?;
    Picture::new(width_u32, height_u32, y, u, v).ok_or_else(bad_size)
}

fn bad_size() -> ThumbnailError {
    ThumbnailError::Decode("the decoder's planes do not fit its picture size".into())
}
