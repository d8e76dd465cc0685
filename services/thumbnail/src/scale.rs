//! Scaling down by area averaging (a box filter): each output sample is the mean of the
//! input samples it covers. Sharp enough for a thumbnail, free of aliasing, and it reads
//! each input sample about once, so it costs less than the decode before it.

use crate::picture::{Picture, chroma_size};

/// `picture` scaled to `width` (kept within 2 ..= its own width, made even), its height
/// following the aspect ratio (even, at least 2). A width at least the picture's returns the
/// picture as it is: thumbnails never scale up.
pub(crate) fn to_width(picture: &Picture, width: u32) -> Picture {
    let (source_width, source_height) = picture.dimensions();
    if width >= source_width {
        return picture.clone();
    }
    let target_width = even(width);
    let scaled_height =
        u64::from(source_height) * u64::from(target_width) / u64::from(source_width).max(1);
    let target_height = even(u32::try_from(scaled_height).unwrap_or(source_height));
    let (source_chroma_width, source_chroma_height) = picture.chroma_dimensions();
    let (chroma_width, chroma_height) = chroma_size(target_width, target_height);
    let luma = Plane::new(picture.y(), source_width, source_height);
    let cb = Plane::new(picture.u(), source_chroma_width, source_chroma_height);
    let cr = Plane::new(picture.v(), source_chroma_width, source_chroma_height);
    let y = luma.resize(target_width, target_height);
    let u = cb.resize(chroma_width, chroma_height);
    let v = cr.resize(chroma_width, chroma_height);
    Picture::new(target_width, target_height, y, u, v)
        .expect("resized planes have the sizes they were made with")
}

/// Even and at least 2, so the chroma planes stay exactly half.
fn even(value: u32) -> u32 {
    (value & !1).max(2)
}

struct Plane<'a> {
    samples: &'a [u8],
    width: u32,
    height: u32,
}

impl<'a> Plane<'a> {
    fn new(samples: &'a [u8], width: u32, height: u32) -> Self {
        Self {
            samples,
            width,
            height,
        }
    }

    /// The plane at `width × height` (each no larger than the plane's own), box-filtered.
    fn resize(&self, width: u32, height: u32) -> Vec<u8> {
        let columns = spans(self.width, width);
        let rows = spans(self.height, height);
        let stride = self.width as usize;
        let mut out = Vec::with_capacity(width as usize * height as usize);
        for &(top, bottom) in &rows {
            for &(left, right) in &columns {
                let mut sum = 0u64;
                for row in top..bottom {
                    let line = &self.samples[row * stride..row * stride + stride];
                    sum += line[left..right].iter().map(|&s| u64::from(s)).sum::<u64>();
                }
                let count = ((bottom - top) * (right - left)) as u64;
                // Rounded to nearest; the mean of bytes is a byte.
                out.push(((sum + count / 2) / count) as u8);
            }
        }
        out
    }
}

/// For each of `to` outputs, the half-open range of the `from` inputs it covers (never
/// empty: `to <= from`).
fn spans(from: u32, to: u32) -> Vec<(usize, usize)> {
    let (from, to) = (from as usize, to.max(1) as usize);
    (0..to)
        .map(|index| {
            let start = index * from / to;
            let end = ((index + 1) * from / to).max(start + 1);
            (start, end.min(from))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_averages_each_two_by_two_block() {
        // 4x2 luma: left half 10/30, right half 100/200 in two rows.
        let y = vec![10, 30, 100, 200, 30, 10, 200, 100];
        let picture = Picture::new(4, 2, y, vec![50, 60], vec![70, 80]).expect("fits");
        let half = to_width(&picture, 2);
        assert_eq!(half.dimensions(), (2, 2));
        // Height 2 is the floor, so only columns are averaged.
        assert_eq!(half.y(), &[20, 150, 20, 150]);
        assert_eq!(half.u(), &[55]);
        assert_eq!(half.v(), &[75]);
    }

    #[test]
    fn keeps_the_aspect_ratio_and_never_scales_up() {
        let (width, height) = (1280u32, 720u32);
        let luma = vec![128; (width * height) as usize];
        let chroma = vec![128; (width * height / 4) as usize];
        let picture = Picture::new(width, height, luma, chroma.clone(), chroma).expect("fits");
        assert_eq!(to_width(&picture, 320).dimensions(), (320, 180));
        assert_eq!(to_width(&picture, 101).dimensions(), (100, 56));
        assert_eq!(to_width(&picture, 4000).dimensions(), (1280, 720));
        assert!(to_width(&picture, 320).y().iter().all(|&s| s == 128));
    }

    #[test]
    fn spans_cover_every_input_once() {
        for (from, to) in [(10, 3), (1280, 320), (7, 7), (5, 4)] {
            let spans = spans(from, to);
            assert_eq!(spans.len(), to as usize);
            assert_eq!(spans.first().map(|s| s.0), Some(0));
            assert_eq!(spans.last().map(|s| s.1), Some(from as usize));
            assert!(spans.windows(2).all(|w| w[0].1 == w[1].0));
        }
    }
}
