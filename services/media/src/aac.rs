//! AAC helpers: parsing the AudioSpecificConfig from FLV sequence headers and
//! building the ADTS headers that MPEG-TS carries in front of each raw frame.

use crate::MediaError;

/// Sampling rates by samplingFrequencyIndex (ISO 14496-3, 1.6.3.4).
const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];
/// samplingFrequencyIndex escape: an explicit 24-bit rate follows.
const EXPLICIT_RATE_INDEX: u8 = 15;
/// Samples per AAC frame (the core frame for HE-AAC).
const SAMPLES_PER_FRAME: f64 = 1024.0;
/// Largest value of the 13-bit ADTS frame_length field.
const MAX_ADTS_FRAME_LEN: usize = 0x1FFF;
/// Length of an ADTS header without CRC.
pub const ADTS_HEADER_LEN: usize = 7;

/// The fields of an AudioSpecificConfig needed for ADTS framing and timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// The first audioObjectType (2 = AAC-LC, 5 = SBR, 29 = PS, ...).
    pub object_type: u8,
    /// The core samplingFrequencyIndex (15 = explicit rate).
    pub sampling_index: u8,
    /// The core sampling rate in Hz (the AAC-LC layer for HE-AAC).
    pub sample_rate: u32,
    /// The channelConfiguration value (1..=6 equal the channel count, 7 = 7.1).
    pub channels: u8,
}

/// Reads bit fields MSB first from a byte slice.
struct BitReader<'a> {
    data: &'a [u8],
    bit_pos: usize,
}

impl BitReader<'_> {
    fn bits(&mut self, count: u32) -> Result<u32, MediaError> {
        let mut value = 0u32;
        for _ in 0..count {
            let byte = self
                .data
                .get(self.bit_pos / 8)
                .ok_or(MediaError::Truncated("aac audio specific config"))?;
            let bit = (byte >> (7 - self.bit_pos % 8)) & 1;
            value = (value << 1) | u32::from(bit);
            self.bit_pos += 1;
        }
        Ok(value)
    }

    fn object_type(&mut self) -> Result<u8, MediaError> {
        let first = self.bits(5)?;
        let value = if first == 31 {
            32 + self.bits(6)?
        } else {
            first
        };
        Ok(value as u8)
    }

    /// Reads a samplingFrequencyIndex and resolves it to a rate.
    fn sampling(&mut self) -> Result<(u8, u32), MediaError> {
        let index = self.bits(4)? as u8;
        let rate = if index == EXPLICIT_RATE_INDEX {
            self.bits(24)?
        } else {
            *SAMPLE_RATES
                .get(usize::from(index))
                .ok_or(MediaError::Invalid("aac sampling frequency index"))?
        };
        if rate == 0 {
            return Err(MediaError::Invalid("aac sample rate 0"));
        }
        Ok((index, rate))
    }
}

/// Parses an AudioSpecificConfig (ISO 14496-3, 1.6.2.1).
pub fn parse(asc: &[u8]) -> Result<AudioSpecificConfig, MediaError> {
    let mut reader = BitReader {
        data: asc,
        bit_pos: 0,
    };
    let object_type = reader.object_type()?;
    let (sampling_index, sample_rate) = reader.sampling()?;
    let channels = reader.bits(4)? as u8;
    if matches!(object_type, 5 | 29) {
        // Explicit SBR/PS signalling: the first rate above is the core rate,
        // followed by the SBR output rate and the core object type. Parse them
        // so a truncated record is reported, even though ADTS only needs the
        // core rate.
        reader.sampling()?;
        reader.object_type()?;
    }
    Ok(AudioSpecificConfig {
        object_type,
        sampling_index,
        sample_rate,
        channels,
    })
}

impl AudioSpecificConfig {
    /// Builds a 7-byte ADTS header (no CRC) for a raw frame of `payload_len`.
    pub fn adts_header(&self, payload_len: usize) -> Result<[u8; ADTS_HEADER_LEN], MediaError> {
        if self.sampling_index == EXPLICIT_RATE_INDEX {
            return Err(MediaError::Unsupported("aac explicit sample rate".into()));
        }
        if self.channels == 0 || self.channels > 7 {
            return Err(MediaError::Unsupported(format!(
                "aac channel configuration {}",
                self.channels
            )));
        }
        let frame_len = payload_len
            .checked_add(ADTS_HEADER_LEN)
            .filter(|&len| len <= MAX_ADTS_FRAME_LEN)
            .ok_or(MediaError::TooLarge {
                what: "aac frame",
                len: payload_len,
                max: MAX_ADTS_FRAME_LEN - ADTS_HEADER_LEN,
            })?;
        // ADTS profile is object type - 1 and only covers Main/LC/SSR/LTP;
        // HE-AAC is signalled implicitly by sending the LC core.
        let profile = match self.object_type {
            1..=4 => self.object_type - 1,
            _ => 1,
        };
        let frame_len = frame_len as u16;
        let [len_hi, len_lo] = frame_len.to_be_bytes();
        Ok([
            0xFF,
            0xF1, // MPEG-4, layer 0, no CRC
            (profile << 6) | (self.sampling_index << 2) | (self.channels >> 2),
            ((self.channels & 0x03) << 6) | (len_hi >> 3),
            (len_hi << 5) | (len_lo >> 3),
            ((len_lo & 0x07) << 5) | 0x1F, // buffer fullness 0x7FF (VBR)
            0xFC,                          // ...and one raw data block
        ])
    }

    /// Duration of one AAC frame (1024 core samples) in milliseconds.
    pub fn frame_duration_ms(&self) -> f64 {
        SAMPLES_PER_FRAME * 1000.0 / f64::from(self.sample_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lc_stereo_44100() {
        let asc = parse(&[0x12, 0x10]).unwrap();
        assert_eq!(
            asc,
            AudioSpecificConfig {
                object_type: 2,
                sampling_index: 4,
                sample_rate: 44100,
                channels: 2
            }
        );
        assert!((asc.frame_duration_ms() - 23.219).abs() < 0.001);
    }

    #[test]
    fn adts_header_matches_known_bytes() {
        let asc = parse(&[0x12, 0x10]).unwrap();
        // 44.1 kHz stereo LC, frame length 7 + 364 = 371 bytes.
        assert_eq!(
            asc.adts_header(364).unwrap(),
            [0xFF, 0xF1, 0x50, 0x80, 0x2E, 0x7F, 0xFC]
        );
        assert!(asc.adts_header(MAX_ADTS_FRAME_LEN - 7).is_ok());
        assert!(asc.adts_header(MAX_ADTS_FRAME_LEN - 6).is_err());
        assert!(asc.adts_header(usize::MAX).is_err());
    }

    #[test]
    fn he_aac_uses_core_rate_and_lc_profile() {
        // AOT 5, core index 6 (24 kHz), stereo, extension index 3 (48 kHz), AOT 2.
        let asc = parse(&[0x2B, 0x11, 0x88, 0x00]).unwrap();
        assert_eq!(asc.object_type, 5);
        assert_eq!(asc.sampling_index, 6);
        assert_eq!(asc.sample_rate, 24000);
        let header = asc.adts_header(0).unwrap();
        assert_eq!(header[2] >> 6, 1);
        assert_eq!((header[2] >> 2) & 0x0F, 6);
        assert!(parse(&[0x2B, 0x11]).is_err());
    }

    #[test]
    fn escaped_object_type_and_explicit_rate() {
        // AOT escape 31 + 6 bits (10) -> 42, index 15, explicit rate 1000, 1 channel.
        let bytes = [0xF9, 0x5E, 0x00, 0x07, 0xD0, 0x20];
        let asc = parse(&bytes).unwrap();
        assert_eq!(asc.object_type, 42);
        assert_eq!(asc.sampling_index, 15);
        assert_eq!(asc.sample_rate, 1000);
        assert_eq!(asc.channels, 1);
        assert_eq!(
            asc.adts_header(10),
            Err(MediaError::Unsupported("aac explicit sample rate".into()))
        );
    }

    #[test]
    fn rejects_reserved_index_and_channel_config_zero_in_adts() {
        assert!(parse(&[0x16, 0x90]).is_err()); // index 13
        let asc = parse(&[0x12, 0x00]).unwrap();
        assert_eq!(asc.channels, 0);
        assert!(matches!(
            asc.adts_header(1),
            Err(MediaError::Unsupported(_))
        ));
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x12]).is_err());
    }
}
