//! Feeds arbitrary bytes to `avc::parse` as an AVCDecoderConfigurationRecord, the body of
//! an AVC sequence header that every H.264 publisher sends.
//!
//! Beyond "no panic" it asserts that an accepted record has at least one SPS, no empty
//! parameter set and a NAL length size of 1, 2 or 4, and that the configuration written back
//! as a record (with the reserved bits set) parses to the same configuration.
#![no_main]

use ferrocast_media::avc::{self, DecoderConfig};
use libfuzzer_sys::fuzz_target;

/// Writes `config` as a version-1 record, reserved bits set as ISO 14496-15 asks.
fn write_record(config: &DecoderConfig) -> Vec<u8> {
    let length_size_minus_one = config.nal_length_size - 1;
    let sps_count = u8::try_from(config.sps.len()).expect("at most 31 SPS were parsed");
    let pps_count = u8::try_from(config.pps.len()).expect("at most 255 PPS were parsed");
    let mut record = vec![
        1,
        config.profile,
        config.compatibility,
        config.level,
        0xFC | length_size_minus_one,
        0xE0 | sps_count,
    ];
    for sps in &config.sps {
        write_parameter_set(sps, &mut record);
    }
    record.push(pps_count);
    for pps in &config.pps {
        write_parameter_set(pps, &mut record);
    }
    record
}

fn write_parameter_set(set: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(set.len()).expect("parsed from a 16-bit length");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(set);
}

fuzz_target!(|record: &[u8]| {
    let Ok(config) = avc::parse(record) else {
        return;
    };
    assert!(matches!(config.nal_length_size, 1 | 2 | 4));
    assert!(!config.sps.is_empty() && config.sps.len() <= 31);
    assert!(
        config
            .sps
            .iter()
            .chain(&config.pps)
            .all(|set| !set.is_empty())
    );
    let rewritten = write_record(&config);
    assert!(
        rewritten.len() <= record.len(),
        "the record grew when written back"
    );
    assert_eq!(avc::parse(&rewritten), Ok(config));
});
