//! The packager's audio track: the codec (AAC, or MPEG audio such as MP3), each frame as the
//! bytes MPEG-TS carries with its duration, and the frames held back while the packager waits
//! to learn whether video comes.

use std::collections::VecDeque;

use crate::MediaError;
use crate::aac::AudioSpecificConfig;
use crate::mpeg_audio::{self, Version};
use crate::ts::AudioFormat;

/// How the audio track is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudioConfig {
    /// AAC, from the FLV sequence header; each raw frame gets an ADTS header.
    Aac(AudioSpecificConfig),
    /// MPEG audio frames (FLV's MP3), self-describing: carried as they are.
    Mpeg(Version),
}

impl AudioConfig {
    /// What the PMT declares for this track.
    pub(crate) fn format(self) -> AudioFormat {
        match self {
            AudioConfig::Aac(_) => AudioFormat::AacAdts,
            AudioConfig::Mpeg(Version::Mpeg1) => AudioFormat::Mpeg1,
            AudioConfig::Mpeg(Version::Mpeg2 | Version::Mpeg25) => AudioFormat::Mpeg2,
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

/// One audio frame held back, ready to be written.
#[derive(Debug)]
pub(crate) struct HeldFrame {
    /// Session DTS, milliseconds.
    pub(crate) dts_ms: u64,
    /// The elementary-stream bytes.
    pub(crate) data: Vec<u8>,
    /// Duration, milliseconds.
    pub(crate) duration_ms: u64,
}

/// Audio frames that arrived while no segment was open because video was expected: either
/// video never comes (they then open the first audio-only segment, so an audio-only publish
/// loses none) or its first IDR comes (those at or after it follow it into the segment).
/// Bounded: only the newest `span_ms` of audio, and what makes at most `max_bytes` of TS
/// packets, are held; older frames go.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    frames: VecDeque<HeldFrame>,
    bytes: usize,
}

impl Backlog {
    /// Holds `frame`, dropping the oldest frames beyond the bounds.
    pub(crate) fn hold(&mut self, frame: HeldFrame, span_ms: u64, max_bytes: usize) {
        self.bytes = self.bytes.saturating_add(ts_cost(frame.data.len()));
        let newest = frame.dts_ms;
        self.frames.push_back(frame);
        while let Some(oldest) = self.frames.front() {
            let too_old = newest.saturating_sub(oldest.dts_ms) >= span_ms;
            if !too_old && self.bytes <= max_bytes {
                break;
            }
            self.bytes = self.bytes.saturating_sub(ts_cost(oldest.data.len()));
            self.frames.pop_front();
        }
    }

    /// Every held frame, oldest first; the backlog is left empty.
    pub(crate) fn take(&mut self) -> VecDeque<HeldFrame> {
        self.bytes = 0;
        std::mem::take(&mut self.frames)
    }
}

/// TS bytes a frame of `len` bytes takes at most: a PES header with a PTS (14 bytes) and, in
/// the first packet, an adaptation field with a PCR (8 bytes), in 188-byte packets of 184
/// bytes of payload. Tiny frames cost a whole packet each, which is what bounds memory.
fn ts_cost(len: usize) -> usize {
    len.saturating_add(14 + 8).div_ceil(184).saturating_mul(188)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(dts_ms: u64, len: usize) -> HeldFrame {
        HeldFrame {
            dts_ms,
            data: vec![0; len],
            duration_ms: 21,
        }
    }

    #[test]
    fn backlog_keeps_the_newest_span_and_bytes() {
        let mut backlog = Backlog::default();
        for i in 0..10u64 {
            backlog.hold(held(i * 100, 10), 500, 1_000);
        }
        let kept: Vec<u64> = backlog.take().iter().map(|f| f.dts_ms).collect();
        assert_eq!(kept, [500, 600, 700, 800, 900]);
        assert!(backlog.take().is_empty());
        // 300 bytes take two TS packets (376 bytes): two frames fit in 1,000.
        for i in 0..10u64 {
            backlog.hold(held(i, 300), 60_000, 1_000);
        }
        let kept: Vec<u64> = backlog.take().iter().map(|f| f.dts_ms).collect();
        assert_eq!(kept, [8, 9]);
        // A 1-byte frame still takes a packet.
        for i in 0..10u64 {
            backlog.hold(held(i, 1), 60_000, 600);
        }
        assert_eq!(backlog.take().len(), 3);
    }

    #[test]
    fn mp3_frames_pass_as_they_are_with_their_duration() {
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz: 1152 samples, 26.1 ms, 417 bytes.
        let mut frame = vec![0xFF, 0xFB, 0x90, 0x64];
        frame.resize(417, 0);
        let mut out = vec![9; 3];
        let config = AudioConfig::Mpeg(Version::Mpeg1);
        assert_eq!(config.frame(&frame, &mut out), Ok(26));
        assert_eq!(out, frame);
        assert_eq!(config.format(), AudioFormat::Mpeg1);
        let two = [frame.clone(), frame].concat();
        assert_eq!(config.frame(&two, &mut out), Ok(52));
        assert!(config.frame(&[1, 2, 3, 4], &mut out).is_err());
        assert_eq!(
            AudioConfig::Mpeg(Version::Mpeg25).format(),
            AudioFormat::Mpeg2
        );
    }
}
