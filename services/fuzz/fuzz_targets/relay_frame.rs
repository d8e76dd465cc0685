//! Feeds `ferrocast_relay::frame_from_proto` the relay's wire message, a `MediaFrame` built
//! field by field by `arbitrary`, as an edge receives it from an origin, then serves the
//! frame as an FLV tag and as RTMP chunks the way viewers get it.
//!
//! Beyond "no panic" it asserts that an accepted frame's tag is one well-formed FLV tag
//! (type matching the frame's kind, size and trailer matching its length), since FLV viewers
//! receive it verbatim; that `Frame::body` is the tag's body; and that converting back with
//! `frame_to_proto` keeps kind, timestamp, flags and the tag bytes.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use ferrocast_live::{Frame, FrameKind};
use ferrocast_media::flv::{Reader, TagType, file_header};
use ferrocast_proto::relay::MediaFrame;
use ferrocast_relay::{frame_from_proto, frame_to_proto};
use libfuzzer_sys::fuzz_target;

/// `MediaFrame`'s fields. `arbitrary` reads them in order (integers little-endian, a bool
/// from one byte's low bit); the tag comes last, as a slice, so it is the rest of the input
/// byte for byte and seeds can hold real FLV tags.
#[derive(Debug, Arbitrary)]
struct WireFrame<'a> {
    kind: i32,
    timestamp_ms: u32,
    keyframe: bool,
    config: bool,
    sent_at_unix_us: u64,
    tag: &'a [u8],
}

/// Reads `tag` as the only tag of an FLV stream, as an HTTP-FLV viewer would.
fn read_as_flv(tag: &[u8], kind: FrameKind) -> Bytes {
    let mut reader = Reader::new();
    reader.push(&file_header(true, true));
    reader.push(tag);
    let read = reader.next_tag().expect("a well-formed FLV tag");
    let read = read.expect("a complete FLV tag");
    assert_eq!(reader.buffered_len(), 0, "bytes after the tag");
    let expected_type = match kind {
        FrameKind::Audio => TagType::Audio,
        FrameKind::Video => TagType::Video,
        FrameKind::Script => TagType::Script,
    };
    assert_eq!(read.tag_type, expected_type);
    read.body
}

fn check_frame(frame: &Frame, wire: &MediaFrame) {
    assert_eq!(frame.timestamp_ms, wire.timestamp_ms);
    assert_eq!((frame.keyframe, frame.config), (wire.keyframe, wire.config));
    assert_eq!(frame.tag, wire.tag);
    let body = read_as_flv(&frame.tag, frame.kind);
    assert_eq!(frame.body(), &body[..]);
    // Bodies over an RTMP message's 24-bit length are never sent to RTMP players.
    assert_eq!(frame.rtmp_chunks().is_empty(), body.len() >= 1 << 24);
    let back = frame_to_proto(frame.clone());
    assert_eq!(back.kind, wire.kind);
    assert_eq!(
        (back.timestamp_ms, back.keyframe, back.config),
        (wire.timestamp_ms, wire.keyframe, wire.config)
    );
    assert_eq!(
        back.tag.as_ptr(),
        frame.tag.as_ptr(),
        "tag bytes were copied"
    );
}

fuzz_target!(|input: WireFrame<'_>| {
    let wire = MediaFrame {
        kind: input.kind,
        timestamp_ms: input.timestamp_ms,
        keyframe: input.keyframe,
        config: input.config,
        tag: Bytes::copy_from_slice(input.tag),
        sent_at_unix_us: input.sent_at_unix_us,
    };
    if let Ok(frame) = frame_from_proto(wire.clone()) {
        check_frame(&frame, &wire);
    }
});
