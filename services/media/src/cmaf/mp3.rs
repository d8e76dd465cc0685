//! The MPEG audio frame header (ISO 11172-3 / 13818-3) of the MP3 frames FLV carries
//! (sound format 2): FLV's own rate field cannot say 48 kHz, so the init segment's sample
//! rate, channel count and frame duration come from the first frame's header instead.

use crate::MediaError;
use crate::read::ByteReader;

/// Sampling rates by `sampling_frequency` index for MPEG-1; MPEG-2 halves and MPEG-2.5
/// quarters them.
const MPEG1_RATES: [u32; 3] = [44_100, 48_000, 32_000];

/// The MPEG audio version a frame declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// MPEG-1 (ISO 11172-3).
    Mpeg1,
    /// MPEG-2 low sampling frequencies (ISO 13818-3).
    Mpeg2,
    /// The unofficial MPEG-2.5 extension to even lower rates.
    Mpeg25,
}

/// The fields of an MPEG audio frame header that describe the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The MPEG version.
    pub version: Version,
    /// The layer (1, 2 or 3).
    pub layer: u8,
    /// The sampling rate in Hz.
    pub sample_rate: u32,
    /// 1 for single channel, else 2.
    pub channels: u8,
}

impl Header {
    /// PCM samples one frame decodes to.
    pub fn samples_per_frame(&self) -> u32 {
        match (self.layer, self.version) {
            (1, _) => 384,
            (3, Version::Mpeg2 | Version::Mpeg25) => 576,
            _ => 1152,
        }
    }

    /// The MPEG-4 systems objectTypeIndication for this audio in an `esds`: 0x6B for
    /// MPEG-1 audio, 0x69 for the MPEG-2 extensions (MP4 registration authority).
    pub fn object_type_indication(&self) -> u8 {
        match self.version {
            Version::Mpeg1 => 0x6B,
            Version::Mpeg2 | Version::Mpeg25 => 0x69,
        }
    }
}

/// Parses the 4-byte header at the start of an MPEG audio frame.
pub fn parse(frame: &[u8]) -> Result<Header, MediaError> {
    let header = ByteReader::new(frame).u32("mpeg audio header")?;
    if header >> 21 != 0x7FF {
        return Err(MediaError::Invalid("mpeg audio sync word"));
    }
    let version = match (header >> 19) & 0x03 {
        0 => Version::Mpeg25,
        2 => Version::Mpeg2,
        3 => Version::Mpeg1,
        _ => return Err(MediaError::Invalid("mpeg audio version")),
    };
    let layer = match (header >> 17) & 0x03 {
        1 => 3,
        2 => 2,
        3 => 1,
        _ => return Err(MediaError::Invalid("mpeg audio layer")),
    };
    if (header >> 12) & 0x0F == 0x0F {
        return Err(MediaError::Invalid("mpeg audio bitrate index"));
    }
    let rate_index = ((header >> 10) & 0x03) as usize;
    let base_rate = *MPEG1_RATES
        .get(rate_index)
        .ok_or(MediaError::Invalid("mpeg audio sampling frequency"))?;
    let sample_rate = match version {
        Version::Mpeg1 => base_rate,
        Version::Mpeg2 => base_rate / 2,
        Version::Mpeg25 => base_rate / 4,
    };
    let channels = if (header >> 6) & 0x03 == 0x03 { 1 } else { 2 };
    Ok(Header {
        version,
        layer,
        sample_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_headers() {
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz, joint stereo.
        let stereo = parse(&[0xFF, 0xFB, 0x90, 0x64]).unwrap();
        assert_eq!(
            stereo,
            Header {
                version: Version::Mpeg1,
                layer: 3,
                sample_rate: 44_100,
                channels: 2
            }
        );
        assert_eq!(stereo.samples_per_frame(), 1152);
        assert_eq!(stereo.object_type_indication(), 0x6B);
        // MPEG-2 layer III, 24 kHz, mono.
        let mono = parse(&[0xFF, 0xF3, 0x84, 0xC4]).unwrap();
        assert_eq!((mono.sample_rate, mono.channels), (24_000, 1));
        assert_eq!(mono.samples_per_frame(), 576);
        assert_eq!(mono.object_type_indication(), 0x69);
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(parse(&[0xFF, 0xFB, 0x90]).is_err());
        assert!(parse(&[0xFF, 0x1B, 0x90, 0x64]).is_err(), "no sync");
        assert!(
            parse(&[0xFF, 0xEB, 0x90, 0x64]).is_err(),
            "reserved version"
        );
        assert!(parse(&[0xFF, 0xF9, 0x90, 0x64]).is_err(), "reserved layer");
        assert!(parse(&[0xFF, 0xFB, 0xF0, 0x64]).is_err(), "bad bitrate");
        assert!(parse(&[0xFF, 0xFB, 0x9C, 0x64]).is_err(), "reserved rate");
    }
}
