//! The FLV → MPEG-TS segment pipeline of one publish session: tracks codec
//! configuration, converts frames, and decides where segments are cut.
//!
//! Where segments are cut is decided by [`crate::cuts`], the rule set the CMAF packager
//! follows too, so both renditions cut at the same frames.
//!
//! A cut segment lasts until the next segment's start DTS; the final one
//! (from [`Packager::finish`]) lasts until the end of its last frame.
//!
//! Frames come in parsed ([`flv::VideoTag`], [`flv::AudioTag`]): the origin parses each tag
//! once at ingest, for its own flags, and hands the parsed form on.

use super::segmenter::{Segment, Segmenter, Tracks};
use crate::MediaError;
use crate::aac::{self, AudioSpecificConfig};
use crate::avc::{self, DecoderConfig};
use crate::cuts::{self, Action, Cutter};
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
    /// Soft memory bound of one segment, in frame costs (see [`crate::cuts`]).
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
    avc: Option<DecoderConfig>,
    aac: Option<AudioSpecificConfig>,
    dropped: DroppedTracks,
    cuts: Cutter,
    last_video_dts_ms: Option<u64>,
    video_step_ms: u64,
    segmenter: Segmenter,
    scratch: Vec<u8>,
}

impl Packager {
    /// A packager for a new publish session.
    pub fn new(config: PackagerConfig) -> Self {
        Self {
            avc: None,
            aac: None,
            dropped: DroppedTracks::default(),
            cuts: Cutter::new(config),
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
        self.cuts.video_mode(self.video_state())
    }

    fn video_state(&self) -> cuts::Video {
        cuts::Video {
            configured: self.avc.is_some(),
            dropped: self.dropped.video,
        }
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
                let config = avc::parse(tag.data)?;
                if self.avc.as_ref().is_some_and(|old| *old != config) {
                    self.cuts.reconfigured();
                }
                self.avc = Some(config);
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

        let cost = cuts::frame_cost(
            tag.data.len(),
            if keyframe {
                cuts::config_len(config)
            } else {
                0
            },
        );
        let closed = match self.cuts.video(dts_ms, keyframe, cost) {
            Action::Skip => return Ok(None),
            Action::Write => None,
            Action::Cut { at_ms, start } => self.cut(at_ms, start),
        };
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
                if self.aac.is_some_and(|old| old != config) {
                    self.cuts.reconfigured();
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

        let cost = cuts::frame_cost(raw.len(), 0);
        let closed = match self.cuts.audio(dts_ms, cost, self.video_state()) {
            Action::Skip => return Ok(None),
            Action::Write => None,
            Action::Cut { at_ms, start } => self.cut(at_ms, start),
        };
        let frame_ms = config.frame_duration_ms().round() as u64;
        self.segmenter.write_audio(dts_ms, &self.scratch, frame_ms);
        Ok(closed)
    }

    /// Flushes the open segment at the end of the session, if it has frames.
    pub fn finish(&mut self) -> Option<Segment> {
        self.segmenter.finish()
    }

    fn cut(&mut self, dts_ms: u64, start: cuts::Start) -> Option<Segment> {
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
