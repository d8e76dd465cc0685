//! Feeds arbitrary bytes to `flv::parse_video` as one video tag body (legacy codec ids,
//! AVC packets, Enhanced RTMP FourCC headers), as RTMP video messages arrive.
//!
//! Beyond "no panic" it asserts that the returned payload is exactly the body after the
//! header this codec declares (1 byte for legacy non-AVC and command frames, 5 for AVC and
//! Enhanced RTMP, 8 for Enhanced RTMP `CodedFrames` of `hvc1`/`avc1`, which carry a
//! composition time), that the composition time is a sign-extended 24-bit value and 0 where
//! none was sent, that legacy non-AVC tags carry no packet type, that Enhanced RTMP packet
//! types map as documented, and that the codec always has a printable name.
#![no_main]

use ferrocast_media::flv::{self, FrameType, VideoCodec, VideoPacket};
use libfuzzer_sys::fuzz_target;

/// Frame type, codec id and AVC packet type plus composition time, or the FourCC.
const AVC_OR_ENHANCED_HEADER_LEN: usize = 5;
/// An Enhanced RTMP header with a composition time.
const ENHANCED_WITH_CTS_LEN: usize = 8;

fuzz_target!(|body: &[u8]| {
    let Ok(tag) = flv::parse_video(body) else {
        return;
    };
    assert!(body.ends_with(tag.data), "payload is not the body's tail");
    let header_len = body.len() - tag.data.len();
    let carries_avc_packet = tag.codec == VideoCodec::Avc && tag.frame_type != FrameType::Command;
    let enhanced_with_cts = match &tag.codec {
        VideoCodec::Enhanced(fourcc) => {
            body[0] & 0x0F == 1
                && tag.frame_type != FrameType::Command
                && matches!(fourcc, b"hvc1" | b"avc1")
        }
        _ => false,
    };
    let expected_header_len = match tag.codec {
        VideoCodec::Enhanced(_) if enhanced_with_cts => ENHANCED_WITH_CTS_LEN,
        VideoCodec::Enhanced(_) => AVC_OR_ENHANCED_HEADER_LEN,
        _ if carries_avc_packet => AVC_OR_ENHANCED_HEADER_LEN,
        _ => 1,
    };
    assert_eq!(header_len, expected_header_len, "{tag:?}");
    if let VideoCodec::Enhanced(_) = tag.codec {
        let expected = match body[0] & 0x0F {
            _ if tag.frame_type == FrameType::Command => VideoPacket::Other,
            0 => VideoPacket::SequenceHeader,
            1 | 3 => VideoPacket::Nalu,
            2 => VideoPacket::EndOfSequence,
            _ => VideoPacket::Other,
        };
        assert_eq!(tag.packet, expected, "{tag:?}");
        if !enhanced_with_cts {
            assert_eq!(tag.composition_time_ms, 0);
        }
    } else if !carries_avc_packet {
        assert_eq!(tag.packet, VideoPacket::Other);
        assert_eq!(tag.composition_time_ms, 0);
    }
    assert!((-(1 << 23)..(1 << 23)).contains(&tag.composition_time_ms));
    assert_eq!(
        tag.is_keyframe(),
        matches!(tag.frame_type, FrameType::Key | FrameType::GeneratedKey)
    );
    assert!(!flv::video_codec_name(&tag.codec).is_empty());
});
