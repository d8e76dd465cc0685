//! Feeds arbitrary bytes to `av1::parse` as an AV1CodecConfigurationRecord, the body of the
//! Enhanced RTMP `av01` sequence start an AV1 publisher sends, and, with the first accepted
//! configuration of the seeds, the same bytes to `av1::check` and `av1::is_keyframe` as a
//! temporal unit.
//!
//! Beyond "no panic" it asserts that an accepted record has the RFC 6381 shape of codec
//! string (`av01.P.LLT.DD`) and a bounded, non-empty picture size, and that a temporal unit
//! whose first OBU `check` refuses is not a key frame.
#![no_main]

use ferrocast_media::av1;
use libfuzzer_sys::fuzz_target;

/// The largest picture side `av1::parse` accepts.
const MAX_SIDE: u32 = 16_384;
/// libaom's record for a 170x98 clip, to read temporal units with.
const RECORD: [u8; 16] = [
    0x81, 0x00, 0x0c, 0x00, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x03, 0xb5, 0x4e, 0x13, 0x6b, 0xe4, 0x01,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = av1::parse(data) {
        let codec = config.codec_string();
        let fields: Vec<&str> = codec.split('.').collect();
        assert_eq!(fields.len(), 4, "{codec}");
        assert_eq!(fields[0], "av01");
        assert!(
            fields[2].ends_with('M') || fields[2].ends_with('H'),
            "{codec}"
        );
        assert!(matches!(fields[3], "08" | "10" | "12"), "{codec}");
        let (width, height) = config.dimensions();
        assert!((1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height));
    }
    let config = av1::parse(&RECORD).expect("libaom's record");
    let keyframe = av1::is_keyframe(&config, data);
    let first_obu_refused = data.first().is_some_and(|&header| header & 0x80 != 0);
    if first_obu_refused {
        assert!(av1::check(data).is_err() && !keyframe);
    }
});
