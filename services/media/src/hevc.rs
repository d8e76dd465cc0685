//! H.265/HEVC helpers for the CMAF `hvc1` track: the HEVCDecoderConfigurationRecord
//! (ISO/IEC 14496-15 §8.3.3) an Enhanced RTMP `SequenceStart` carries, the RFC 6381 codec
//! string made from it, the picture size its SPS declares, and IRAP (keyframe) detection in
//! length-prefixed access units.
//!
//! The record is decoded by `mp4-atom`'s `hvcC` box (bounded by the input: each declared
//! NAL unit must fit in the bytes left); only the few SPS fields before the picture size are
//! read here, with every read checked.

use std::num::NonZeroUsize;

use mp4_atom::{Atom, Hvcc};

use crate::MediaError;
use crate::avc::NalUnits;

/// NAL unit type of a video parameter set.
pub const NAL_VPS: u8 = 32;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 33;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 34;
/// Bytes of an HEVC NAL unit header.
const NAL_HEADER_LEN: usize = 2;
/// Most parameter-set NAL units a record may carry: real encoders send three to five.
const MAX_NAL_UNITS: usize = 64;
/// Largest picture side accepted from an SPS (level 6.2 allows 8444 × 4752 luma).
const MAX_SIDE: u32 = 16_888;

/// The decoder configuration from an Enhanced RTMP HEVC sequence start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderConfig {
    record: Hvcc,
    dimensions: Option<(u32, u32)>,
}

/// Parses an HEVCDecoderConfigurationRecord. It must be version 1, use 1-, 2- or 4-byte NAL
/// lengths and carry an SPS.
pub fn parse(record: &[u8]) -> Result<DecoderConfig, MediaError> {
    let parsed = Hvcc::decode_body(&mut &record[..])
        .map_err(|_| MediaError::Invalid("hevc decoder configuration record"))?;
    if parsed.configuration_version != 1 {
        return Err(MediaError::Invalid("hevc config version"));
    }
    if parsed.length_size_minus_one == 2 {
        return Err(MediaError::Invalid("hevc nal length size"));
    }
    let count: usize = parsed.arrays.iter().map(|array| array.nalus.len()).sum();
    if count > MAX_NAL_UNITS {
        return Err(MediaError::TooLarge {
            what: "hevc parameter sets",
            len: count,
            max: MAX_NAL_UNITS,
        });
    }
    let sps = parsed
        .arrays
        .iter()
        .flat_map(|array| &array.nalus)
        .find(|nal| nal_type(nal) == NAL_SPS)
        .ok_or(MediaError::Invalid("hevc config without sps"))?;
    let dimensions = sps_dimensions(sps);
    Ok(DecoderConfig {
        record: parsed,
        dimensions,
    })
}

impl DecoderConfig {
    /// Size in bytes (1, 2 or 4) of the NAL length prefixes in access units.
    pub fn nal_length_size(&self) -> u8 {
        self.record.length_size_minus_one + 1
    }

    /// Width and height in pixels (after the conformance window) from the first SPS, if it
    /// could be read.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        self.dimensions
    }

    /// The record as decoded, for the `hvcC` box.
    pub(crate) fn record(&self) -> &Hvcc {
        &self.record
    }

    /// The parameter-set NAL units (VPS, SPS, PPS, SEI, in record order).
    pub fn parameter_sets(&self) -> impl Iterator<Item = &[u8]> {
        self.record
            .arrays
            .iter()
            .flat_map(|array| &array.nalus)
            .map(Vec::as_slice)
    }

    /// The RFC 6381 codec string (ISO/IEC 14496-15 Annex E), e.g. `hvc1.1.6.L93.B0`:
    /// profile space and profile, the compatibility flags bit-reversed in hex, tier and
    /// level, then the constraint bytes in hex without the trailing zero ones.
    pub fn codec_string(&self) -> String {
        use std::fmt::Write as _;

        let record = &self.record;
        let space = match record.general_profile_space {
            1 => "A",
            2 => "B",
            3 => "C",
            _ => "",
        };
        let compatibility =
            u32::from_be_bytes(record.general_profile_compatibility_flags).reverse_bits();
        let tier = if record.general_tier_flag { 'H' } else { 'L' };
        let mut codec = format!(
            "hvc1.{space}{}.{compatibility:X}.{tier}{}",
            record.general_profile_idc, record.general_level_idc
        );
        let flags = &record.general_constraint_indicator_flags;
        let kept = flags
            .iter()
            .rposition(|&byte| byte != 0)
            .map_or(0, |at| at + 1);
        for byte in &flags[..kept] {
            let _ = write!(codec, ".{byte:X}");
        }
        codec
    }
}

/// The nal_unit_type of an HEVC NAL unit (0 for an empty one).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |header| (header >> 1) & 0x3F)
}

/// Whether a NAL unit type is an IRAP picture's slice (BLA, IDR or CRA: types 16–23).
pub fn is_irap(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

/// Whether the length-prefixed access unit contains an IRAP slice. Malformed input is
/// scanned up to the first bad length.
pub fn contains_irap(config: &DecoderConfig, access_unit: &[u8]) -> bool {
    NalUnits::new(access_unit, config.nal_length_size())
        .map_while(Result::ok)
        .any(|nal| is_irap(nal_type(nal)))
}

/// Width and height in pixels that an SPS NAL unit declares (ITU-T H.265 §7.3.2.2), if it
/// can be read.
pub fn sps_dimensions(sps: &[u8]) -> Option<(u32, u32)> {
    use h264_reader::rbsp::{BitRead, BitReader, ByteReader};

    if nal_type(sps) != NAL_SPS {
        return None;
    }
    let skip = NonZeroUsize::new(NAL_HEADER_LEN)?;
    let mut bits = BitReader::new(ByteReader::skipping_bytes(sps, skip));
    bits.skip(4, "sps_video_parameter_set_id").ok()?;
    let max_sub_layers_minus1: u32 = bits.read::<3, u32>("sps_max_sub_layers_minus1").ok()?;
    bits.skip(1, "sps_temporal_id_nesting_flag").ok()?;
    skip_profile_tier_level(&mut bits, max_sub_layers_minus1)?;
    bits.read_ue("sps_seq_parameter_set_id").ok()?;
    let chroma_format_idc = bits.read_ue("chroma_format_idc").ok()?;
    let separate_planes =
        chroma_format_idc == 3 && bits.read_bit("separate_colour_plane_flag").ok()?;
    let width = bits.read_ue("pic_width_in_luma_samples").ok()?;
    let height = bits.read_ue("pic_height_in_luma_samples").ok()?;
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return None;
    }
    if !bits.read_bit("conformance_window_flag").ok()? {
        return Some((width, height));
    }
    let mut offsets = [0u32; 4];
    for offset in &mut offsets {
        *offset = bits.read_ue("conf_win_offset").ok()?;
    }
    let [left, right, top, bottom] = offsets;
    // Offsets count chroma samples: 4:2:0 halves both ways, 4:2:2 only across.
    let (unit_x, unit_y) = match (chroma_format_idc, separate_planes) {
        (1, _) => (2, 2),
        (2, _) => (2, 1),
        _ => (1, 1),
    };
    let crop_x = left.checked_add(right)?.checked_mul(unit_x)?;
    let crop_y = top.checked_add(bottom)?.checked_mul(unit_y)?;
    let width = width.checked_sub(crop_x).filter(|&w| w > 0)?;
    let height = height.checked_sub(crop_y).filter(|&h| h > 0)?;
    Some((width, height))
}

/// Skips `profile_tier_level(1, max_sub_layers_minus1)` (H.265 §7.3.3).
fn skip_profile_tier_level(
    bits: &mut impl h264_reader::rbsp::BitRead,
    max_sub_layers_minus1: u32,
) -> Option<()> {
    // General profile space, tier, profile, 32 compatibility flags, 48 bits of constraint
    // flags, then the 8-bit level.
    bits.skip(2 + 1 + 5 + 32 + 48 + 8, "general_profile_tier_level")
        .ok()?;
    let mut profile_present = [false; 8];
    let mut level_present = [false; 8];
    let sub_layers = usize::try_from(max_sub_layers_minus1).ok()?.min(7);
    for layer in 0..sub_layers {
        profile_present[layer] = bits.read_bit("sub_layer_profile_present_flag").ok()?;
        level_present[layer] = bits.read_bit("sub_layer_level_present_flag").ok()?;
    }
    if sub_layers > 0 {
        let reserved = u32::try_from(8 - sub_layers).ok()? * 2;
        bits.skip(reserved, "reserved_zero_2bits").ok()?;
    }
    for layer in 0..sub_layers {
        if profile_present[layer] {
            bits.skip(88, "sub_layer_profile").ok()?;
        }
        if level_present[layer] {
            bits.skip(8, "sub_layer_level_idc").ok()?;
        }
    }
    Some(())
}

#[cfg(test)]
#[path = "hevc_tests.rs"]
mod tests;
