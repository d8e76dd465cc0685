//! The FLV → MPEG-TS segment pipeline of one publish session: tracks codec
//! configuration, converts frames, and decides where segments are cut.
//!
//! Cutting rules:
//! - Video mode (video expected from `onMetaData`, or an AVC sequence header
//!   has arrived, and the video track was not dropped): nothing is emitted
//!   until the first IDR; audio before it is dropped. A segment is cut at an
//!   IDR whose DTS is at least `target_duration_ms` after the segment start.
//! - Audio-only mode (video not expected, video dropped as unsupported, or
//!   no AVC sequence header after 2 x target of audio): cut at the first
//!   audio frame at least `target_duration_ms` after the segment start.
//! - If an AVC sequence header arrives while in audio-only mode, the stream
//!   switches to video mode: audio keeps filling the open segment and the
//!   first IDR cuts a new segment.
//! - Memory bound: once the open segment holds `max_segment_bytes`, the next
//!   cut opportunity (IDR in video mode, audio frame in audio-only mode) cuts
//!   regardless of duration. If it reaches twice that, the next frame of any
//!   kind cuts; such a segment has `starts_with_keyframe == false`.
//!
//! A cut segment lasts until the next segment's start DTS; the final one
//! (from [`Packager::finish`]) lasts until the end of its last frame.
//!
//! Frames come in parsed ([`flv::VideoTag`], [`flv::AudioTag`]): the origin parses each tag
//! once at ingest, for its own flags, and hands the parsed form on.

use super::segmenter::{Segment, Segmenter, Start, Tracks};
use crate::MediaError;
use crate::aac::{self, AudioSpecificConfig};
use crate::avc::{self, DecoderConfig};
use crate::flv::{
    self, AudioCodec, AudioPacket, AudioTag, FrameType, VideoCodec, VideoPacket, VideoTag,
};
use crate::timestamp::DEFAULT_VIDEO_STEP_MS;

/// Largest DTS step taken as frame cadence when estimating the last frame's
/// duration; bigger steps are gaps.
const MAX_FRAME_STEP_MS: u64 = 1_000;

/// Settings of a [`Packager`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackagerConfig {
    /// Minimum segment duration; segments are cut at the first opportunity after it.
    pub target_duration_ms: u64,
    /// Whether the publisher announced video (`onMetaData`); if so, audio is
    /// held back until the first video keyframe.
    pub expect_video: bool,
    /// Soft memory bound of one segment (see the module docs).
    pub max_segment_bytes: usize,
}

impl Default for PackagerConfig {
    fn default() -> Self {
        Self {
            target_duration_ms: 2_000,
            expect_video: true,
            max_segment_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Tracks removed from HLS output because their codec is unsupported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedTracks {
    /// The video track was dropped (non-AVC codec).
    pub video: bool,
    /// The audio track was dropped (non-AAC codec or an AAC config ADTS cannot carry).
    pub audio: bool,
}

/// Turns one publish session's FLV tags into MPEG-TS segments.
///
/// Timestamps passed in must be session milliseconds, monotonic per track
/// (see [`crate::timestamp::Normalizer`]).
#[derive(Debug)]
pub struct Packager {
    config: PackagerConfig,
    avc: Option<DecoderConfig>,
    aac: Option<AudioSpecificConfig>,
    dropped: DroppedTracks,
    /// Set when audio ran 2 x target without any AVC configuration.
    video_timed_out: bool,
    first_audio_dts_ms: Option<u64>,
    /// An IDR has been written, so inter frames may follow.
    video_started: bool,
    last_video_dts_ms: Option<u64>,
    video_step_ms: u64,
    segmenter: Segmenter,
    scratch: Vec<u8>,
}

impl Packager {
    /// A packager for a new publish session.
    pub fn new(config: PackagerConfig) -> Self {
        Self {
            config,
            avc: None,
            aac: None,
            dropped: DroppedTracks::default(),
            video_timed_out: false,
            first_audio_dts_ms: None,
            video_started: false,
            last_video_dts_ms: None,
            video_step_ms: DEFAULT_VIDEO_STEP_MS,
            segmenter: Segmenter::new(),
            scratch: Vec::new(),
        }
    }

    /// Which tracks were dropped as unsupported.
    pub fn dropped_tracks(&self) -> DroppedTracks {
        self.dropped
    }

    /// Whether segments are currently cut on audio frames (no usable video).
    pub fn is_audio_only(&self) -> bool {
        !self.video_mode()
    }

    fn video_mode(&self) -> bool {
        !self.dropped.video
            && (self.avc.is_some() || (self.config.expect_video && !self.video_timed_out))
    }

    /// Feeds one parsed FLV video tag with its session DTS.
    ///
    /// Returns a segment when this frame starts a new one. An unsupported
    /// codec yields `Err(Unsupported)` once; the track is then ignored.
    pub fn push_video(
        &mut self,
        dts_ms: u64,
        tag: &VideoTag<'_>,
    ) -> Result<Option<Segment>, MediaError> {
        if self.dropped.video {
            return Ok(None);
        }
        if tag.frame_type == FrameType::Command {
            return Ok(None);
        }
        if tag.codec != VideoCodec::Avc {
            self.dropped.video = true;
            return Err(MediaError::Unsupported(format!(
                "video codec {} (only h264 is packaged to hls; video dropped)",
                flv::video_codec_name(&tag.codec)
            )));
        }
        match tag.packet {
            VideoPacket::SequenceHeader => {
                self.avc = Some(avc::parse(tag.data)?);
                Ok(None)
            }
            VideoPacket::Nalu => self.video_frame(dts_ms, tag),
            VideoPacket::EndOfSequence | VideoPacket::Other => Ok(None),
        }
    }

    fn video_frame(
        &mut self,
        dts_ms: u64,
        tag: &VideoTag<'_>,
    ) -> Result<Option<Segment>, MediaError> {
        let Some(config) = &self.avc else {
            return Ok(None);
        };
        // Trust the bitstream over the FLV flag: only an IDR is a clean
        // random access point for a segment start.
        let keyframe = avc::contains_idr(config, tag.data);
        self.scratch.clear();
        avc::to_annex_b(config, tag.data, keyframe, &mut self.scratch)?;
        if let Some(step) = self
            .last_video_dts_ms
            .and_then(|last| dts_ms.checked_sub(last))
            && (1..=MAX_FRAME_STEP_MS).contains(&step)
        {
            self.video_step_ms = step;
        }
        self.last_video_dts_ms = Some(dts_ms);

        let mut closed = None;
        if keyframe {
            let due = self.segmenter.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
            let full = self.segmenter.open_len() >= self.config.max_segment_bytes;
            if !self.video_started || !self.segmenter.is_open() || due || full {
                closed = self.cut(dts_ms, Start::RandomAccess);
            }
            self.video_started = true;
        } else if !self.video_started || !self.segmenter.is_open() {
            return Ok(None);
        } else if self.over_hard_limit() {
            closed = self.cut(dts_ms, Start::Forced);
        }
        let cts = u64::from(tag.composition_time_ms.max(0).unsigned_abs());
        let pts_ms = dts_ms.saturating_add(cts);
        self.segmenter
            .write_video(dts_ms, pts_ms, keyframe, &self.scratch, self.video_step_ms);
        Ok(closed)
    }

    /// Feeds one parsed FLV audio tag with its session DTS.
    ///
    /// Returns a segment when this frame starts a new one. An unsupported
    /// codec yields `Err(Unsupported)` once; the track is then ignored.
    pub fn push_audio(
        &mut self,
        dts_ms: u64,
        tag: &AudioTag<'_>,
    ) -> Result<Option<Segment>, MediaError> {
        if self.dropped.audio {
            return Ok(None);
        }
        if tag.codec != AudioCodec::Aac {
            self.dropped.audio = true;
            return Err(MediaError::Unsupported(format!(
                "audio codec {} (only aac is packaged to hls; audio dropped)",
                flv::audio_codec_name(&tag.codec)
            )));
        }
        match tag.packet {
            AudioPacket::SequenceHeader => {
                let config = aac::parse(tag.data)?;
                if let Err(err) = config.adts_header(0) {
                    self.dropped.audio = true;
                    return Err(err);
                }
                self.aac = Some(config);
                Ok(None)
            }
            AudioPacket::Raw => self.audio_frame(dts_ms, tag.data),
        }
    }

    fn audio_frame(&mut self, dts_ms: u64, raw: &[u8]) -> Result<Option<Segment>, MediaError> {
        let Some(config) = self.aac else {
            return Ok(None);
        };
        let header = config.adts_header(raw.len())?;
        self.scratch.clear();
        self.scratch.extend_from_slice(&header);
        self.scratch.extend_from_slice(raw);

        if self.avc.is_none() && !self.video_timed_out {
            let first = *self.first_audio_dts_ms.get_or_insert(dts_ms);
            let waited = dts_ms.saturating_sub(first);
            self.video_timed_out = waited >= self.config.target_duration_ms.saturating_mul(2);
        }
        let mut closed = None;
        if self.video_mode() {
            if !self.segmenter.is_open() {
                return Ok(None);
            }
            if self.over_hard_limit() {
                closed = self.cut(dts_ms, Start::Forced);
            }
        } else {
            let due = self.segmenter.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
            let full = self.segmenter.open_len() >= self.config.max_segment_bytes;
            if !self.segmenter.is_open() || due || full {
                // Every AAC frame is independently decodable.
                closed = self.cut(dts_ms, Start::RandomAccess);
            }
        }
        let frame_ms = config.frame_duration_ms().round() as u64;
        self.segmenter.write_audio(dts_ms, &self.scratch, frame_ms);
        Ok(closed)
    }

    /// Flushes the open segment at the end of the session, if it has frames.
    pub fn finish(&mut self) -> Option<Segment> {
        self.segmenter.finish()
    }

    fn over_hard_limit(&self) -> bool {
        self.segmenter.open_len() >= self.config.max_segment_bytes.saturating_mul(2)
    }

    fn cut(&mut self, dts_ms: u64, start: Start) -> Option<Segment> {
        let tracks = Tracks {
            video: self.video_mode() && self.avc.is_some(),
            audio: self.aac.is_some() && !self.dropped.audio,
        };
        self.segmenter.cut(dts_ms, start, tracks)
    }
}

#[cfg(test)]
#[path = "packager_tests/mod.rs"]
mod tests;
