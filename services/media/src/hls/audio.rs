//! The TS packager's audio track: the codec (AAC, or MPEG audio such as MP3) and each frame
//! as the bytes MPEG-TS carries, with its duration.

use crate::MediaError;
use crate::aac::AudioSpecificConfig;
use crate::mpeg_audio::{self, Version};
use crate::ts::AudioFormat;

/// How the audio track is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudioConfig {
    /// AAC, from the FLV sequence header; each raw frame gets an ADTS header.
    Aac(AudioSpecificConfig),
    /// MPEG audio frames (FLV's MP3), self-describing: carried as they are. The header is
    /// the first frame's; a frame with another one is a new configuration, as in CMAF.
    Mpeg(mpeg_audio::Header),
}

impl AudioConfig {
    /// What the PMT declares for this track.
    pub(crate) fn format(self) -> AudioFormat {
        match self {
            AudioConfig::Aac(_) => AudioFormat::AacAdts,
            AudioConfig::Mpeg(header) => match header.version {
                Version::Mpeg1 => AudioFormat::Mpeg1,
                Version::Mpeg2 | Version::Mpeg25 => AudioFormat::Mpeg2,
            },
        }
    }

    /// Appends the elementary-stream bytes of one FLV audio payload to `out` (cleared
    /// first); returns its duration in milliseconds.
    pub(crate) fn frame(self, payload: &[u8], out: &mut Vec<u8>) -> Result<u64, MediaError> {
        out.clear();
        match self {
            AudioConfig::Aac(config) => {
                let header = config.adts_header(payload.len())?;
                out.extend_from_slice(&header);
                out.extend_from_slice(payload);
                Ok(config.frame_duration_ms().round() as u64)
            }
            AudioConfig::Mpeg(_) => {
                let (header, samples) = mpeg_audio::payload_samples(payload)?;
                out.extend_from_slice(payload);
                let rate = u64::from(header.sample_rate.max(1));
                Ok((samples * 1000 + rate / 2) / rate)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp3_frames_pass_as_they_are_with_their_duration() {
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz: 1152 samples, 26.1 ms, 417 bytes.
        let mut frame = vec![0xFF, 0xFB, 0x90, 0x64];
        frame.resize(417, 0);
        let mut out = vec![9; 3];
        let config = AudioConfig::Mpeg(mpeg_audio::parse(&frame).unwrap());
        assert_eq!(config.frame(&frame, &mut out), Ok(26));
        assert_eq!(out, frame);
        assert_eq!(config.format(), AudioFormat::Mpeg1);
        let two = [frame.clone(), frame].concat();
        assert_eq!(config.frame(&two, &mut out), Ok(52));
        assert!(config.frame(&[1, 2, 3, 4], &mut out).is_err());
        let eight = mpeg_audio::parse(&[0xFF, 0xE3, 0x08, 0xC0]).unwrap();
        assert_eq!(AudioConfig::Mpeg(eight).format(), AudioFormat::Mpeg2);
    }
}
