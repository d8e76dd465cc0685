//! A media frame, stored once as a complete FLV tag so that every viewer shares its bytes.

use bytes::Bytes;
use ferrocast_media::flv;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// An FLV audio tag.
    Audio,
    /// An FLV video tag.
    Video,
    /// An FLV script tag (`onMetaData`).
    Script,
}

/// One frame of a live stream, serialized once as an FLV tag (header, body, previous tag size).
#[derive(Debug, Clone)]
pub struct Frame {
    /// The track.
    pub kind: FrameKind,
    /// Session-normalized decode timestamp in milliseconds.
    pub timestamp_ms: u32,
    /// A video keyframe that is not a sequence header: a viewer may start here.
    pub keyframe: bool,
    /// A codec configuration (AVC or AAC sequence header) rather than media.
    pub config: bool,
    /// The complete FLV tag, shared by every viewer.
    pub tag: Bytes,
}

impl Frame {
    /// Builds a frame from an FLV tag body.
    pub fn new(
        kind: FrameKind,
        timestamp_ms: u32,
        keyframe: bool,
        config: bool,
        body: &[u8],
    ) -> Self {
        let tag_type = match kind {
            FrameKind::Audio => flv::TagType::Audio,
            FrameKind::Video => flv::TagType::Video,
            FrameKind::Script => flv::TagType::Script,
        };
        let mut tag = Vec::with_capacity(body.len() + flv::TAG_OVERHEAD);
        flv::write_tag(tag_type, timestamp_ms, body, &mut tag);
        Self {
            kind,
            timestamp_ms,
            keyframe,
            config,
            tag: Bytes::from(tag),
        }
    }

    /// The FLV tag body (without the 11-byte header and the 4-byte trailer).
    pub fn body(&self) -> &[u8] {
        let end = self.tag.len().saturating_sub(4);
        self.tag.get(11..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_through_the_tag() {
        let frame = Frame::new(FrameKind::Video, 1234, true, false, &[0x17, 1, 0, 0, 0, 9]);
        assert_eq!(frame.body(), &[0x17, 1, 0, 0, 0, 9]);
        assert_eq!(frame.tag.len(), 6 + flv::TAG_OVERHEAD);
    }
}
