//! Feeds arbitrary bytes to `hevc::parse` as an HEVCDecoderConfigurationRecord, the body of
//! the Enhanced RTMP `hvc1` sequence start an HEVC publisher sends, and to
//! `hevc::sps_dimensions` as an SPS NAL unit.
//!
//! Beyond "no panic" it asserts that an accepted record has a NAL length size of 1, 2 or 4
//! and an SPS among its parameter sets, that its codec string has the RFC 6381 shape
//! (`hvc1.` then profile, compatibility, tier and level), and that any picture size read
//! from an SPS is non-empty and bounded.
#![no_main]

use ferrocast_media::hevc;
use libfuzzer_sys::fuzz_target;

/// The largest picture side `sps_dimensions` may return.
const MAX_SIDE: u32 = 16_888;

fn check_dimensions(dimensions: Option<(u32, u32)>) {
    if let Some((width, height)) = dimensions {
        assert!((1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height));
    }
}

fuzz_target!(|data: &[u8]| {
    check_dimensions(hevc::sps_dimensions(data));
    let Ok(config) = hevc::parse(data) else {
        return;
    };
    assert!(matches!(config.nal_length_size(), 1 | 2 | 4));
    assert!(
        config
            .parameter_sets()
            .any(|set| hevc::nal_type(set) == hevc::NAL_SPS)
    );
    check_dimensions(config.dimensions());
    let codec = config.codec_string();
    let fields: Vec<&str> = codec.split('.').collect();
    assert!(fields.len() >= 4 && fields.len() <= 10, "{codec}");
    assert_eq!(fields[0], "hvc1");
    assert!(
        fields[3].starts_with('L') || fields[3].starts_with('H'),
        "{codec}"
    );
});
