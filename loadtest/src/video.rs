//! What a viewer needs from an FLV/RTMP video tag body, read as it streams in: frame type,
//! whether it is a codec configuration, and our latency stamp (see [`crate::sei`]).
//!
//! The body can arrive in any number of pieces; the scanner keeps a few bytes of state and
//! never buffers a frame. It walks the AVCC NAL units only until the first coded slice, since
//! an SEI must precede the slices of its access unit.

use crate::sei::{self, MAX_STAMP_NAL_LEN};

const CODEC_AVC: u8 = 7;
const FRAME_KEY: u8 = 1;
const FRAME_COMMAND: u8 = 5;
const AVC_SEQUENCE_HEADER: u8 = 0;
const AVC_NALU: u8 = 1;
/// Bytes of the FLV video header before the AVCC NAL units: flags, packet type, composition time.
const AVC_HEADER_LEN: usize = 5;
/// Offset of `lengthSizeMinusOne` in the body of an AVC sequence header.
const LENGTH_SIZE_OFFSET: usize = AVC_HEADER_LEN + 4;

/// What a video tag turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoKind {
    /// A coded picture.
    #[default]
    Frame,
    /// Codec configuration (AVC sequence header) or end of sequence: not a picture.
    Config,
    /// A video info/command frame: not a picture.
    Command,
}

/// The summary of one video tag body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VideoInfo {
    /// What the tag carries.
    pub kind: VideoKind,
    /// The FLV frame type says keyframe.
    pub keyframe: bool,
    /// Our send-time stamp, Unix microseconds.
    pub stamp_us: Option<u64>,
}

/// Where the scanner is inside the AVCC NAL units.
#[derive(Debug, Clone, Copy)]
enum Nal {
    Length { read: u8, value: u32 },
    Header { remaining: u32 },
    Collect { remaining: u32 },
    Skip { remaining: u32 },
    Done,
}

/// Scans video tag bodies piece by piece; keeps the NAL length size across tags.
#[derive(Debug)]
pub struct Scanner {
    length_size: u8,
    offset: usize,
    prefix: [u8; LENGTH_SIZE_OFFSET + 1],
    nal: Nal,
    sei: [u8; MAX_STAMP_NAL_LEN],
    sei_len: usize,
    info: VideoInfo,
}

impl Default for Scanner {
    fn default() -> Self {
        Self {
            length_size: 4,
            offset: 0,
            prefix: [0; LENGTH_SIZE_OFFSET + 1],
            nal: Nal::Done,
            sei: [0; MAX_STAMP_NAL_LEN],
            sei_len: 0,
            info: VideoInfo::default(),
        }
    }
}

impl Scanner {
    /// Starts a new tag body.
    pub fn begin(&mut self) {
        self.offset = 0;
        self.nal = Nal::Length { read: 0, value: 0 };
        self.sei_len = 0;
        self.info = VideoInfo::default();
    }

    /// Reads the next piece of the current body.
    pub fn feed(&mut self, mut piece: &[u8]) {
        // The first bytes go through one at a time: they are kept for `finish`, and from the
        // sixth on they are NAL unit bytes too.
        while self.offset < self.prefix.len() {
            let Some((&byte, rest)) = piece.split_first() else {
                return;
            };
            piece = rest;
            let at = self.offset;
            self.prefix[at] = byte;
            self.offset += 1;
            if at == 0 {
                self.on_flags(byte);
            } else if at == 1 && self.is_avc() && byte != AVC_NALU {
                self.info.kind = VideoKind::Config;
                self.nal = Nal::Done;
            } else if at >= AVC_HEADER_LEN {
                self.walk(std::slice::from_ref(&byte));
            }
        }
        self.walk(piece);
    }

    /// Ends the current body and returns what it was.
    pub fn finish(&mut self) -> VideoInfo {
        let is_sequence_header = self.is_avc()
            && self.offset > LENGTH_SIZE_OFFSET
            && self.prefix[1] == AVC_SEQUENCE_HEADER;
        if is_sequence_header {
            self.length_size = (self.prefix[LENGTH_SIZE_OFFSET] & 0x03) + 1;
        }
        if self.offset == 0 {
            self.info.kind = VideoKind::Command;
        }
        self.nal = Nal::Done;
        self.info
    }

    /// Scans a whole body at once.
    pub fn scan(&mut self, body: &[u8]) -> VideoInfo {
        self.begin();
        self.feed(body);
        self.finish()
    }

    fn is_avc(&self) -> bool {
        self.offset >= 1 && self.prefix[0] & 0x80 == 0 && self.prefix[0] & 0x0f == CODEC_AVC
    }

    fn on_flags(&mut self, flags: u8) {
        // Enhanced RTMP sets the top bit; its frame type sits in the next three bits.
        let frame_type = if flags & 0x80 != 0 {
            (flags >> 4) & 0x07
        } else {
            flags >> 4
        };
        self.info.keyframe = frame_type == FRAME_KEY;
        if frame_type == FRAME_COMMAND {
            self.info.kind = VideoKind::Command;
        }
        if !self.is_avc() {
            self.nal = Nal::Done;
        }
    }

    /// Walks NAL unit bytes (those after the 5-byte AVC video header).
    fn walk(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.nal {
                Nal::Done => return,
                Nal::Length { read, value } => {
                    let value = (value << 8) | u32::from(bytes[0]);
                    bytes = &bytes[1..];
                    let read = read + 1;
                    self.nal = if read < self.length_size {
                        Nal::Length { read, value }
                    } else if value == 0 {
                        Nal::Length { read: 0, value: 0 }
                    } else {
                        Nal::Header { remaining: value }
                    };
                }
                Nal::Header { remaining } => {
                    let nal_type = bytes[0] & 0x1f;
                    let is_slice = (1..=5).contains(&nal_type);
                    let fits = remaining as usize <= self.sei.len();
                    self.nal = if is_slice {
                        Nal::Done
                    } else if nal_type == sei::NAL_SEI && fits {
                        self.sei_len = 0;
                        Nal::Collect { remaining }
                    } else {
                        bytes = &bytes[1..];
                        self.after_skip(remaining - 1)
                    };
                }
                Nal::Collect { remaining } => {
                    let take = (remaining as usize).min(bytes.len());
                    self.sei[self.sei_len..self.sei_len + take].copy_from_slice(&bytes[..take]);
                    self.sei_len += take;
                    bytes = &bytes[take..];
                    let remaining = remaining - take as u32;
                    if remaining > 0 {
                        self.nal = Nal::Collect { remaining };
                        continue;
                    }
                    if let Some(stamp) = sei::read_stamp(&self.sei[..self.sei_len]) {
                        self.info.stamp_us = Some(stamp);
                    }
                    self.nal = Nal::Length { read: 0, value: 0 };
                }
                Nal::Skip { remaining } => {
                    let take = (remaining as usize).min(bytes.len());
                    bytes = &bytes[take..];
                    self.nal = self.after_skip(remaining - take as u32);
                }
            }
        }
    }

    fn after_skip(&self, remaining: u32) -> Nal {
        if remaining == 0 {
            Nal::Length { read: 0, value: 0 }
        } else {
            Nal::Skip { remaining }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use bytes::{BufMut, BytesMut};

    fn sequence_header(length_size: u8) -> Vec<u8> {
        let mut body = vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xfc | (length_size - 1)];
        body.extend_from_slice(&[
            0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80,
        ]);
        body
    }

    fn stamped_frame(keyframe: bool, length_size: usize, stamp: u64) -> Vec<u8> {
        let slice: &[u8] = if keyframe {
            &[0x65, 0x88, 0x84, 0, 0, 0, 1]
        } else {
            &[0x41, 0x9a, 0x02]
        };
        let mut access_unit = BytesMut::new();
        access_unit.put_uint(2, length_size);
        access_unit.put_slice(&[0x09, 0xf0]);
        access_unit.put_uint(slice.len() as u64, length_size);
        access_unit.put_slice(slice);
        let mut nal = Vec::new();
        sei::write_stamp_nal(stamp, &mut nal);
        let mut out = BytesMut::new();
        out.put_slice(&[if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0x21]);
        sei::insert_nal(&access_unit, &nal, length_size, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn reads_the_stamp_whole_and_in_every_split() {
        let body = stamped_frame(true, 4, 0x0001_0000_0000_0300);
        let expected = VideoInfo {
            kind: VideoKind::Frame,
            keyframe: true,
            stamp_us: Some(0x0001_0000_0000_0300),
        };
        let mut scanner = Scanner::default();
        assert_eq!(scanner.scan(&body), expected);
        for split in 0..=body.len() {
            scanner.begin();
            scanner.feed(&body[..split]);
            scanner.feed(&body[split..]);
            assert_eq!(scanner.finish(), expected, "split at {split}");
        }
        scanner.begin();
        for byte in &body {
            scanner.feed(std::slice::from_ref(byte));
        }
        assert_eq!(scanner.finish(), expected);
    }

    #[test]
    fn learns_the_length_size_from_the_sequence_header() {
        let mut scanner = Scanner::default();
        let config = scanner.scan(&sequence_header(2));
        assert_eq!(config.kind, VideoKind::Config);
        assert!(config.keyframe);
        let info = scanner.scan(&stamped_frame(false, 2, 77));
        assert_eq!(info.stamp_us, Some(77));
        assert!(!info.keyframe);
    }

    #[test]
    fn frames_without_a_stamp_and_other_codecs() {
        let mut scanner = Scanner::default();
        let plain = [0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x9a];
        assert_eq!(scanner.scan(&plain).stamp_us, None);
        let vp6 = [0x14, 1, 2, 3];
        let info = scanner.scan(&vp6);
        assert_eq!(
            (info.kind, info.keyframe, info.stamp_us),
            (VideoKind::Frame, true, None)
        );
        assert_eq!(scanner.scan(&[0x57, 1]).kind, VideoKind::Command);
        assert_eq!(scanner.scan(&[]).kind, VideoKind::Command);
        // A length running past the end of the body is not an error for a viewer.
        let truncated = [0x27, 1, 0, 0, 0, 0, 0, 0, 40, 0x06, 5];
        assert_eq!(scanner.scan(&truncated).stamp_us, None);
    }
}
