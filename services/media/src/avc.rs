//! H.264/AVC helpers: parsing the AVCDecoderConfigurationRecord carried in
//! FLV sequence headers and converting length-prefixed (AVCC) access units to
//! the Annex-B byte stream MPEG-TS requires.

use bytes::Bytes;

use crate::MediaError;
use crate::read::ByteReader;

/// NAL unit type of an IDR slice.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;

const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// An AUD with primary_pic_type 7 ("any slice type"), which is always valid.
const DEFAULT_AUD: [u8; 2] = [NAL_AUD, 0xF0];

/// The decoder configuration from an AVC sequence header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderConfig {
    /// AVCProfileIndication.
    pub profile: u8,
    /// profile_compatibility flags.
    pub compatibility: u8,
    /// AVCLevelIndication.
    pub level: u8,
    /// Size in bytes (1, 2 or 4) of the NAL length prefixes in access units.
    pub nal_length_size: u8,
    /// Sequence parameter set NAL units (at least one).
    pub sps: Vec<Bytes>,
    /// Picture parameter set NAL units.
    pub pps: Vec<Bytes>,
}

/// Parses an AVCDecoderConfigurationRecord (ISO 14496-15, 5.2.4.1).
pub fn parse(record: &[u8]) -> Result<DecoderConfig, MediaError> {
    let mut reader = ByteReader::new(record);
    if reader.u8("avc config version")? != 1 {
        return Err(MediaError::Invalid("avc config version"));
    }
    let profile = reader.u8("avc profile")?;
    let compatibility = reader.u8("avc compatibility")?;
    let level = reader.u8("avc level")?;
    let nal_length_size = match reader.u8("avc nal length size")? & 0x03 {
        0 => 1,
        1 => 2,
        3 => 4,
        _ => return Err(MediaError::Invalid("avc nal length size")),
    };
    // The 5-bit SPS count and 8-bit PPS count bound the loops below.
    let sps_count = reader.u8("avc sps count")? & 0x1F;
    if sps_count == 0 {
        return Err(MediaError::Invalid("avc config without sps"));
    }
    let sps = read_parameter_sets(&mut reader, sps_count)?;
    let pps_count = reader.u8("avc pps count")?;
    let pps = read_parameter_sets(&mut reader, pps_count)?;
    // Trailing high-profile extension fields are not needed for remuxing.
    Ok(DecoderConfig {
        profile,
        compatibility,
        level,
        nal_length_size,
        sps,
        pps,
    })
}

fn read_parameter_sets(reader: &mut ByteReader<'_>, count: u8) -> Result<Vec<Bytes>, MediaError> {
    let mut sets = Vec::with_capacity(count.into());
    for _ in 0..count {
        let len = reader.u16("avc parameter set length")?;
        if len == 0 {
            return Err(MediaError::Invalid("empty avc parameter set"));
        }
        sets.push(Bytes::copy_from_slice(
            reader.take(len.into(), "avc parameter set")?,
        ));
    }
    Ok(sets)
}

/// Iterates over the NAL units of a length-prefixed (AVCC) access unit.
///
/// Yields an error once, and then stops, if a length runs past the end.
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    reader: ByteReader<'a>,
    length_size: u8,
    failed: bool,
}

impl<'a> NalUnits<'a> {
    /// Iterates `avcc` using `length_size`-byte big-endian length prefixes.
    pub fn new(avcc: &'a [u8], length_size: u8) -> Self {
        Self {
            reader: ByteReader::new(avcc),
            length_size,
            failed: false,
        }
    }

    fn read_nal(&mut self) -> Result<&'a [u8], MediaError> {
        let len = match self.length_size {
            1 => usize::from(self.reader.u8("nal length")?),
            2 => usize::from(self.reader.u16("nal length")?),
            4 => self.reader.u32("nal length")? as usize,
            _ => return Err(MediaError::Invalid("avc nal length size")),
        };
        self.reader.take(len, "nal unit")
    }
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = Result<&'a [u8], MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.rest().is_empty() {
            return None;
        }
        let nal = self.read_nal();
        self.failed = nal.is_err();
        Some(nal)
    }
}

/// The nal_unit_type of a NAL unit (0 for an empty one).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |header| header & 0x1F)
}

/// Converts one AVCC access unit to Annex-B, appending to `out`.
///
/// Output order: one access unit delimiter (the input's own first AUD if it
/// has one, otherwise a generic one), then for keyframes the configured SPS
/// and PPS unless the access unit carries its own SPS, then every remaining
/// non-empty NAL unit. Each NAL gets a 4-byte start code. On error `out` is
/// left untouched.
pub fn to_annex_b(
    config: &DecoderConfig,
    avcc: &[u8],
    keyframe: bool,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    // Validate everything before writing so errors leave `out` unchanged.
    let mut first_aud = None;
    let mut has_sps = false;
    let mut payload_len = 0usize;
    for nal in NalUnits::new(avcc, config.nal_length_size) {
        let nal = nal?;
        match nal_type(nal) {
            NAL_AUD => first_aud = first_aud.or(Some(nal)),
            NAL_SPS => has_sps = true,
            _ => {}
        }
        payload_len = payload_len.saturating_add(nal.len() + START_CODE.len());
    }
    out.reserve(payload_len.saturating_add(64));
    write_nal(first_aud.unwrap_or(&DEFAULT_AUD), out);
    if keyframe && !has_sps {
        for parameter_set in config.sps.iter().chain(&config.pps) {
            write_nal(parameter_set, out);
        }
    }
    for nal in NalUnits::new(avcc, config.nal_length_size).flatten() {
        if !nal.is_empty() && nal_type(nal) != NAL_AUD {
            write_nal(nal, out);
        }
    }
    Ok(())
}

fn write_nal(nal: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&START_CODE);
    out.extend_from_slice(nal);
}

/// Whether the access unit contains an IDR slice. Malformed input is scanned
/// up to the first bad length.
pub fn contains_idr(config: &DecoderConfig, avcc: &[u8]) -> bool {
    NalUnits::new(avcc, config.nal_length_size)
        .map_while(Result::ok)
        .any(|nal| nal_type(nal) == NAL_IDR)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC];
    const PPS: &[u8] = &[0x68, 0xEE, 0x3C, 0x80];

    fn record(length_size_minus_one: u8) -> Vec<u8> {
        let mut r = vec![1, 0x64, 0, 0x1F, 0xFC | length_size_minus_one, 0xE1, 0, 5];
        r.extend_from_slice(SPS);
        r.extend_from_slice(&[1, 0, 4]);
        r.extend_from_slice(PPS);
        r
    }

    fn avcc(nals: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for nal in nals {
            out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            out.extend_from_slice(nal);
        }
        out
    }

    #[test]
    fn parses_record() {
        let config = parse(&record(3)).unwrap();
        assert_eq!(config.profile, 0x64);
        assert_eq!(config.level, 0x1F);
        assert_eq!(config.nal_length_size, 4);
        assert_eq!(config.sps, vec![Bytes::from_static(SPS)]);
        assert_eq!(config.pps, vec![Bytes::from_static(PPS)]);
        assert_eq!(parse(&record(0)).unwrap().nal_length_size, 1);
        assert_eq!(parse(&record(1)).unwrap().nal_length_size, 2);
    }

    #[test]
    fn rejects_bad_records() {
        assert_eq!(
            parse(&record(2)),
            Err(MediaError::Invalid("avc nal length size"))
        );
        let mut bad_version = record(3);
        bad_version[0] = 0;
        assert!(parse(&bad_version).is_err());
        let mut no_sps = record(3);
        no_sps[5] = 0xE0;
        assert!(parse(&no_sps).is_err());
        let full = record(3);
        for len in 0..full.len() {
            assert!(parse(&full[..len]).is_err(), "prefix {len} parsed");
        }
    }

    #[test]
    fn keyframe_gets_aud_and_parameter_sets() {
        let config = parse(&record(3)).unwrap();
        let mut out = Vec::new();
        to_annex_b(&config, &avcc(&[&[0x06, 1], &[0x65, 2, 3]]), true, &mut out).unwrap();
        let mut expected = vec![0, 0, 0, 1, 9, 0xF0, 0, 0, 0, 1];
        expected.extend_from_slice(SPS);
        expected.extend_from_slice(&[0, 0, 0, 1]);
        expected.extend_from_slice(PPS);
        expected.extend_from_slice(&[0, 0, 0, 1, 6, 1, 0, 0, 0, 1, 0x65, 2, 3]);
        assert_eq!(out, expected);
        assert!(contains_idr(&config, &avcc(&[&[0x65, 2, 3]])));
        assert!(!contains_idr(&config, &avcc(&[&[0x41, 2, 3]])));
    }

    #[test]
    fn keeps_in_band_sps_and_single_aud() {
        let config = parse(&record(3)).unwrap();
        let mut out = Vec::new();
        let input = avcc(&[&[0x67, 1], &[0x68, 2], &[9, 0x10], &[0x65, 3], &[9, 0x30]]);
        to_annex_b(&config, &input, true, &mut out).unwrap();
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 9, 0x10, 0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 3
            ]
        );
    }

    #[test]
    fn inter_frame_has_no_parameter_sets() {
        let config = parse(&record(3)).unwrap();
        let mut out = Vec::new();
        to_annex_b(&config, &avcc(&[&[0x41, 7]]), false, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 9, 0xF0, 0, 0, 0, 1, 0x41, 7]);
    }

    #[test]
    fn malformed_length_is_error_and_writes_nothing() {
        let config = parse(&record(3)).unwrap();
        let mut out = vec![42];
        let mut input = avcc(&[&[0x65, 1, 2]]);
        input.extend_from_slice(&[0, 0, 0, 9, 0x41]);
        assert!(to_annex_b(&config, &input, true, &mut out).is_err());
        assert!(to_annex_b(&config, &[0, 0], true, &mut out).is_err());
        assert_eq!(out, [42]);
    }
}
