//! Tests of the HEVC helpers, on the parameter sets x265 wrote for a 160x120 Main-profile
//! clip (the seed corpus's capture) and on hand-made variants of them.

use super::*;
use crate::test_support::{HEVC_PPS, HEVC_RECORD_HEADER, HEVC_SPS, HEVC_VPS, hevc_record, hex};

const VPS: &str = HEVC_VPS;
const SPS: &str = HEVC_SPS;
const PPS: &str = HEVC_PPS;
const HEADER: &str = HEVC_RECORD_HEADER;

fn record_with(header: &str, nals: &[&str]) -> Vec<u8> {
    hevc_record(header, nals)
}

fn record() -> Vec<u8> {
    record_with(HEADER, &[VPS, SPS, PPS])
}

#[test]
fn parses_x265_record() {
    let config = parse(&record()).unwrap();
    assert_eq!(config.nal_length_size(), 4);
    assert_eq!(config.dimensions(), Some((160, 120)));
    assert_eq!(config.codec_string(), "hvc1.1.6.L30.90");
    let types: Vec<u8> = config.parameter_sets().map(nal_type).collect();
    assert_eq!(types, [NAL_VPS, NAL_SPS, NAL_PPS]);
}

#[test]
fn codec_string_fields() {
    // Main 10, high tier, level 5.1 (153), profile space 1, two constraint bytes.
    let header = "0162400000009000000000b099f000fcfdf8f800000f";
    let config = parse(&record_with(header, &[SPS])).unwrap();
    assert_eq!(config.codec_string(), "hvc1.A2.2.H153.90.0.0.0.0.B0");
    // Apple's example: Main, level 3.1, progressive + frame-only constraint byte B0.
    let header = "010160000000b000000000005df000fcfdf8f800000f";
    let config = parse(&record_with(header, &[SPS])).unwrap();
    assert_eq!(config.codec_string(), "hvc1.1.6.L93.B0");
}

#[test]
fn refuses_bad_records() {
    assert!(parse(&[]).is_err());
    let mut wrong_version = record();
    wrong_version[0] = 0;
    assert_eq!(
        parse(&wrong_version),
        Err(MediaError::Invalid("hevc config version"))
    );
    let mut three_byte_lengths = record();
    three_byte_lengths[21] = 0x0E;
    assert_eq!(
        parse(&three_byte_lengths),
        Err(MediaError::Invalid("hevc nal length size"))
    );
    assert_eq!(
        parse(&record_with(HEADER, &[VPS, PPS])),
        Err(MediaError::Invalid("hevc config without sps"))
    );
    let full = record();
    assert!(parse(&full[..full.len() - 1]).is_err(), "truncated pps");
    let many = vec![PPS; MAX_NAL_UNITS + 1];
    let mut nals = vec![SPS];
    nals.extend(many);
    assert!(matches!(
        parse(&record_with(HEADER, &nals)),
        Err(MediaError::TooLarge { .. })
    ));
}

#[test]
fn sps_dimensions_apply_the_conformance_window() {
    assert_eq!(sps_dimensions(&hex(SPS)), Some((160, 120)));
    assert_eq!(sps_dimensions(&hex(PPS)), None, "not an sps");
    // Every prefix fails cleanly.
    let sps = hex(SPS);
    for len in 0..20 {
        assert_eq!(sps_dimensions(&sps[..len]), None);
    }
}

#[test]
fn irap_detection() {
    let config = parse(&record()).unwrap();
    for (nal_type, irap) in [
        (1u8, false),
        (15, false),
        (16, true),
        (19, true),
        (21, true),
        (23, true),
        (24, false),
    ] {
        let unit = [0, 0, 0, 2, nal_type << 1, 1];
        assert_eq!(contains_irap(&config, &unit), irap, "type {nal_type}");
    }
    // An SEI, then an IDR_W_RADL slice.
    let unit = [0, 0, 0, 2, 39 << 1, 1, 0, 0, 0, 2, 19 << 1, 1];
    assert!(contains_irap(&config, &unit));
    // A bad length stops the scan before the IDR.
    let unit = [0, 0, 0, 2, 1 << 1, 1, 0, 0, 9, 2, 19 << 1, 1];
    assert!(!contains_irap(&config, &unit));
}
