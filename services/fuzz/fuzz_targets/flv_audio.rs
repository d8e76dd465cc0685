//! Feeds arbitrary bytes to `flv::parse_audio` as one audio tag body, as RTMP audio
//! messages arrive.
//!
//! Beyond "no panic" it asserts that the returned payload is exactly the body after the
//! header its sound format declares (2 bytes for AAC, 1 for everything else), that only AAC
//! can carry a sequence header, and that the codec always has a printable name.
#![no_main]

use ferrocast_media::flv::{self, AudioCodec, AudioPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(tag) = flv::parse_audio(body) else {
        return;
    };
    assert!(body.ends_with(tag.data), "payload is not the body's tail");
    let header_len = body.len() - tag.data.len();
    match tag.codec {
        AudioCodec::Aac => assert_eq!(header_len, 2),
        AudioCodec::Other(format) => {
            assert_eq!(header_len, 1);
            assert_eq!(tag.packet, AudioPacket::Raw);
            assert!(format < 16, "sound format is 4 bits");
        }
    }
    assert!(!flv::audio_codec_name(&tag.codec).is_empty());
});
