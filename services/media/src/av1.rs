//! AV1 helpers for the CMAF `av01` track: the AV1CodecConfigurationRecord (`av1C`) an
//! Enhanced RTMP `av01` sequence start carries, the RFC 6381 codec string made from it, the
//! picture size its sequence header OBU declares, and keyframe detection in temporal units
//! (the low-overhead OBU format, each OBU with its size).
//!
//! The record's four fixed bytes are decoded by `mp4-atom`'s `av1C` box; the OBUs are walked
//! here, with every length and every bit read checked.

use h264_reader::rbsp::{BitRead, BitReader};
use mp4_atom::{Atom, Av1c};

use crate::MediaError;

/// OBU type of a sequence header.
pub const OBU_SEQUENCE_HEADER: u8 = 1;
/// OBU type of a frame header.
pub const OBU_FRAME_HEADER: u8 = 3;
/// OBU type of a frame (header and tile group).
pub const OBU_FRAME: u8 = 6;
/// `frame_type` of a key frame.
const KEY_FRAME: u32 = 0;
/// Largest picture side accepted (AV1 allows 65536; level 6.3 means 16384 x 8704).
const MAX_SIDE: u32 = 16_384;
/// Most bytes a LEB128 value may take (AV1 §4.10.5).
const MAX_LEB128_BYTES: usize = 8;

/// The decoder configuration from an Enhanced RTMP AV1 sequence start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderConfig {
    record: Av1c,
    sequence: SequenceHeader,
}

/// What the packagers need from a sequence header OBU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SequenceHeader {
    reduced_still_picture_header: bool,
    dimensions: (u32, u32),
}

/// Parses an AV1CodecConfigurationRecord. It must carry a sequence header OBU that can be
/// read.
pub fn parse(record: &[u8]) -> Result<DecoderConfig, MediaError> {
    let parsed = Av1c::decode_body(&mut &record[..])
        .map_err(|_| MediaError::Invalid("av1 codec configuration record"))?;
    let mut sequence = None;
    for obu in Obus::new(&parsed.config_obus) {
        let (obu_type, payload) = obu?;
        if obu_type == OBU_SEQUENCE_HEADER {
            sequence =
                Some(sequence_header(payload).ok_or(MediaError::Invalid("av1 sequence header"))?);
            break;
        }
    }
    let sequence = sequence.ok_or(MediaError::Invalid("av1 config without sequence header"))?;
    Ok(DecoderConfig {
        record: parsed,
        sequence,
    })
}

impl DecoderConfig {
    /// Width and height in pixels (the sequence's largest frame).
    pub fn dimensions(&self) -> (u32, u32) {
        self.sequence.dimensions
    }

    /// The record as decoded, for the `av1C` box.
    pub(crate) fn record(&self) -> &Av1c {
        &self.record
    }

    /// The configuration OBUs' length.
    pub fn config_obus_len(&self) -> usize {
        self.record.config_obus.len()
    }

    /// The RFC 6381 codec string (AV1 ISOBMFF binding §5), short form: `av01.0.04M.08`
    /// (profile, level and tier, bit depth).
    pub fn codec_string(&self) -> String {
        let record = &self.record;
        let tier = if record.seq_tier_0 { 'H' } else { 'M' };
        let depth = match (record.high_bitdepth, record.twelve_bit) {
            (true, true) => 12,
            (true, false) => 10,
            _ => 8,
        };
        format!(
            "av01.{}.{:02}{tier}.{depth:02}",
            record.seq_profile, record.seq_level_idx_0
        )
    }
}

/// Refuses a temporal unit with an OBU size past its end or a malformed size.
pub fn check(temporal_unit: &[u8]) -> Result<(), MediaError> {
    for obu in Obus::new(temporal_unit) {
        obu?;
    }
    Ok(())
}

/// Whether the temporal unit's first frame header is a shown key frame's. Malformed input
/// is scanned up to the first bad OBU.
pub fn is_keyframe(config: &DecoderConfig, temporal_unit: &[u8]) -> bool {
    let header = Obus::new(temporal_unit)
        .map_while(Result::ok)
        .find(|(obu_type, _)| matches!(*obu_type, OBU_FRAME_HEADER | OBU_FRAME));
    let Some((_, payload)) = header else {
        return false;
    };
    if config.sequence.reduced_still_picture_header {
        return true;
    }
    let mut bits = BitReader::new(payload);
    let Ok(show_existing_frame) = bits.read_bit("show_existing_frame") else {
        return false;
    };
    !show_existing_frame && bits.read::<2, u32>("frame_type").ok() == Some(KEY_FRAME)
}

/// The OBUs of a buffer: type and payload, or an error once (then nothing more).
struct Obus<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Obus<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            failed: false,
        }
    }

    fn read(&mut self) -> Result<(u8, &'a [u8]), MediaError> {
        let (&header, mut rest) = self
            .rest
            .split_first()
            .ok_or(MediaError::Truncated("av1 obu header"))?;
        if header & 0x80 != 0 {
            return Err(MediaError::Invalid("av1 obu forbidden bit"));
        }
        let obu_type = (header >> 3) & 0x0F;
        if header & 0x04 != 0 {
            rest = rest
                .get(1..)
                .ok_or(MediaError::Truncated("av1 obu extension"))?;
        }
        let size = if header & 0x02 != 0 {
            let (size, after) = leb128(rest)?;
            rest = after;
            size
        } else {
            rest.len()
        };
        let (payload, after) = rest
            .split_at_checked(size)
            .ok_or(MediaError::Truncated("av1 obu"))?;
        self.rest = after;
        Ok((obu_type, payload))
    }
}

impl<'a> Iterator for Obus<'a> {
    type Item = Result<(u8, &'a [u8]), MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let obu = self.read();
        self.failed = obu.is_err();
        Some(obu)
    }
}

/// An unsigned LEB128 value (at most 8 bytes, below 2^32) and the bytes after it.
fn leb128(data: &[u8]) -> Result<(usize, &[u8]), MediaError> {
    let mut value = 0u64;
    for (index, &byte) in data.iter().take(MAX_LEB128_BYTES).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            let value = u32::try_from(value).map_err(|_| MediaError::Invalid("av1 obu size"))?;
            return Ok((value as usize, &data[index + 1..]));
        }
    }
    Err(MediaError::Invalid("av1 obu size"))
}

/// The fields of a sequence header OBU (AV1 §5.5) up to the largest frame size.
fn sequence_header(payload: &[u8]) -> Option<SequenceHeader> {
    let mut bits = BitReader::new(payload);
    bits.skip(3 + 1, "seq_profile, still_picture").ok()?;
    let reduced = bits.read_bit("reduced_still_picture_header").ok()?;
    if reduced {
        bits.skip(5, "seq_level_idx").ok()?;
    } else {
        skip_operating_points(&mut bits)?;
    }
    let width_bits = bits.read::<4, u32>("frame_width_bits_minus_1").ok()? + 1;
    let height_bits = bits.read::<4, u32>("frame_height_bits_minus_1").ok()? + 1;
    let width = bits
        .read_var::<u32>(width_bits, "max_frame_width_minus_1")
        .ok()?
        + 1;
    let height = bits
        .read_var::<u32>(height_bits, "max_frame_height_minus_1")
        .ok()?
        + 1;
    if width > MAX_SIDE || height > MAX_SIDE {
        return None;
    }
    Some(SequenceHeader {
        reduced_still_picture_header: reduced,
        dimensions: (width, height),
    })
}

/// Skips timing and decoder model info and the operating points of a full sequence header.
fn skip_operating_points<R: std::io::BufRead + Clone>(bits: &mut BitReader<R>) -> Option<()> {
    let mut delay_length = 0;
    let mut decoder_model = false;
    if bits.read_bit("timing_info_present_flag").ok()? {
        bits.skip(64, "num_units_in_display_tick, time_scale")
            .ok()?;
        if bits.read_bit("equal_picture_interval").ok()? {
            skip_uvlc(bits)?;
        }
        decoder_model = bits.read_bit("decoder_model_info_present_flag").ok()?;
        if decoder_model {
            delay_length = bits.read::<5, u32>("buffer_delay_length_minus_1").ok()? + 1;
            bits.skip(32 + 5 + 5, "decoder_model_info").ok()?;
        }
    }
    let display_delay = bits.read_bit("initial_display_delay_present_flag").ok()?;
    let points = bits.read::<5, u32>("operating_points_cnt_minus_1").ok()? + 1;
    for _ in 0..points {
        bits.skip(12, "operating_point_idc").ok()?;
        if bits.read::<5, u32>("seq_level_idx").ok()? > 7 {
            bits.skip(1, "seq_tier").ok()?;
        }
        if decoder_model && bits.read_bit("decoder_model_present_for_this_op").ok()? {
            bits.skip(2 * delay_length + 1, "operating_parameters_info")
                .ok()?;
        }
        if display_delay
            && bits
                .read_bit("initial_display_delay_present_for_this_op")
                .ok()?
        {
            bits.skip(4, "initial_display_delay_minus_1").ok()?;
        }
    }
    Some(())
}

/// Skips a `uvlc()` value (AV1 §4.10.3).
fn skip_uvlc<R: std::io::BufRead + Clone>(bits: &mut BitReader<R>) -> Option<()> {
    let mut leading_zeros = 0u32;
    while !bits.read_bit("uvlc leading zero").ok()? {
        leading_zeros += 1;
        if leading_zeros >= 32 {
            return None;
        }
    }
    bits.skip(leading_zeros, "uvlc value").ok()
}

#[cfg(test)]
#[path = "av1_tests.rs"]
mod tests;
