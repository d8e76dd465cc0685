//! Feeds arbitrary bytes to `avc::to_annex_b` and `avc::contains_idr` as one AVCC access
//! unit (the payload of an AVC video tag), the conversion every H.264 frame takes on its way
//! into an HLS segment. The first input byte picks the NAL length size (1, 2, 4, or an
//! invalid 3) and whether the frame is flagged as a keyframe; the rest is the access unit.
//!
//! Beyond "no panic" it asserts that conversion fails exactly when a NAL length runs past
//! the end (or the length size is invalid), that a failure leaves the output untouched, that
//! the output has exactly one access unit delimiter first, the parameter sets on keyframes
//! without their own SPS, and every other non-empty NAL unit, each behind a 4-byte start
//! code, and that `contains_idr` agrees with the NAL types.
#![no_main]

use bytes::Bytes;
use ferrocast_media::avc::{self, DecoderConfig, NalUnits};
use libfuzzer_sys::fuzz_target;

const START_CODE_LEN: usize = 4;
/// What the output holds before the call, to prove that a failure leaves it untouched.
const SENTINEL: &[u8] = b"untouched";
/// The SPS and PPS of the seed captures (x264, 160x120, High profile): the parameter sets
/// that keyframes get in front of them.
const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0A, 0xAC, 0xB4, 0x14, 0x23, 0xF2, 0xE0, 0x22, 0x00, 0x00, 0x03, 0x00, 0x02,
    0x00, 0x00, 0x03, 0x00, 0x29, 0x1E, 0x24, 0x4D, 0x40,
];
const PPS: &[u8] = &[0x68, 0xEF, 0x0F, 0xCB];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, avcc)) = data.split_first() else {
        return;
    };
    let nal_length_size = [1, 2, 4, 3][usize::from(flags & 0x03)];
    let keyframe = flags & 0x04 != 0;
    let config = DecoderConfig {
        profile: 0x64,
        compatibility: 0,
        level: 0x0A,
        nal_length_size,
        sps: vec![Bytes::from_static(SPS)],
        pps: vec![Bytes::from_static(PPS)],
    };

    let nals: Result<Vec<&[u8]>, _> = NalUnits::new(avcc, nal_length_size).collect();
    let valid_prefix: Vec<&[u8]> = NalUnits::new(avcc, nal_length_size)
        .map_while(Result::ok)
        .collect();
    let has_idr = valid_prefix
        .iter()
        .any(|nal| avc::nal_type(nal) == avc::NAL_IDR);
    assert_eq!(avc::contains_idr(&config, avcc), has_idr);

    let mut out = SENTINEL.to_vec();
    let converted = avc::to_annex_b(&config, avcc, keyframe, &mut out);
    let Ok(nals) = nals else {
        assert!(converted.is_err(), "a bad NAL length was accepted");
        assert_eq!(out, SENTINEL, "a failed conversion wrote output");
        return;
    };
    assert!(converted.is_ok(), "{converted:?}");
    let annex_b = out.strip_prefix(SENTINEL).expect("output is appended");

    let first_aud = nals.iter().find(|nal| avc::nal_type(nal) == avc::NAL_AUD);
    let aud_len = first_aud.map_or(2, |aud| aud.len());
    let has_sps = nals.iter().any(|nal| avc::nal_type(nal) == avc::NAL_SPS);
    let parameter_sets_len = if keyframe && !has_sps {
        2 * START_CODE_LEN + SPS.len() + PPS.len()
    } else {
        0
    };
    let payload_len: usize = nals
        .iter()
        .filter(|nal| !nal.is_empty() && avc::nal_type(nal) != avc::NAL_AUD)
        .map(|nal| START_CODE_LEN + nal.len())
        .sum();
    assert_eq!(
        annex_b.len(),
        START_CODE_LEN + aud_len + parameter_sets_len + payload_len
    );
    assert_eq!(annex_b[..START_CODE_LEN], [0, 0, 0, 1]);
    assert_eq!(avc::nal_type(&annex_b[START_CODE_LEN..]), avc::NAL_AUD);
});
