//! Frames to and from their wire form. Both sides carry the same complete FLV tag, so the
//! conversion only moves the `Bytes` handle and copies the flags.

use ferrocast_live::{Frame, FrameKind, FrameRole};
use ferrocast_proto::relay::{FrameKind as WireKind, MediaFrame};

use crate::RelayError;

/// An FLV tag's 11-byte header (type, size, timestamp, stream id) in front of its body.
const TAG_HEADER_BYTES: usize = 11;
/// The previous-tag-size field after a tag's body.
const TAG_TRAILER_BYTES: usize = 4;
/// An FLV tag is at least its header plus its trailer.
const MIN_TAG_BYTES: usize = TAG_HEADER_BYTES + TAG_TRAILER_BYTES;

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

/// A frame from its wire form (shares the tag bytes); refuses an unknown kind or a tag that is
/// not one FLV tag of that kind, since FLV viewers receive it verbatim and one wrong size
/// field would garble the rest of their stream, and a frame flagged both keyframe and
/// sequence header, which no origin sends.
pub fn frame_from_proto(message: MediaFrame) -> Result<Frame, RelayError> {
    let kind = match WireKind::try_from(message.kind) {
        Ok(WireKind::Audio) => FrameKind::Audio,
        Ok(WireKind::Video) => FrameKind::Video,
        Ok(WireKind::Script) => FrameKind::Script,
        Ok(WireKind::Unspecified) | Err(_) => {
            return Err(RelayError::InvalidFrame("unknown frame kind"));
        }
    };
    let role = match (message.keyframe, message.config) {
        (false, false) => FrameRole::Media,
        (true, false) => FrameRole::Keyframe,
        (false, true) => FrameRole::SequenceHeader,
        (true, true) => return Err(RelayError::InvalidFrame("keyframe flagged as a header")),
    };
    check_tag_framing(kind, &message.tag)?;
    Ok(Frame::from_tag(
        kind,
        role,
        message.timestamp_ms,
        message.tag,
    ))
}

/// Checks that `tag` is exactly one FLV tag: its type byte names `kind`, its size field
/// covers the bytes between header and trailer, and its trailer holds header + body length.
fn check_tag_framing(kind: FrameKind, tag: &[u8]) -> Result<(), RelayError> {
    let body_len = tag.len().checked_sub(MIN_TAG_BYTES);
    let (Some(body_len), [tag_type, s2, s1, s0, .., p3, p2, p1, p0]) = (body_len, tag) else {
        return Err(RelayError::InvalidFrame(
            "tag shorter than an FLV tag header",
        ));
    };
    if *tag_type != kind.tag_type().as_u8() {
        return Err(RelayError::InvalidFrame(
            "FLV tag type differs from the kind",
        ));
    }
    let size_field = usize::from(*s2) << 16 | usize::from(*s1) << 8 | usize::from(*s0);
    let trailer_field = u32::from_be_bytes([*p3, *p2, *p1, *p0]);
    if size_field != body_len || u32::try_from(TAG_HEADER_BYTES + body_len) != Ok(trailer_field) {
        return Err(RelayError::InvalidFrame(
            "FLV tag size fields differ from its length",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_flags_and_shares_the_tag() {
        let frame = Frame::keyframe(4321, &[0x17, 1, 0, 0, 0, 7]);
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
        let audio_config = Frame::sequence_header(FrameKind::Audio, 0, &[0xaf, 0]);
        let mut message = frame_to_proto(audio_config);
        message.kind = 0;
        assert!(frame_from_proto(message.clone()).is_err());
        message.kind = 99;
        assert!(frame_from_proto(message.clone()).is_err());
        message.kind = WireKind::Audio as i32;
        message.tag = message.tag.slice(..14);
        assert!(frame_from_proto(message).is_err());
    }

    #[test]
    fn a_keyframe_flagged_as_a_header_is_refused() {
        let mut message = frame_to_proto(Frame::keyframe(0, &[0x17, 1]));
        message.config = true;
        assert!(matches!(
            frame_from_proto(message),
            Err(RelayError::InvalidFrame(_))
        ));
    }

    /// Found by the `relay_frame` fuzz target: a 50-byte "tag" of filler with an audio kind
    /// was accepted and would have reached FLV viewers verbatim.
    #[test]
    fn fuzz_found_garbage_tag_is_refused() {
        let mut tag = vec![0x1d; 48];
        tag.extend_from_slice(&[0x00, 0xff]);
        let message = MediaFrame {
            kind: WireKind::Audio as i32,
            timestamp_ms: 0x4200_ff00,
            keyframe: false,
            config: false,
            tag: tag.into(),
            sent_at_unix_us: 0,
        };
        assert!(matches!(
            frame_from_proto(message),
            Err(RelayError::InvalidFrame(_))
        ));
    }

    #[test]
    fn tag_of_another_kind_or_with_wrong_sizes_is_refused() {
        let valid = frame_to_proto(Frame::video(7, &[0x27, 1]));
        assert!(frame_from_proto(valid.clone()).is_ok());
        let as_audio = MediaFrame {
            kind: WireKind::Audio as i32,
            ..valid.clone()
        };
        assert!(frame_from_proto(as_audio).is_err());
        for (index, wrong) in [(3, 3), (16, 12)] {
            let mut tag = valid.tag.to_vec();
            tag[index] = wrong;
            let message = MediaFrame {
                tag: tag.into(),
                ..valid.clone()
            };
            assert!(frame_from_proto(message).is_err(), "byte {index} = {wrong}");
        }
    }
}
