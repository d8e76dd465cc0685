//! Parsing of FLV audio tag bodies: AAC config/raw frames, MP3 frames, and naming of the
//! other legacy sound formats.

use crate::MediaError;
use crate::read::ByteReader;

/// FLV SoundFormat value of AAC.
const SOUND_FORMAT_AAC: u8 = 10;
/// FLV SoundFormat value of MP3.
const SOUND_FORMAT_MP3: u8 = 2;
/// FLV SoundFormat value of "MP3 8 kHz" (MPEG 2.5 layer III frames).
const SOUND_FORMAT_MP3_8KHZ: u8 = 14;

/// The audio codec a tag declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// AAC (sound format 10).
    Aac,
    /// Any other FLV sound format value.
    Other(u8),
}

impl AudioCodec {
    /// Whether the payload is MPEG audio frames (FLV sound formats 2 and 14), which
    /// [`crate::mpeg_audio`] reads.
    pub fn is_mp3(&self) -> bool {
        matches!(
            self,
            AudioCodec::Other(SOUND_FORMAT_MP3 | SOUND_FORMAT_MP3_8KHZ)
        )
    }
}

/// What an audio tag body contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPacket {
    /// An AAC AudioSpecificConfig.
    SequenceHeader,
    /// A raw frame (AAC raw data block, or any non-AAC payload).
    Raw,
}

/// A parsed audio tag body borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTag<'a> {
    /// The codec.
    pub codec: AudioCodec,
    /// The packet kind.
    pub packet: AudioPacket,
    /// The payload after the codec-specific header.
    pub data: &'a [u8],
}

/// Parses the header of an FLV audio tag body.
pub fn parse_audio(body: &[u8]) -> Result<AudioTag<'_>, MediaError> {
    let mut reader = ByteReader::new(body);
    let sound_format = reader.u8("flv audio header")? >> 4;
    if sound_format != SOUND_FORMAT_AAC {
        return Ok(AudioTag {
            codec: AudioCodec::Other(sound_format),
            packet: AudioPacket::Raw,
            data: reader.rest(),
        });
    }
    let packet = match reader.u8("aac packet type")? {
        0 => AudioPacket::SequenceHeader,
        1 => AudioPacket::Raw,
        _ => return Err(MediaError::Invalid("aac packet type")),
    };
    Ok(AudioTag {
        codec: AudioCodec::Aac,
        packet,
        data: reader.rest(),
    })
}

/// A human-readable codec name for logs and error messages.
pub fn audio_codec_name(codec: &AudioCodec) -> String {
    let name = match codec {
        AudioCodec::Aac => "aac",
        AudioCodec::Other(0) => "pcm (platform endian)",
        AudioCodec::Other(1) => "adpcm",
        AudioCodec::Other(2) => "mp3",
        AudioCodec::Other(3) => "pcm (little endian)",
        AudioCodec::Other(4) => "nellymoser 16 kHz mono",
        AudioCodec::Other(5) => "nellymoser 8 kHz mono",
        AudioCodec::Other(6) => "nellymoser",
        AudioCodec::Other(7) => "g711 a-law",
        AudioCodec::Other(8) => "g711 mu-law",
        AudioCodec::Other(9) => "enhanced rtmp audio",
        AudioCodec::Other(11) => "speex",
        AudioCodec::Other(14) => "mp3 8 kHz",
        AudioCodec::Other(15) => "device-specific sound",
        AudioCodec::Other(other) => return format!("unknown (flv sound format {other})"),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aac_packets() {
        let config = parse_audio(&[0xAF, 0, 0x12, 0x10]).unwrap();
        assert_eq!(config.codec, AudioCodec::Aac);
        assert_eq!(config.packet, AudioPacket::SequenceHeader);
        assert_eq!(config.data, &[0x12, 0x10]);
        let raw = parse_audio(&[0xAF, 1, 7]).unwrap();
        assert_eq!(raw.packet, AudioPacket::Raw);
        assert_eq!(raw.data, &[7]);
        assert!(parse_audio(&[0xAF, 2]).is_err());
        assert!(parse_audio(&[0xAF]).is_err());
        assert!(parse_audio(&[]).is_err());
    }

    #[test]
    fn names_other_formats() {
        let mp3 = parse_audio(&[0x2F, 1, 2]).unwrap();
        assert_eq!(mp3.codec, AudioCodec::Other(2));
        assert_eq!(mp3.data, &[1, 2]);
        assert_eq!(audio_codec_name(&mp3.codec), "mp3");
        assert!(mp3.codec.is_mp3() && AudioCodec::Other(14).is_mp3());
        assert!(!AudioCodec::Aac.is_mp3() && !AudioCodec::Other(11).is_mp3());
        assert_eq!(audio_codec_name(&AudioCodec::Other(11)), "speex");
        assert_eq!(
            audio_codec_name(&AudioCodec::Other(13)),
            "unknown (flv sound format 13)"
        );
    }
}
