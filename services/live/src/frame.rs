//! A media frame, stored once as a complete FLV tag so that every viewer shares its bytes,
//! and serialized once more as RTMP chunks when the first RTMP player needs it.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ferrocast_media::flv;
use ferrocast_media::rtmp_chunk;

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

/// What a frame is to a decoder that joins the stream: the two flags of [`Frame`], named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRole {
    /// Media a decoder cannot start at (or a script tag).
    Media,
    /// A video keyframe that is not a sequence header: a viewer may start here.
    Keyframe,
    /// A codec configuration (AVC or AAC sequence header) rather than media.
    SequenceHeader,
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
    /// The RTMP serialization for [`rtmp_chunk::SHARED_MESSAGE_STREAM_ID`], computed by the
    /// first RTMP player and shared by the clones in the ring, the GOP cache and every player.
    rtmp: Arc<OnceLock<Bytes>>,
}

impl Frame {
    /// An audio frame (not a sequence header).
    pub fn audio(timestamp_ms: u32, body: &[u8]) -> Self {
        Self::with_role(FrameKind::Audio, FrameRole::Media, timestamp_ms, body)
    }

    /// A video frame that is neither a keyframe nor a sequence header.
    pub fn video(timestamp_ms: u32, body: &[u8]) -> Self {
        Self::with_role(FrameKind::Video, FrameRole::Media, timestamp_ms, body)
    }

    /// A video keyframe: a viewer may start here.
    pub fn keyframe(timestamp_ms: u32, body: &[u8]) -> Self {
        Self::with_role(FrameKind::Video, FrameRole::Keyframe, timestamp_ms, body)
    }

    /// The codec configuration of the `kind` track (an AVC or AAC sequence header).
    pub fn sequence_header(kind: FrameKind, timestamp_ms: u32, body: &[u8]) -> Self {
        Self::with_role(kind, FrameRole::SequenceHeader, timestamp_ms, body)
    }

    /// A script frame (`onMetaData`).
    pub fn script(timestamp_ms: u32, body: &[u8]) -> Self {
        Self::with_role(FrameKind::Script, FrameRole::Media, timestamp_ms, body)
    }

    /// Builds a frame from an FLV tag body, for a role known only at run time.
    pub fn with_role(kind: FrameKind, role: FrameRole, timestamp_ms: u32, body: &[u8]) -> Self {
        let mut tag = Vec::with_capacity(body.len() + flv::TAG_OVERHEAD);
        flv::write_tag(kind.tag_type(), timestamp_ms, body, &mut tag);
        Self::from_tag(kind, role, timestamp_ms, Bytes::from(tag))
    }

    /// A frame around an already serialized FLV tag (shared, not copied).
    pub fn from_tag(kind: FrameKind, role: FrameRole, timestamp_ms: u32, tag: Bytes) -> Self {
        Self {
            kind,
            timestamp_ms,
            keyframe: role == FrameRole::Keyframe,
            config: role == FrameRole::SequenceHeader,
            tag,
            rtmp: Arc::default(),
        }
    }

    /// What the frame is to a joining decoder.
    pub fn role(&self) -> FrameRole {
        if self.config {
            FrameRole::SequenceHeader
        } else if self.keyframe {
            FrameRole::Keyframe
        } else {
            FrameRole::Media
        }
    }

    /// The same frame at another timestamp: its tag is written again, since the FLV tag
    /// carries the timestamp.
    pub fn retimed(&self, timestamp_ms: u32) -> Self {
        Self::with_role(self.kind, self.role(), timestamp_ms, self.body())
    }

    /// The frame as one RTMP message (Type 0 header, chunks of [`rtmp_chunk::CHUNK_SIZE`]) on
    /// message stream [`rtmp_chunk::SHARED_MESSAGE_STREAM_ID`]: serialized by the first
    /// caller, then shared. Empty for a body too long for one RTMP message, so it is never
    /// sent.
    pub fn rtmp_chunks(&self) -> &Bytes {
        self.rtmp
            .get_or_init(|| self.rtmp_chunks_on(rtmp_chunk::SHARED_MESSAGE_STREAM_ID))
    }

    /// The frame as one RTMP message on `message_stream_id`, serialized now (for a player on
    /// another stream than [`rtmp_chunk::SHARED_MESSAGE_STREAM_ID`]). Empty as in
    /// [`Frame::rtmp_chunks`].
    pub fn rtmp_chunks_on(&self, message_stream_id: u32) -> Bytes {
        let media = match self.kind {
            FrameKind::Audio => rtmp_chunk::Media::Audio,
            FrameKind::Video => rtmp_chunk::Media::Video,
            // The hub's script tag body is `onMetaData` and its array, without
            // `@setDataFrame`: the data message RTMP players expect as is.
            FrameKind::Script => rtmp_chunk::Media::Data,
        };
        rtmp_chunk::media_message(media, self.timestamp_ms, message_stream_id, self.body())
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
        let frame = Frame::keyframe(1234, &[0x17, 1, 0, 0, 0, 9]);
        assert_eq!(frame.body(), &[0x17, 1, 0, 0, 0, 9]);
        assert_eq!(frame.tag.len(), 6 + flv::TAG_OVERHEAD);
    }

    #[test]
    fn named_constructors_set_kind_and_role() {
        let body = [0x17, 0];
        let cases = [
            (Frame::audio(0, &body), FrameKind::Audio, FrameRole::Media),
            (Frame::video(0, &body), FrameKind::Video, FrameRole::Media),
            (
                Frame::keyframe(0, &body),
                FrameKind::Video,
                FrameRole::Keyframe,
            ),
            (Frame::script(0, &body), FrameKind::Script, FrameRole::Media),
            (
                Frame::sequence_header(FrameKind::Audio, 0, &body),
                FrameKind::Audio,
                FrameRole::SequenceHeader,
            ),
        ];
        for (frame, kind, role) in cases {
            assert_eq!((frame.kind, frame.role()), (kind, role));
        }
        let header = Frame::sequence_header(FrameKind::Video, 0, &body);
        assert!(header.config && !header.keyframe);
    }

    #[test]
    fn a_retimed_frame_keeps_its_role_and_body() {
        let frame = Frame::keyframe(40, &[0x17, 1, 0, 0, 0, 9]);
        let later = frame.retimed(900);
        assert_eq!(
            (later.timestamp_ms, later.role()),
            (900, FrameRole::Keyframe)
        );
        assert_eq!(later.body(), frame.body());
        assert_eq!(later.tag, Frame::keyframe(900, frame.body()).tag);
    }

    #[test]
    fn rtmp_chunks_are_computed_once_and_shared_by_clones() {
        let frame = Frame::audio(20, &[0xAF, 1, 7]);
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
        let frame = Frame::script(0, b"\x02\x00\x0aonMetaData");
        let chunks = frame.rtmp_chunks();
        assert_eq!(chunks[7], rtmp_chunk::message_type::DATA_AMF0);
        assert_eq!(&chunks[12..], frame.body());
    }
}
