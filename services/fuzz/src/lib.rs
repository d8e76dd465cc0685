//! Helpers shared by the fuzz targets in `fuzz_targets/`: a forgiving way to cut fuzz input
//! into FLV-like frames, so that byte mutations change frame contents instead of merely
//! breaking the framing (which `flv_reader` covers on its own).

/// Bytes of the header in front of each [`LooseTag`]: the FLV tag header layout.
pub const LOOSE_TAG_HEADER_LEN: usize = 11;

/// One frame cut from fuzz input by [`loose_tags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LooseTag<'a> {
    /// The FLV tag type field (low 5 bits: 8 audio, 9 video, 18 script).
    pub tag_type: u8,
    /// The full 32-bit FLV timestamp (24 low bits, then the extension byte).
    pub timestamp_ms: u32,
    /// The body: as many bytes as the header announces, or fewer at the end of the input.
    pub body: &'a [u8],
}

/// Cuts `data` into frames laid out as FLV tags without the file header and without the
/// PreviousTagSize trailers: `type, size (u24), timestamp (u24 + u8), stream id (u24), body`.
///
/// Unlike `flv::Reader` it never refuses input: a size past the end takes what is left, and a
/// header cut short ends the iteration. That keeps the frames' boundaries stable while the
/// fuzzer mutates their bodies. `scripts/fuzz-seeds.sh` writes seeds in this layout.
pub fn loose_tags(data: &[u8]) -> impl Iterator<Item = LooseTag<'_>> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (header, after) = rest.split_at_checked(LOOSE_TAG_HEADER_LEN)?;
        let [tag_type, s2, s1, s0, t2, t1, t0, t3, ..] = *header else {
            return None;
        };
        let size = usize::from(s2) << 16 | usize::from(s1) << 8 | usize::from(s0);
        let timestamp_ms = u32::from_be_bytes([t3, t2, t1, t0]);
        let (body, next) = after.split_at(size.min(after.len()));
        rest = next;
        Some(LooseTag {
            tag_type,
            timestamp_ms,
            body,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_tags_and_stops_at_a_header_cut_short() {
        let data = [
            9, 0, 0, 2, 0, 0, 5, 1, 0, 0, 0, 0x17, 1, // video, 2 bytes, ts 0x01000005
            8, 0, 0, 1, 0, 0, 7, 0, 0, 0, 0, 0xAF, // audio, 1 byte, ts 7
            18, 0, // a header cut short
        ];
        let tags: Vec<_> = loose_tags(&data).collect();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].tag_type, 9);
        assert_eq!(tags[0].timestamp_ms, 0x0100_0005);
        assert_eq!(tags[0].body, &[0x17, 1]);
        assert_eq!((tags[1].tag_type, tags[1].timestamp_ms), (8, 7));
        assert_eq!(tags[1].body, &[0xAF]);
    }

    #[test]
    fn a_size_past_the_end_takes_what_is_left() {
        let data = [8, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0xAF, 1, 2];
        let tags: Vec<_> = loose_tags(&data).collect();
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].body, &[0xAF, 1, 2]);
    }
}
