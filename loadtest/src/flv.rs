//! An incremental FLV reader for viewers: bytes in any pieces, tags out, no frame buffered.
//!
//! It keeps the 11-byte tag header and hands video bodies to [`video::Scanner`]; audio and
//! script bodies are only skipped and counted.

use crate::video::{self, VideoInfo};

/// FLV tag type of audio.
pub const TAG_AUDIO: u8 = 8;
/// FLV tag type of video.
pub const TAG_VIDEO: u8 = 9;
/// FLV tag type of script data (`onMetaData`).
pub const TAG_SCRIPT: u8 = 18;
/// Length of an FLV tag header.
pub const TAG_HEADER_LEN: usize = 11;
const FILE_HEADER_LEN: usize = 9;

/// A malformed FLV stream.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    /// The stream does not start with `FLV` version 1.
    #[error("not an FLV stream (bad signature)")]
    Signature,
    /// The header's data offset is below 9 or absurdly large.
    #[error("bad FLV data offset {0}")]
    DataOffset(u32),
    /// A tag type other than audio, video or script data.
    #[error("unknown FLV tag type {0}")]
    TagType(u8),
}

/// One complete tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// [`TAG_AUDIO`], [`TAG_VIDEO`] or [`TAG_SCRIPT`].
    pub tag_type: u8,
    /// Timestamp in milliseconds (with the extended byte).
    pub timestamp_ms: u32,
    /// Body length in bytes.
    pub size: u32,
    /// For video tags, what the body carried.
    pub video: Option<VideoInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FileHeader,
    SkipBytes { remaining: u32 },
    TagHeader,
    Body { remaining: u32 },
}

/// Reads an FLV stream piece by piece.
#[derive(Debug)]
pub struct Reader {
    state: State,
    header: [u8; TAG_HEADER_LEN],
    filled: usize,
    tag: Tag,
    scanner: video::Scanner,
}

impl Default for Reader {
    fn default() -> Self {
        Self {
            state: State::FileHeader,
            header: [0; TAG_HEADER_LEN],
            filled: 0,
            tag: Tag {
                tag_type: 0,
                timestamp_ms: 0,
                size: 0,
                video: None,
            },
            scanner: video::Scanner::default(),
        }
    }
}

impl Reader {
    /// Reads `bytes`, calling `on_tag` for every tag completed by them.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_tag: impl FnMut(Tag)) -> Result<(), FlvError> {
        while !bytes.is_empty() {
            match self.state {
                State::FileHeader => {
                    if !self.fill(&mut bytes, FILE_HEADER_LEN) {
                        return Ok(());
                    }
                    self.state = self.on_file_header()?;
                }
                State::SkipBytes { remaining } => {
                    let take = (remaining as usize).min(bytes.len());
                    bytes = &bytes[take..];
                    let remaining = remaining - take as u32;
                    self.state = if remaining == 0 {
                        State::TagHeader
                    } else {
                        State::SkipBytes { remaining }
                    };
                }
                State::TagHeader => {
                    if !self.fill(&mut bytes, TAG_HEADER_LEN) {
                        return Ok(());
                    }
                    self.on_tag_header()?;
                    if self.tag.size == 0 {
                        self.end_tag(&mut on_tag);
                    } else {
                        self.state = State::Body {
                            remaining: self.tag.size,
                        };
                    }
                }
                State::Body { remaining } => {
                    let take = (remaining as usize).min(bytes.len());
                    if self.tag.tag_type == TAG_VIDEO {
                        self.scanner.feed(&bytes[..take]);
                    }
                    bytes = &bytes[take..];
                    let remaining = remaining - take as u32;
                    if remaining == 0 {
                        self.end_tag(&mut on_tag);
                    } else {
                        self.state = State::Body { remaining };
                    }
                }
            }
        }
        Ok(())
    }

    /// Copies into the header buffer until it holds `len` bytes; true when it does.
    fn fill(&mut self, bytes: &mut &[u8], len: usize) -> bool {
        let take = (len - self.filled).min(bytes.len());
        self.header[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
        self.filled += take;
        *bytes = &bytes[take..];
        if self.filled < len {
            return false;
        }
        self.filled = 0;
        true
    }

    fn on_file_header(&self) -> Result<State, FlvError> {
        let header = &self.header;
        if &header[..3] != b"FLV" || header[3] != 1 {
            return Err(FlvError::Signature);
        }
        let offset = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
        if !(9..=1024).contains(&offset) {
            return Err(FlvError::DataOffset(offset));
        }
        // The rest of the header, then PreviousTagSize0.
        Ok(State::SkipBytes {
            remaining: offset - FILE_HEADER_LEN as u32 + 4,
        })
    }

    fn on_tag_header(&mut self) -> Result<(), FlvError> {
        let header = &self.header;
        // The top bits are reserved / the encryption filter; the type is the low five.
        let tag_type = header[0] & 0x1f;
        if ![TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT].contains(&tag_type) {
            return Err(FlvError::TagType(tag_type));
        }
        let size = u32::from_be_bytes([0, header[1], header[2], header[3]]);
        let timestamp_ms = u32::from_be_bytes([header[7], header[4], header[5], header[6]]);
        self.tag = Tag {
            tag_type,
            timestamp_ms,
            size,
            video: None,
        };
        if tag_type == TAG_VIDEO {
            self.scanner.begin();
        }
        Ok(())
    }

    fn end_tag(&mut self, on_tag: &mut impl FnMut(Tag)) {
        if self.tag.tag_type == TAG_VIDEO {
            self.tag.video = Some(self.scanner.finish());
        }
        on_tag(self.tag);
        self.state = State::SkipBytes { remaining: 4 };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::video::VideoKind;

    fn tag(tag_type: u8, timestamp_ms: u32, body: &[u8]) -> Vec<u8> {
        let tag_type = ferrocast_media::flv::TagType::from_u8(tag_type).unwrap();
        let mut out = Vec::new();
        ferrocast_media::flv::write_tag(tag_type, timestamp_ms, body, &mut out);
        out
    }

    fn stream() -> Vec<u8> {
        let mut out = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        out.extend(tag(
            TAG_SCRIPT,
            0,
            b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09",
        ));
        out.extend(tag(
            TAG_VIDEO,
            0,
            &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff],
        ));
        out.extend(tag(TAG_AUDIO, 0, &[0xaf, 0, 0x11, 0x90]));
        out.extend(tag(TAG_VIDEO, 33, &[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]));
        out.extend(tag(TAG_AUDIO, 0x0100_0021, &[0xaf, 1, 0x21]));
        out.extend(tag(TAG_VIDEO, 66, &[0x27, 1, 0, 0, 0]));
        out
    }

    fn read_all(pieces: &[&[u8]]) -> Result<Vec<Tag>, FlvError> {
        let mut reader = Reader::default();
        let mut tags = Vec::new();
        for piece in pieces {
            reader.feed(piece, |tag| tags.push(tag))?;
        }
        Ok(tags)
    }

    #[test]
    fn reads_tags_whatever_the_pieces() {
        let bytes = stream();
        let whole = read_all(&[&bytes]).unwrap();
        let types: Vec<u8> = whole.iter().map(|tag| tag.tag_type).collect();
        assert_eq!(types, [18, 9, 8, 9, 8, 9]);
        assert_eq!(whole[4].timestamp_ms, 0x0100_0021);
        assert_eq!(whole[1].video.unwrap().kind, VideoKind::Config);
        let key = whole[3].video.unwrap();
        assert!(key.keyframe && key.kind == VideoKind::Frame);
        assert!(!whole[5].video.unwrap().keyframe);
        assert_eq!(whole[2].video, None);
        for split in 0..bytes.len() {
            assert_eq!(
                read_all(&[&bytes[..split], &bytes[split..]]).unwrap(),
                whole
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read_all(&singles).unwrap(), whole);
    }

    #[test]
    fn refuses_what_is_not_flv() {
        assert_eq!(
            read_all(&[b"HTTP/1.1 200 OK\r\n"]),
            Err(FlvError::Signature)
        );
        assert_eq!(
            read_all(&[b"FLV\x01\x05\x00\x00\x00\x02"]),
            Err(FlvError::DataOffset(2))
        );
        let mut bad = stream();
        bad[13] = 0x07;
        assert_eq!(read_all(&[&bad]), Err(FlvError::TagType(7)));
    }

    #[test]
    fn a_partial_tag_yields_nothing_yet() {
        let bytes = stream();
        let cut = 13 + 11 + 5;
        assert_eq!(read_all(&[&bytes[..cut]]).unwrap(), []);
    }
}
