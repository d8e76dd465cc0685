//! Incremental FLV stream reader: push bytes as they arrive, pull whole tags.

use bytes::{Buf, Bytes, BytesMut};

use super::{FILE_HEADER_LEN, TAG_HEADER_LEN, TagType};
use crate::MediaError;
use crate::read::ByteReader;

/// Largest tag body the reader accepts by default.
pub const MAX_TAG_BODY: usize = 16 * 1024 * 1024;

/// Largest FLV header we skip over; real files always use 9.
const MAX_HEADER_SIZE: u32 = 1024;

/// One FLV tag as read from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// What the body carries.
    pub tag_type: TagType,
    /// The full 32-bit tag timestamp in milliseconds.
    pub timestamp_ms: u32,
    /// The tag body (everything after the 11-byte tag header).
    pub body: Bytes,
}

/// Reads FLV tags from a byte stream delivered in arbitrary chunks.
///
/// Errors are fatal for the stream: the offending bytes stay buffered, so
/// calling [`Reader::next_tag`] again returns the same error.
#[derive(Debug)]
pub struct Reader {
    buffer: BytesMut,
    header_done: bool,
    max_tag_body: usize,
}

impl Default for Reader {
    fn default() -> Self {
        Self::new()
    }
}

impl Reader {
    /// A reader expecting the FLV file header first, with [`MAX_TAG_BODY`].
    pub fn new() -> Self {
        Self::with_max_tag_body(MAX_TAG_BODY)
    }

    /// A reader that refuses tag bodies longer than `max_tag_body` bytes.
    pub fn with_max_tag_body(max_tag_body: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            header_done: false,
            max_tag_body,
        }
    }

    /// Appends received bytes to the internal buffer.
    pub fn push(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// Number of bytes buffered but not yet returned as tags.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// Returns the next complete tag, or `Ok(None)` when more bytes are needed.
    pub fn next_tag(&mut self) -> Result<Option<Tag>, MediaError> {
        if !self.header_done {
            let Some(header_len) = self.file_header_len()? else {
                return Ok(None);
            };
            self.buffer.advance(header_len);
            self.header_done = true;
        }
        let Some(header) = self.buffer.get(..TAG_HEADER_LEN) else {
            return Ok(None);
        };
        let mut fields = ByteReader::new(header);
        let type_byte = fields.u8("flv tag type")?;
        let body_len = fields.u24("flv tag size")?;
        let timestamp_low = fields.u24("flv tag timestamp")?;
        let timestamp_high = fields.u8("flv tag timestamp")?;
        if type_byte & 0x20 != 0 {
            return Err(MediaError::Unsupported(
                "encrypted (filtered) flv tag".into(),
            ));
        }
        let tag_type =
            TagType::from_u8(type_byte & 0x1F).ok_or(MediaError::Invalid("flv tag type"))?;
        let body_len = body_len as usize;
        if body_len > self.max_tag_body {
            return Err(MediaError::TooLarge {
                what: "flv tag body",
                len: body_len,
                max: self.max_tag_body,
            });
        }
        let total = TAG_HEADER_LEN + body_len + 4;
        let Some(trailer) = self.buffer.get(TAG_HEADER_LEN + body_len..total) else {
            return Ok(None);
        };
        let previous_tag_size = ByteReader::new(trailer).u32("flv previous tag size")?;
        if previous_tag_size as usize != TAG_HEADER_LEN + body_len {
            return Err(MediaError::Invalid("flv previous tag size"));
        }
        self.buffer.advance(TAG_HEADER_LEN);
        let body = self.buffer.split_to(body_len).freeze();
        self.buffer.advance(4);
        Ok(Some(Tag {
            tag_type,
            timestamp_ms: (u32::from(timestamp_high) << 24) | timestamp_low,
            body,
        }))
    }

    /// Validates the buffered file header and returns how many bytes it spans
    /// (header plus PreviousTagSize0), or `None` if it is not complete yet.
    fn file_header_len(&self) -> Result<Option<usize>, MediaError> {
        let Some(fixed) = self.buffer.get(..FILE_HEADER_LEN - 4) else {
            return Ok(None);
        };
        let mut fields = ByteReader::new(fixed);
        if fields.take(3, "flv signature")? != b"FLV" {
            return Err(MediaError::Invalid("flv signature"));
        }
        if fields.u8("flv version")? != 1 {
            return Err(MediaError::Invalid("flv version"));
        }
        let _flags = fields.u8("flv flags")?;
        let header_size = fields.u32("flv header size")?;
        if !(9..=MAX_HEADER_SIZE).contains(&header_size) {
            return Err(MediaError::Invalid("flv header size"));
        }
        let total = header_size as usize + 4;
        if self.buffer.len() < total {
            return Ok(None);
        }
        Ok(Some(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::{file_header, write_tag};

    fn sample_stream() -> Vec<u8> {
        let mut data = file_header(true, true).to_vec();
        write_tag(TagType::Script, 0, b"meta", &mut data);
        write_tag(TagType::Video, 0x0100_0002, &[0x17, 0, 0, 0, 0], &mut data);
        write_tag(TagType::Audio, 23, &[], &mut data);
        data
    }

    #[test]
    fn reads_tags_byte_by_byte() {
        let data = sample_stream();
        let mut reader = Reader::new();
        let mut tags = Vec::new();
        for byte in &data {
            reader.push(std::slice::from_ref(byte));
            while let Some(tag) = reader.next_tag().unwrap() {
                tags.push(tag);
            }
        }
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[0].tag_type, TagType::Script);
        assert_eq!(&tags[0].body[..], b"meta");
        assert_eq!(tags[1].timestamp_ms, 0x0100_0002);
        assert_eq!(tags[2].tag_type, TagType::Audio);
        assert!(tags[2].body.is_empty());
        assert_eq!(reader.buffered_len(), 0);
    }

    #[test]
    fn rejects_bad_signature_and_unknown_types() {
        let mut reader = Reader::new();
        reader.push(b"FLX\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");
        assert_eq!(reader.next_tag(), Err(MediaError::Invalid("flv signature")));

        let mut data = file_header(false, true).to_vec();
        data.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
        let mut reader = Reader::new();
        reader.push(&data);
        assert_eq!(reader.next_tag(), Err(MediaError::Invalid("flv tag type")));
    }

    #[test]
    fn refuses_oversized_body_before_buffering_it() {
        let mut data = file_header(false, true).to_vec();
        data.extend_from_slice(&[9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut reader = Reader::with_max_tag_body(255);
        reader.push(&data);
        assert!(matches!(
            reader.next_tag(),
            Err(MediaError::TooLarge { len: 256, .. })
        ));
    }

    #[test]
    fn rejects_wrong_previous_tag_size() {
        let mut data = file_header(false, true).to_vec();
        write_tag(TagType::Video, 0, &[1, 2], &mut data);
        let last = data.len() - 1;
        data[last] = 99;
        let mut reader = Reader::new();
        reader.push(&data);
        assert_eq!(
            reader.next_tag(),
            Err(MediaError::Invalid("flv previous tag size"))
        );
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut reader = Reader::new();
        reader.push(&file_header(true, true));
        for seed in 0u32..2000 {
            let chunk: Vec<u8> = (0..seed % 37)
                .map(|i| (seed.wrapping_mul(31) ^ i) as u8)
                .collect();
            reader.push(&chunk);
            if reader.next_tag().is_err() {
                reader = Reader::new();
                reader.push(&file_header(true, true));
            }
        }
    }
}
