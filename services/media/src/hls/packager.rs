//! The FLV → MPEG-TS segment pipeline of one publish session: tracks codec
//! configuration, converts frames, and decides where segments are cut.
//!
//! Cutting rules:
//! - Video mode (video expected from `onMetaData`, or an AVC sequence header
//!   has arrived, and the video track was not dropped): nothing is emitted
//!   until the first IDR; audio before it is held back, and what of it is not
//!   older than the IDR follows it. A segment is cut at an IDR whose DTS is at
//!   least `target_duration_ms` after the segment start.
//! - Audio-only mode (video not expected, video dropped as unsupported, or
//!   no AVC sequence header after one target of audio): cut at the first
//!   audio frame at least `target_duration_ms` after the segment start. The
//!   audio held while waiting for video opens the first segment, so an
//!   audio-only publish loses no frame.
//! - If an AVC sequence header arrives while in audio-only mode, the stream
//!   switches to video mode: audio keeps filling the open segment and the
//!   first IDR cuts a new segment.
//! - Ceiling (RFC 8216 §4.3.3.1, ADR 17): `EXT-X-TARGETDURATION` is
//!   [`target_duration_s`] and never changes, so no segment may round above it.
//!   A frame (a video frame in video mode) after which the next one could take
//!   the open segment past `target + 0.499 s` cuts a segment, keyframe or not,
//!   and the next keyframe opens a segment again; a segment longer than that
//!   (across a timestamp gap) is listed at the ceiling.
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

use super::audio::{AudioConfig, Backlog, HeldFrame};
use super::playlist::target_duration_s;
use super::segmenter::{Segment, Segmenter, Start, Tracks};
use crate::MediaError;
use crate::aac;
use crate::avc::{self, DecoderConfig};
use crate::flv::{
    self, AudioCodec, AudioPacket, AudioTag, FrameType, VideoCodec, VideoPacket, VideoTag,
};
use crate::timestamp::DEFAULT_VIDEO_STEP_MS;

/// Largest DTS step taken as frame cadence when estimating the last frame's
/// duration; bigger steps are gaps.
const MAX_FRAME_STEP_MS: u64 = 1_000;
/// Timestamp jitter allowed for when predicting where the next frame falls (the ceiling).
const CEILING_SLACK_MS: u64 = 20;

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
    /// The audio track was dropped (neither AAC nor MP3, or an AAC config ADTS cannot carry).
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
    audio: Option<AudioConfig>,
    dropped: DroppedTracks,
    /// Set when audio ran one target without any AVC configuration.
    video_timed_out: bool,
    /// Audio that came while video was expected and no segment was open.
    backlog: Backlog,
    first_audio_dts_ms: Option<u64>,
    /// An IDR has been written, so inter frames may follow.
    video_started: bool,
    /// The open segment was cut where no random access point was (a bound forced it): the
    /// next keyframe opens a segment again.
    open_forced: bool,
    /// The streams the open segment's tables declare.
    open_tracks: Tracks,
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
            audio: None,
            dropped: DroppedTracks::default(),
            video_timed_out: false,
            backlog: Backlog::default(),
            first_audio_dts_ms: None,
            video_started: false,
            open_forced: false,
            open_tracks: Tracks::default(),
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
        let first_idr = keyframe && !self.video_started;
        if keyframe {
            let due = self.segmenter.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
            let full = self.segmenter.open_len() >= self.config.max_segment_bytes;
            let long = self.over_ceiling(dts_ms);
            let realign = self.open_forced;
            if !self.video_started || !self.segmenter.is_open() || due || full || long || realign {
                closed = self.cut(dts_ms, Start::RandomAccess);
            }
            self.video_started = true;
        } else if !self.video_started || !self.segmenter.is_open() {
            return Ok(None);
        } else if self.over_hard_limit() || self.over_ceiling(dts_ms) {
            closed = self.cut(dts_ms, Start::Forced);
        }
        let cts = u64::from(tag.composition_time_ms.max(0).unsigned_abs());
        let pts_ms = dts_ms.saturating_add(cts);
        self.segmenter
            .write_video(dts_ms, pts_ms, keyframe, &self.scratch, self.video_step_ms);
        if first_idr {
            // Audio that arrived before the IDR but plays from it on belongs with it.
            for held in self.backlog.take() {
                if held.dts_ms >= dts_ms {
                    self.segmenter
                        .write_audio(held.dts_ms, &held.data, held.duration_ms);
                }
            }
        }
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
        if tag.codec.is_mp3() {
            // MPEG audio frames describe themselves: no sequence header comes first.
            let header = crate::mpeg_audio::parse_header(tag.data)?;
            self.audio = Some(AudioConfig::Mpeg(header.version));
            return self.audio_frame(dts_ms, tag.data);
        }
        if tag.codec != AudioCodec::Aac {
            self.dropped.audio = true;
            return Err(MediaError::Unsupported(format!(
                "audio codec {} (only aac and mp3 are packaged to hls; audio dropped)",
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
                self.audio = Some(AudioConfig::Aac(config));
                Ok(None)
            }
            AudioPacket::Raw if matches!(self.audio, Some(AudioConfig::Aac(_))) => {
                self.audio_frame(dts_ms, tag.data)
            }
            AudioPacket::Raw => Ok(None),
        }
    }

    fn audio_frame(&mut self, dts_ms: u64, payload: &[u8]) -> Result<Option<Segment>, MediaError> {
        let Some(config) = self.audio else {
            return Ok(None);
        };
        let frame_ms = config.frame(payload, &mut self.scratch)?;

        if self.avc.is_none() && !self.video_timed_out {
            let first = *self.first_audio_dts_ms.get_or_insert(dts_ms);
            let waited = dts_ms.saturating_sub(first);
            self.video_timed_out = waited >= self.config.target_duration_ms;
        }
        let mut closed = None;
        if self.video_mode() {
            if !self.segmenter.is_open() {
                let held = HeldFrame {
                    dts_ms,
                    data: self.scratch.clone(),
                    duration_ms: frame_ms,
                };
                let span = self.config.target_duration_ms;
                self.backlog.hold(held, span, self.config.max_segment_bytes);
                return Ok(None);
            }
            if self.over_hard_limit() {
                closed = self.cut(dts_ms, Start::Forced);
            }
        } else {
            if !self.segmenter.is_open() {
                // Video never came: the audio held meanwhile opens the first segment.
                self.release_backlog();
            }
            let due = self.segmenter.elapsed_ms(dts_ms) >= self.config.target_duration_ms;
            let full = self.segmenter.open_len() >= self.config.max_segment_bytes;
            let long = self.over_ceiling(dts_ms);
            if !self.segmenter.is_open() || due || full || long {
                // Every AAC or MPEG audio frame is independently decodable.
                closed = self.cut(dts_ms, Start::RandomAccess);
            }
        }
        self.declare_audio();
        self.segmenter.write_audio(dts_ms, &self.scratch, frame_ms);
        Ok(closed)
    }

    /// Declares the audio track in the open segment when it was learnt after the segment
    /// began (an MP3 track is known from its first frame, an AAC one may be configured late).
    fn declare_audio(&mut self) {
        let Some(audio) = self.audio else {
            return;
        };
        let tracks = Tracks {
            audio: true,
            audio_format: audio.format(),
            ..self.open_tracks
        };
        if tracks != self.open_tracks {
            self.segmenter.redeclare(tracks);
            self.open_tracks = tracks;
        }
    }

    /// Writes the held audio into a segment opened at its first frame (called with none
    /// open). It spans less than a target and fits the byte bound, so it is written whole.
    fn release_backlog(&mut self) {
        for held in self.backlog.take() {
            if !self.segmenter.is_open() {
                let none_open = self.cut(held.dts_ms, Start::RandomAccess);
                debug_assert!(
                    none_open.is_none(),
                    "the backlog is released into no segment"
                );
            }
            self.segmenter
                .write_audio(held.dts_ms, &held.data, held.duration_ms);
        }
    }

    /// Flushes the open segment at the end of the session, if it has frames.
    pub fn finish(&mut self) -> Option<Segment> {
        let last = self.segmenter.finish()?;
        Some(self.within_ceiling(last))
    }

    fn over_hard_limit(&self) -> bool {
        self.segmenter.open_len() >= self.config.max_segment_bytes.saturating_mul(2)
    }

    /// The longest a segment may last: it still rounds to the target duration.
    fn ceiling_ms(&self) -> u64 {
        let target_s = target_duration_s(self.config.target_duration_ms);
        target_s.saturating_mul(1000).saturating_add(499)
    }

    /// Whether the open segment must close at the frame at `dts_ms`: the frame after it, one
    /// frame step (plus jitter) later, could take the segment past the ceiling.
    fn over_ceiling(&self, dts_ms: u64) -> bool {
        let next = self.video_step_ms.saturating_add(CEILING_SLACK_MS);
        self.segmenter.is_open()
            && self.segmenter.elapsed_ms(dts_ms).saturating_add(next) > self.ceiling_ms()
    }

    /// A segment that lasted past the ceiling (only across a timestamp gap, which plays as
    /// a gap anyway) is listed at the ceiling, so the target duration holds.
    fn within_ceiling(&self, mut segment: Segment) -> Segment {
        segment.duration_ms = segment.duration_ms.min(self.ceiling_ms());
        segment
    }

    fn cut(&mut self, dts_ms: u64, start: Start) -> Option<Segment> {
        let audio = self.audio.filter(|_| !self.dropped.audio);
        let tracks = Tracks {
            video: self.video_mode() && self.avc.is_some(),
            audio: audio.is_some(),
            audio_format: audio.map(AudioConfig::format).unwrap_or_default(),
        };
        self.open_forced = start == Start::Forced;
        self.open_tracks = tracks;
        let closed = self.segmenter.cut(dts_ms, start, tracks)?;
        Some(self.within_ceiling(closed))
    }
}

#[cfg(test)]
#[path = "packager_tests/mod.rs"]
mod tests;
