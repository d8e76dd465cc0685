//! Frames to and from their wire form. Both sides carry the same complete FLV tag, so the
//! conversion only moves the `Bytes` handle and copies the flags.

use ferrocast_live::{Frame, FrameKind};
use ferrocast_proto::relay::{FrameKind as WireKind, MediaFrame};

use crate::RelayError;

/// An FLV tag is at least its 11-byte header plus the 4-byte previous-tag-size trailer.
const MIN_TAG_BYTES: usize = 15;

/// The wire form of a frame (shares the tag bytes).
pub fn frame_to_proto(frame: Frame) -> MediaFrame {
    let kind = match frame.kind {
        FrameKind::Audio => WireKind::Audio,
        FrameKind::Video => WireKind::Video,
        FrameKind::Script => WireKind::Script,
    };
    MediaFrame {
        kind: kind as i32,
        timestamp_ms: frame.timestamp_ms,
        keyframe: frame.keyframe,
        config: frame.config,
        tag: frame.tag,
        sent_at_unix_us: crate::metrics::unix_micros(),
    }
}

/// A frame from its wire form (shares the tag bytes); refuses an unknown kind or a tag too
/// short to be an FLV tag, since viewers would receive it verbatim.
pub fn frame_from_proto(message: MediaFrame) -> Result<Frame, RelayError> {
    let kind = match WireKind::try_from(message.kind) {
        Ok(WireKind::Audio) => FrameKind::Audio,
        Ok(WireKind::Video) => FrameKind::Video,
        Ok(WireKind::Script) => FrameKind::Script,
        Ok(WireKind::Unspecified) | Err(_) => {
            return Err(RelayError::InvalidFrame("unknown frame kind"));
        }
    };
    if message.tag.len() < MIN_TAG_BYTES {
        return Err(RelayError::InvalidFrame(
            "tag shorter than an FLV tag header",
        ));
    }
    Ok(Frame::from_tag(
        kind,
        message.timestamp_ms,
        message.keyframe,
        message.config,
        message.tag,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_flags_and_shares_the_tag() {
        let frame = Frame::new(FrameKind::Video, 4321, true, false, &[0x17, 1, 0, 0, 0, 7]);
        let tag_ptr = frame.tag.as_ptr();
        let back = frame_from_proto(frame_to_proto(frame.clone())).unwrap();
        assert_eq!(back.kind, FrameKind::Video);
        assert_eq!(back.timestamp_ms, 4321);
        assert!(back.keyframe && !back.config);
        assert_eq!(back.tag, frame.tag);
        assert_eq!(back.tag.as_ptr(), tag_ptr);
    }

    #[test]
    fn unknown_kind_and_short_tag_are_refused() {
        let mut message = frame_to_proto(Frame::new(FrameKind::Audio, 0, false, true, &[0xaf, 0]));
        message.kind = 0;
        assert!(frame_from_proto(message.clone()).is_err());
        message.kind = 99;
        assert!(frame_from_proto(message.clone()).is_err());
        message.kind = WireKind::Audio as i32;
        message.tag = message.tag.slice(..14);
        assert!(frame_from_proto(message).is_err());
    }
}
