//! A media frame, stored once as a complete FLV tag so that every viewer shares its bytes,
//! and serialized once more as RTMP chunks when the first RTMP player needs it.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ferrocast_media::flv;
use ferrocast_rtmp::chunk;

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

impl FrameKind {
    /// The FLV tag type that carries this kind.
    pub fn tag_type(self) -> flv::TagType {
        match self {
            FrameKind::Audio => flv::TagType::Audio,
            FrameKind::Video => flv::TagType::Video,
            FrameKind::Script => flv::TagType::Script,
        }
    }
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
    /// The RTMP serialization for [`chunk::SHARED_MESSAGE_STREAM_ID`], computed by the first
    /// RTMP player and shared by the clones in the ring, the GOP cache and every player.
    rtmp: Arc<OnceLock<Bytes>>,
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
        let mut tag = Vec::with_capacity(body.len() + flv::TAG_OVERHEAD);
        flv::write_tag(kind.tag_type(), timestamp_ms, body, &mut tag);
        Self::from_tag(kind, timestamp_ms, keyframe, config, Bytes::from(tag))
    }

    /// A frame around an already serialized FLV tag (shared, not copied).
    pub fn from_tag(
        kind: FrameKind,
        timestamp_ms: u32,
        keyframe: bool,
        config: bool,
        tag: Bytes,
    ) -> Self {
        Self {
            kind,
            timestamp_ms,
            keyframe,
            config,
            tag,
            rtmp: Arc::default(),
        }
    }

    /// The frame as one RTMP message (Type 0 header, chunks of [`chunk::CHUNK_SIZE`]) on
    /// message stream [`chunk::SHARED_MESSAGE_STREAM_ID`]: serialized by the first caller,
    /// then shared. Empty for a body too long for one RTMP message, so it is never sent.
    pub fn rtmp_chunks(&self) -> &Bytes {
        self.rtmp
            .get_or_init(|| self.rtmp_chunks_on(chunk::SHARED_MESSAGE_STREAM_ID))
    }

    /// The frame as one RTMP message on `message_stream_id`, serialized now (for a player on
    /// another stream than [`chunk::SHARED_MESSAGE_STREAM_ID`]). Empty as in
    /// [`Frame::rtmp_chunks`].
    pub fn rtmp_chunks_on(&self, message_stream_id: u32) -> Bytes {
        let media = match self.kind {
            FrameKind::Audio => chunk::Media::Audio,
            FrameKind::Video => chunk::Media::Video,
            // The hub's script tag body is `onMetaData` and its array, without
            // `@setDataFrame`: the data message RTMP players expect as is.
            FrameKind::Script => chunk::Media::Data,
        };
        chunk::media_message(media, self.timestamp_ms, message_stream_id, self.body())
            .map(Bytes::from)
            .unwrap_or_default()
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

    #[test]
    fn rtmp_chunks_are_computed_once_and_shared_by_clones() {
        let frame = Frame::new(FrameKind::Audio, 20, false, false, &[0xAF, 1, 7]);
        let clone = frame.clone();
        let first = frame.rtmp_chunks().clone();
        assert_eq!(
            first,
            Bytes::from_static(&[9, 0, 0, 20, 0, 0, 3, 8, 1, 0, 0, 0, 0xAF, 1, 7])
        );
        assert_eq!(clone.rtmp_chunks().as_ptr(), first.as_ptr());
        assert_eq!(frame.rtmp_chunks_on(1), first);
        assert_eq!(&frame.rtmp_chunks_on(2)[8..12], &[2, 0, 0, 0]);
    }

    #[test]
    fn script_frames_are_amf0_data_messages() {
        let frame = Frame::new(
            FrameKind::Script,
            0,
            false,
            false,
            b"\x02\x00\x0aonMetaData",
        );
        let chunks = frame.rtmp_chunks();
        assert_eq!(chunks[7], chunk::message_type::DATA_AMF0);
        assert_eq!(&chunks[12..], frame.body());
    }
}
