//! Tests of the AV1 helpers, on the record and temporal units libaom wrote for a 170x98
//! clip (`-usage realtime -g 5`), and on hand-made variants of them.

use super::*;
use crate::test_support::hex;

/// libaom's av1C: profile 0, level 0 (2.0), main tier, 8-bit 4:2:0, and the sequence header.
const RECORD: &str = "81000c000a0a00000003b54e136be401";
/// The start of libaom's first temporal unit: the sequence header, then a key frame OBU.
const KEY_TU: &str =
    "0a0a00000003b54e136be40132ab1a10008400020820880000dd4ac9ea66ca21a9d067508948a869";
/// The start of its second: an inter frame OBU (its size field says 774 bytes).
const INTER_OBU: &str =
    "32840630038080fdf83a400059659628104a00dd3087cc26b774f60ba664c9c33313075cbea27996";

#[test]
fn parses_libaom_record() {
    let config = parse(&hex(RECORD)).unwrap();
    assert_eq!(config.dimensions(), (170, 98));
    assert_eq!(config.codec_string(), "av01.0.00M.08");
    assert_eq!(config.config_obus_len(), 12);
}

#[test]
fn codec_string_fields() {
    // Profile 1, level 5.1 (13), high tier, 10-bit.
    let mut record = hex(RECORD);
    record[1] = 1 << 5 | 13;
    record[2] = 0x80 | 0x40 | (record[2] & 0x1F);
    assert_eq!(parse(&record).unwrap().codec_string(), "av01.1.13H.10");
}

#[test]
fn refuses_bad_records() {
    assert!(parse(&[]).is_err());
    let mut wrong_marker = hex(RECORD);
    wrong_marker[0] = 0x01;
    assert!(parse(&wrong_marker).is_err());
    let without_obus = &hex(RECORD)[..4];
    assert_eq!(
        parse(without_obus),
        Err(MediaError::Invalid("av1 config without sequence header"))
    );
    let record = hex(RECORD);
    assert!(parse(&record[..record.len() - 1]).is_err(), "truncated obu");
}

#[test]
fn keyframes_and_bad_sizes() {
    let config = parse(&hex(RECORD)).unwrap();
    // The sample's tail is cut off here: rebuild each OBU's size to fit what is kept.
    let key = hex(KEY_TU);
    let mut unit = key[..12].to_vec();
    let frame = &key[12..];
    unit.push(0x32);
    unit.push(u8::try_from(frame.len() - 3).unwrap());
    unit.extend_from_slice(&frame[3..]);
    assert!(is_keyframe(&config, &unit));
    assert_eq!(check(&unit), Ok(()));
    let inter = hex(INTER_OBU);
    let mut unit = vec![0x32, u8::try_from(inter.len() - 3).unwrap()];
    unit.extend_from_slice(&inter[3..]);
    assert!(!is_keyframe(&config, &unit));
    assert_eq!(check(&unit), Ok(()));
    // The real size field (774 bytes) runs past what is here.
    assert!(check(&inter).is_err());
    assert!(!is_keyframe(&config, &inter));
    // A sequence header alone is no frame.
    assert!(!is_keyframe(&config, &key[..12]));
    // LEB128 sizes: too long, or over 32 bits.
    assert!(check(&[0x32, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).is_err());
    assert!(check(&[0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).is_err());
    assert!(check(&[0xB2, 0]).is_err(), "forbidden bit");
}
