//! A [`Picture`] as a baseline JFIF file, straight from its YUV planes: no RGB round trip.
//! JFIF's YCbCr is full range (0–255); H.264 usually carries limited range (16–235 luma,
//! 16–240 chroma), so such samples are stretched on the way in, or blacks would print grey.
//! (BT.601 and BT.709 coefficients differ slightly in hue; a thumbnail does not tell.)

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, SamplingFactor};

use crate::ThumbnailError;
use crate::picture::Picture;

/// Encodes `picture` at `quality` (1–100) with 4:2:0 chroma, as the video has it.
pub(crate) fn encode(
    picture: &Picture,
    full_range: bool,
    quality: u8,
) -> Result<Vec<u8>, ThumbnailError> {
    let (width, height) = picture.dimensions();
    let too_large = || ThumbnailError::Encode(format!("{width}x{height} exceeds jpeg's 65535"));
    let image = Planes {
        picture,
        width: u16::try_from(width).map_err(|_| too_large())?,
        height: u16::try_from(height).map_err(|_| too_large())?,
        ranges: Ranges::new(full_range),
    };
    let mut jpeg = Vec::new();
    let mut encoder = Encoder::new(&mut jpeg, quality.clamp(1, 100));
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    encoder
        .encode_image(image)
        .map_err(|error| ThumbnailError::Encode(error.to_string()))?;
    Ok(jpeg)
}

/// Lookup tables from the video's sample range to JPEG's.
struct Ranges {
    luma: [u8; 256],
    chroma: [u8; 256],
}

impl Ranges {
    fn new(full_range: bool) -> Self {
        let identity = std::array::from_fn(|index| index as u8);
        if full_range {
            return Self {
                luma: identity,
                chroma: identity,
            };
        }
        Self {
            luma: std::array::from_fn(|index| stretch(index as i32 - 16, 255, 219, 0)),
            chroma: std::array::from_fn(|index| stretch(index as i32 - 128, 255, 224, 128)),
        }
    }
}

/// `value × numerator / denominator + offset`, rounded and clamped to a byte.
fn stretch(value: i32, numerator: i32, denominator: i32, offset: i32) -> u8 {
    let scaled = (value * numerator * 2 + denominator * value.signum()) / (denominator * 2);
    (scaled + offset).clamp(0, 255) as u8
}

/// The encoder's view of a picture: one row of each component at a time.
struct Planes<'a> {
    picture: &'a Picture,
    width: u16,
    height: u16,
    ranges: Ranges,
}

impl ImageBuffer for Planes<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    /// Appends row `y`: luma as is (range-mapped), chroma repeated per pixel pair, which the
    /// encoder averages back down to 4:2:0.
    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let width = usize::from(self.width);
        let (chroma_width, _) = self.picture.chroma_dimensions();
        let chroma_width = chroma_width as usize;
        let luma_row = usize::from(y) * width;
        let chroma_row = usize::from(y / 2) * chroma_width;
        let luma = &self.picture.y()[luma_row..luma_row + width];
        let cb = &self.picture.u()[chroma_row..chroma_row + chroma_width];
        let cr = &self.picture.v()[chroma_row..chroma_row + chroma_width];
        let [out_luma, out_cb, out_cr, _] = buffers;
        out_luma.extend(luma.iter().map(|&s| self.ranges.luma[usize::from(s)]));
        for x in 0..width {
            out_cb.push(self.ranges.chroma[usize::from(cb[x / 2])]);
            out_cr.push(self.ranges.chroma[usize::from(cr[x / 2])]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_range_maps_onto_full_range() {
        let ranges = Ranges::new(false);
        assert_eq!((ranges.luma[16], ranges.luma[235]), (0, 255));
        assert_eq!((ranges.luma[0], ranges.luma[255]), (0, 255));
        assert_eq!(
            (ranges.chroma[16], ranges.chroma[128], ranges.chroma[240]),
            (0, 128, 255)
        );
        assert_eq!(Ranges::new(true).luma[16], 16);
    }

    #[test]
    fn encodes_a_jfif_file() {
        let picture =
            Picture::new(16, 8, vec![120; 128], vec![128; 32], vec![128; 32]).expect("fits");
        let jpeg = encode(&picture, false, 80).expect("encodes");
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "SOI");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "EOI");
    }
}
