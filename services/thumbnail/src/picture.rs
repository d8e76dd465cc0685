//! A decoded picture: planar YUV 4:2:0 with tightly packed rows, owned.

/// A picture in planar YUV 4:2:0 (I420): a luma plane of `width × height` and two chroma
/// planes of `⌈width/2⌉ × ⌈height/2⌉`, rows packed without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    width: u32,
    height: u32,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl Picture {
    /// A picture from its planes; `None` when a plane's length does not fit the size.
    pub fn new(width: u32, height: u32, y: Vec<u8>, u: Vec<u8>, v: Vec<u8>) -> Option<Self> {
        let luma = width as usize * height as usize;
        let (chroma_width, chroma_height) = chroma_size(width, height);
        let chroma = chroma_width as usize * chroma_height as usize;
        let fits = y.len() == luma && u.len() == chroma && v.len() == chroma;
        (fits && width > 0 && height > 0).then_some(Self {
            width,
            height,
            y,
            u,
            v,
        })
    }

    /// `(width, height)` in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// `(width, height)` of each chroma plane.
    pub fn chroma_dimensions(&self) -> (u32, u32) {
        chroma_size(self.width, self.height)
    }

    /// The luma plane.
    pub fn y(&self) -> &[u8] {
        &self.y
    }

    /// The Cb plane.
    pub fn u(&self) -> &[u8] {
        &self.u
    }

    /// The Cr plane.
    pub fn v(&self) -> &[u8] {
        &self.v
    }
}

/// The chroma plane size of a 4:2:0 picture: half, rounded up.
pub(crate) fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// Copies `rows` rows of `width` bytes out of a plane whose rows are `stride` apart; `None`
/// when the plane is too short.
pub(crate) fn pack_plane(
    plane: &[u8],
    stride: usize,
    width: usize,
    rows: usize,
) -> Option<Vec<u8>> {
    if stride < width {
        return None;
    }
    let mut packed = Vec::with_capacity(width * rows);
    for row in 0..rows {
        let start = row * stride;
        packed.extend_from_slice(plane.get(start..start + width)?);
    }
    Some(packed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_round_chroma_up() {
        let picture = Picture::new(3, 3, vec![0; 9], vec![0; 4], vec![0; 4]).expect("fits");
        assert_eq!(picture.chroma_dimensions(), (2, 2));
        assert!(Picture::new(3, 3, vec![0; 9], vec![0; 1], vec![0; 1]).is_none());
        assert!(Picture::new(0, 0, vec![], vec![], vec![]).is_none());
    }

    #[test]
    fn packing_drops_the_padding() {
        let plane = [1, 2, 0, 3, 4, 0];
        assert_eq!(pack_plane(&plane, 3, 2, 2), Some(vec![1, 2, 3, 4]));
        assert_eq!(pack_plane(&plane, 3, 2, 3), None);
    }
}
