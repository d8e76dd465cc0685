//! MPEG-1/2 audio (MP3, and layers I and II) frame headers: what an FLV tag of sound format
//! 2 (MP3) or 14 (MP3 8 kHz) carries. The one parser of these untrusted bytes, for both
//! renditions:
//! - MPEG-TS carries the frames as they are (stream type 0x03 or 0x04, ISO 13818-1 table
//!   2-34) and needs each payload's duration ([`payload_samples`]);
//! - CMAF describes the track in its init segment (`mp4a` with an `esds` object type,
//!   sample rate and channels), since FLV's own rate field cannot say 48 kHz.
//!
//! Only the 4-byte header of each frame is read (ISO 11172-3 §2.4.2.3 and ISO 13818-3
//! §2.4.2.3, which adds the half rates; the unofficial "MPEG 2.5" adds the quarter rates).

use crate::MediaError;

/// Bytes of a frame header.
pub const HEADER_LEN: usize = 4;

/// Which standard a frame follows: it decides the sample rates, the TS stream type and the
/// MP4 object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// MPEG-1 audio (32, 44.1, 48 kHz): TS stream type 0x03.
    Mpeg1,
    /// MPEG-2 low sampling frequencies (16, 22.05, 24 kHz): TS stream type 0x04.
    Mpeg2,
    /// The unofficial "MPEG 2.5" extension (8, 11.025, 12 kHz): carried as MPEG-2.
    Mpeg25,
}

/// The fields of a frame header that describe the stream. They stay the same from frame to
/// frame of one encoder's output, unlike the bit rate and padding, so a change of any of
/// them is a new decoder configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The standard.
    pub version: Version,
    /// 1, 2 or 3.
    pub layer: u8,
    /// Samples per second.
    pub sample_rate: u32,
    /// 1 (mono) or 2.
    pub channels: u8,
}

/// One frame's header with the frame's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// What describes the stream.
    pub header: Header,
    /// The frame's length in bytes, header included; `None` for a "free format" bit rate,
    /// whose length the header does not give.
    pub len: Option<usize>,
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

/// Bit rates in kb/s by bitrate_index (1..=14; 0 is free format, 15 is invalid).
const MPEG1_LAYER1: [u32; 15] = [
    0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
];
const MPEG1_LAYER2: [u32; 15] = [
    0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
];
const MPEG1_LAYER3: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const MPEG2_LAYER1: [u32; 15] = [
    0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
];
const MPEG2_LAYER23: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
/// MPEG-1 sample rates by sampling_frequency index; MPEG-2 halves them, MPEG 2.5 quarters.
const MPEG1_RATES: [u32; 3] = [44_100, 48_000, 32_000];

/// Parses the frame header at the start of `bytes`: what describes the stream.
pub fn parse(bytes: &[u8]) -> Result<Header, MediaError> {
    parse_frame(bytes).map(|frame| frame.header)
}

/// Parses the frame header at the start of `bytes`, with the frame's length.
pub fn parse_frame(bytes: &[u8]) -> Result<Frame, MediaError> {
    let Some(&[b0, b1, b2, b3]) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(MediaError::Truncated("mpeg audio frame header"));
    };
    if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
        return Err(MediaError::Invalid("mpeg audio sync word"));
    }
    let (version, rate_divisor) = match (b1 >> 3) & 0x03 {
        0b11 => (Version::Mpeg1, 1),
        0b10 => (Version::Mpeg2, 2),
        0b00 => (Version::Mpeg25, 4),
        _ => return Err(MediaError::Invalid("mpeg audio version")),
    };
    let layer = match (b1 >> 1) & 0x03 {
        0b11 => 1,
        0b10 => 2,
        0b01 => 3,
        _ => return Err(MediaError::Invalid("mpeg audio layer")),
    };
    let bitrate_index = usize::from(b2 >> 4);
    let rate_index = usize::from((b2 >> 2) & 0x03);
    let padding = usize::from((b2 >> 1) & 0x01);
    let base_rate = *MPEG1_RATES
        .get(rate_index)
        .ok_or(MediaError::Invalid("mpeg audio sampling frequency"))?;
    let bitrates = match (version, layer) {
        (Version::Mpeg1, 1) => &MPEG1_LAYER1,
        (Version::Mpeg1, 2) => &MPEG1_LAYER2,
        (Version::Mpeg1, _) => &MPEG1_LAYER3,
        (_, 1) => &MPEG2_LAYER1,
        _ => &MPEG2_LAYER23,
    };
    let kbps = *bitrates
        .get(bitrate_index)
        .ok_or(MediaError::Invalid("mpeg audio bitrate index"))?;
    let header = Header {
        version,
        layer,
        sample_rate: base_rate / rate_divisor,
        channels: if b3 >> 6 == 0b11 { 1 } else { 2 },
    };
    let len = (kbps > 0).then(|| {
        // Every factor is small (≤ 448,000 b/s, ≥ 8,000 Hz): no overflow on any target.
        let bits_per_second = kbps as usize * 1000;
        let rate = header.sample_rate as usize;
        if layer == 1 {
            (12 * bits_per_second / rate + padding) * 4
        } else {
            // Samples / 8 bits per byte, times the bit rate, per sample rate.
            let bytes_per_bit = header.samples_per_frame() as usize / 8;
            bytes_per_bit * bits_per_second / rate + padding
        }
    });
    Ok(Frame { header, len })
}

/// The header of the first frame of `payload` and the PCM samples of all the frames it
/// holds. An FLV tag usually holds one frame; where a frame's length is unknown (free
/// format) or the bytes after a frame are not another frame, the rest counts as part of the
/// last frame.
pub fn payload_samples(payload: &[u8]) -> Result<(Header, u64), MediaError> {
    let first = parse_frame(payload)?;
    let mut samples = u64::from(first.header.samples_per_frame());
    let mut offset = first.len.unwrap_or(payload.len());
    // Every counted frame is longer than its header, so this runs at most len / 4 times.
    while let Some(rest) = payload
        .get(offset..)
        .filter(|rest| rest.len() >= HEADER_LEN)
    {
        let Ok(next) = parse_frame(rest) else {
            break;
        };
        let Some(len) = next.len.filter(|&len| len > HEADER_LEN) else {
            break;
        };
        samples += u64::from(next.header.samples_per_frame());
        offset += len;
    }
    Ok((first.header, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MPEG-1 layer III, 128 kb/s, 44.1 kHz, no padding, joint stereo.
    const MP3_44K: [u8; 4] = [0xFF, 0xFB, 0x90, 0x64];

    fn frame(header: [u8; 4], len: usize) -> Vec<u8> {
        let mut frame = header.to_vec();
        frame.resize(len, 0x55);
        frame
    }

    #[test]
    fn reads_the_common_mp3_headers() {
        let stereo = parse_frame(&MP3_44K).unwrap();
        assert_eq!(
            stereo,
            Frame {
                header: Header {
                    version: Version::Mpeg1,
                    layer: 3,
                    sample_rate: 44_100,
                    channels: 2,
                },
                // 144 * 128000 / 44100 = 417.96
                len: Some(417),
            }
        );
        assert_eq!(stereo.header.samples_per_frame(), 1152);
        assert_eq!(stereo.header.object_type_indication(), 0x6B);
        // MPEG-2 layer III, 64 kb/s, 22.05 kHz, padded, mono.
        let low = parse_frame(&[0xFF, 0xF3, 0x82, 0xC4]).unwrap();
        assert_eq!(low.header.version, Version::Mpeg2);
        assert_eq!(
            (
                low.header.sample_rate,
                low.header.channels,
                low.header.samples_per_frame()
            ),
            (22_050, 1, 576)
        );
        assert_eq!(low.len, Some(72 * 64_000 / 22_050 + 1));
        assert_eq!(low.header.object_type_indication(), 0x69);
        // MPEG-2 layer III, 24 kHz, mono.
        let mono = parse(&[0xFF, 0xF3, 0x84, 0xC4]).unwrap();
        assert_eq!((mono.sample_rate, mono.channels), (24_000, 1));
        // MPEG 2.5 layer III at 8 kHz (FLV's "MP3 8 kHz"), free format.
        let eight = parse_frame(&[0xFF, 0xE3, 0x08, 0xC0]).unwrap();
        assert_eq!(
            (eight.header.version, eight.header.sample_rate),
            (Version::Mpeg25, 8_000)
        );
        assert_eq!(eight.len, None);
        // Layer I, 48 kHz, 384 kb/s: (12 * 384000 / 48000) * 4 bytes.
        let layer1 = parse_frame(&[0xFF, 0xFF, 0xC4, 0x00]).unwrap();
        assert_eq!(
            (
                layer1.header.layer,
                layer1.header.samples_per_frame(),
                layer1.len
            ),
            (1, 384, Some(384))
        );
    }

    #[test]
    fn rejects_what_is_not_a_frame_header() {
        for bad in [
            &[][..],
            &[0xFF, 0xFB, 0x90],
            &[0xFE, 0xFB, 0x90, 0x64],
            &[0xFF, 0x1B, 0x90, 0x64],
            &[0xFF, 0xEB, 0x90, 0x64], // reserved version
            &[0xFF, 0xF9, 0x90, 0x64], // reserved layer
            &[0xFF, 0xFB, 0xF0, 0x64], // bitrate index 15
            &[0xFF, 0xFB, 0x9C, 0x64], // sampling frequency 3
        ] {
            assert!(parse(bad).is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn the_bit_rate_and_padding_do_not_change_the_header() {
        // 128 kb/s unpadded and 320 kb/s padded: one stream, two frame lengths.
        let a = parse_frame(&MP3_44K).unwrap();
        let b = parse_frame(&[0xFF, 0xFB, 0xE2, 0x64]).unwrap();
        assert_eq!(a.header, b.header);
        assert_ne!(a.len, b.len);
    }

    #[test]
    fn counts_every_frame_of_a_payload() {
        let one = frame(MP3_44K, 417);
        assert_eq!(payload_samples(&one).unwrap().1, 1152);
        let three = [one.clone(), one.clone(), one.clone()].concat();
        assert_eq!(payload_samples(&three).unwrap().1, 3 * 1152);
        // Trailing bytes that are not a frame belong to the last one.
        let mut tail = three.clone();
        tail.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(payload_samples(&tail).unwrap().1, 3 * 1152);
        assert!(payload_samples(&[0, 1, 2, 3]).is_err());
    }
}
