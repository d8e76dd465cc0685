//! Feeds arbitrary bytes to `aac::parse` as an AudioSpecificConfig (the body of an AAC
//! sequence header), then builds ADTS headers from every accepted configuration, as the HLS
//! packager does for each AAC frame.
//!
//! Beyond "no panic" it asserts that an accepted configuration has a positive sample rate, a
//! finite positive frame duration and a valid or explicit sampling index, that an ADTS
//! header is refused exactly for an explicit rate, a channel configuration outside 1..=7 or
//! a frame over 8191 bytes, and that every header built decodes back to the configuration's
//! profile, sampling index, channels and the frame's length.
#![no_main]

use ferrocast_media::aac::{self, ADTS_HEADER_LEN, AudioSpecificConfig};
use libfuzzer_sys::fuzz_target;

/// Largest ADTS frame, header included (13-bit field).
const MAX_ADTS_FRAME_LEN: usize = 0x1FFF;
const EXPLICIT_RATE_INDEX: u8 = 15;

/// The fields of a 7-byte ADTS header, decoded independently of the code under test.
#[derive(Debug, PartialEq)]
struct AdtsFields {
    syncword: u16,
    protection_absent: bool,
    profile: u8,
    sampling_index: u8,
    channels: u8,
    frame_len: usize,
    buffer_fullness: u16,
    raw_blocks: u8,
}

fn decode_adts(h: &[u8; ADTS_HEADER_LEN]) -> AdtsFields {
    AdtsFields {
        syncword: u16::from(h[0]) << 4 | u16::from(h[1] >> 4),
        protection_absent: h[1] & 1 == 1,
        profile: h[2] >> 6,
        sampling_index: (h[2] >> 2) & 0x0F,
        channels: (h[2] & 1) << 2 | h[3] >> 6,
        frame_len: usize::from(h[3] & 0x03) << 11 | usize::from(h[4]) << 3 | usize::from(h[5] >> 5),
        buffer_fullness: u16::from(h[5] & 0x1F) << 6 | u16::from(h[6] >> 2),
        raw_blocks: h[6] & 0x03,
    }
}

fn expected_adts(config: &AudioSpecificConfig, payload_len: usize) -> Option<AdtsFields> {
    let frame_len = payload_len.checked_add(ADTS_HEADER_LEN)?;
    let representable = config.sampling_index != EXPLICIT_RATE_INDEX
        && (1..=7).contains(&config.channels)
        && frame_len <= MAX_ADTS_FRAME_LEN;
    representable.then(|| AdtsFields {
        syncword: 0xFFF,
        protection_absent: true,
        // Main, LC, SSR and LTP map to themselves; HE-AAC is sent as its LC core.
        profile: if (1..=4).contains(&config.object_type) {
            config.object_type - 1
        } else {
            1
        },
        sampling_index: config.sampling_index,
        channels: config.channels,
        frame_len,
        buffer_fullness: 0x7FF,
        raw_blocks: 0,
    })
}

fuzz_target!(|asc: &[u8]| {
    let Ok(config) = aac::parse(asc) else {
        return;
    };
    assert!(config.sample_rate > 0);
    assert!(config.sampling_index <= 12 || config.sampling_index == EXPLICIT_RATE_INDEX);
    let frame_ms = config.frame_duration_ms();
    assert!(frame_ms.is_finite() && frame_ms > 0.0, "{frame_ms}");
    let from_input = asc.len() * 61 % (MAX_ADTS_FRAME_LEN + 2);
    for payload_len in [0, 1, 371, from_input, 8184, 8185, usize::MAX] {
        let built = config
            .adts_header(payload_len)
            .ok()
            .map(|h| decode_adts(&h));
        assert_eq!(
            built,
            expected_adts(&config, payload_len),
            "{config:?} {payload_len}"
        );
    }
});
