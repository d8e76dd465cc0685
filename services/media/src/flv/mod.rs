//! FLV container: file header and tag writing, an incremental tag reader, and
//! parsers for the audio and video tag bodies carried over RTMP and HTTP-FLV.

mod audio;
mod reader;
mod video;

pub use audio::{AudioCodec, AudioPacket, AudioTag, audio_codec_name, parse_audio};
pub use reader::{MAX_TAG_BODY, Reader, Tag};
pub use video::{FrameType, VideoCodec, VideoPacket, VideoTag, parse_video, video_codec_name};

/// Length of the FLV file header plus the leading PreviousTagSize0 field.
pub const FILE_HEADER_LEN: usize = 13;

/// Bytes a tag adds around its body: 11-byte tag header + 4-byte PreviousTagSize.
pub const TAG_OVERHEAD: usize = 15;

/// Length of the tag header that precedes every tag body.
pub(crate) const TAG_HEADER_LEN: usize = 11;

/// The kind of payload an FLV tag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagType {
    /// Audio data (tag type 8).
    Audio,
    /// Video data (tag type 9).
    Video,
    /// AMF0 script data such as `onMetaData` (tag type 18).
    Script,
}

impl TagType {
    /// Maps the 5-bit FLV tag type field to a [`TagType`].
    pub fn from_u8(value: u8) -> Option<TagType> {
        match value {
            8 => Some(TagType::Audio),
            9 => Some(TagType::Video),
            18 => Some(TagType::Script),
            _ => None,
        }
    }

    /// The FLV tag type field value.
    pub fn as_u8(self) -> u8 {
        match self {
            TagType::Audio => 8,
            TagType::Video => 9,
            TagType::Script => 18,
        }
    }
}

/// Builds the 9-byte FLV file header followed by PreviousTagSize0 (= 0).
pub fn file_header(has_audio: bool, has_video: bool) -> [u8; FILE_HEADER_LEN] {
    let flags = (u8::from(has_audio) << 2) | u8::from(has_video);
    [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
}

/// Appends one complete tag (header, body, PreviousTagSize) to `out`.
///
/// The data size field is 24 bits wide, so `body` must be shorter than
/// 16 MiB; RTMP message lengths are 24-bit too, so bodies relayed from RTMP
/// always fit. Longer bodies would produce a corrupt size field.
pub fn write_tag(tag_type: TagType, timestamp_ms: u32, body: &[u8], out: &mut Vec<u8>) {
    let size = u32::try_from(body.len()).unwrap_or(u32::MAX) & 0x00FF_FFFF;
    let [_, s2, s1, s0] = size.to_be_bytes();
    // FLV splits the timestamp: the low 24 bits first, then the high byte.
    let [t3, t2, t1, t0] = timestamp_ms.to_be_bytes();
    out.reserve(TAG_OVERHEAD + body.len());
    out.extend_from_slice(&[tag_type.as_u8(), s2, s1, s0, t2, t1, t0, t3, 0, 0, 0]);
    out.extend_from_slice(body);
    let previous_tag_size = (TAG_HEADER_LEN as u32).wrapping_add(size);
    out.extend_from_slice(&previous_tag_size.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_type_round_trips() {
        for t in [TagType::Audio, TagType::Video, TagType::Script] {
            assert_eq!(TagType::from_u8(t.as_u8()), Some(t));
        }
        assert_eq!(TagType::from_u8(7), None);
    }

    #[test]
    fn file_header_layout() {
        assert_eq!(
            file_header(true, true),
            [b'F', b'L', b'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]
        );
        assert_eq!(file_header(true, false)[4], 4);
        assert_eq!(file_header(false, true)[4], 1);
    }

    #[test]
    fn write_tag_splits_extended_timestamp() {
        let mut out = Vec::new();
        write_tag(TagType::Video, 0x1234_5678, &[0xAA, 0xBB], &mut out);
        assert_eq!(
            out,
            [
                9, 0, 0, 2, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 0xAA, 0xBB, 0, 0, 0, 13
            ]
        );
        assert_eq!(out.len(), TAG_OVERHEAD + 2);
    }
}
