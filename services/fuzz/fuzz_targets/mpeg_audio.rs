//! Feeds arbitrary bytes to `mpeg_audio::payload_samples` as the payload of an FLV MP3 tag,
//! as the TS packager reads each one for its duration (and `mpeg_audio::parse`, as both
//! packagers read the stream's description from it).
//!
//! Beyond "no panic" it asserts that an accepted payload starts with a frame that
//! `parse_frame` and `parse` accept alike, with one of the nine sample rates, 1 or 2
//! channels, a layer of 1 to 3 and its standard's samples per frame; that a known frame
//! length is longer than the header; and that the samples counted are whole frames
//! (multiples of 192), at most one frame per four bytes of payload.
#![no_main]

use ferrocast_media::mpeg_audio::{self, HEADER_LEN, Version};
use libfuzzer_sys::fuzz_target;

const RATES: [u32; 9] = [
    44_100, 48_000, 32_000, 22_050, 24_000, 16_000, 11_025, 12_000, 8_000,
];

fuzz_target!(|payload: &[u8]| {
    let Ok((first, samples)) = mpeg_audio::payload_samples(payload) else {
        assert!(mpeg_audio::parse_frame(payload).is_err());
        assert!(mpeg_audio::parse(payload).is_err());
        return;
    };
    let frame = mpeg_audio::parse_frame(payload).expect("accepted above");
    assert_eq!(frame.header, first);
    assert_eq!(mpeg_audio::parse(payload), Ok(first));
    assert!(RATES.contains(&first.sample_rate), "{first:?}");
    assert!((1..=2).contains(&first.channels));
    let expected_samples = match (first.version, first.layer) {
        (_, 1) => 384,
        (Version::Mpeg1, 2 | 3) | (_, 2) => 1152,
        (_, 3) => 576,
        _ => panic!("layer {} accepted", first.layer),
    };
    assert_eq!(first.samples_per_frame(), expected_samples);
    if let Some(len) = frame.len {
        assert!(len > HEADER_LEN, "{first:?}");
    }
    // Frames of 384, 576 or 1152 samples, each taking more than a header's bytes.
    assert!(samples >= u64::from(first.samples_per_frame()));
    assert_eq!(samples % 192, 0);
    assert!(samples <= (payload.len() / HEADER_LEN) as u64 * 1152);
});
