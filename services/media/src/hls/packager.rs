//! The FLV → MPEG-TS segment pipeline of one publish session: tracks codec
//! configuration, converts frames, and decides where segments are cut.
//!
//! Where segments are cut is decided by [`crate::cuts`], the rule set the CMAF packager
//! follows too, so both renditions cut at the same frames: video keyframes past the target,
//! a ceiling under `EXT-X-TARGETDURATION` ([`super::target_duration_s`], which never
//! changes), and the audio held while video is awaited.
//!
//! A cut segment lasts until the next segment's start DTS; the final one
//! (from [`Packager::finish`]) lasts until the end of its last frame. Either is listed at
//! most at the ceiling (only a timestamp gap makes one longer, and it plays as a gap).
//!
//! Audio is AAC (each frame behind an ADTS header) or MPEG audio such as MP3 (FLV sound
//! formats 2 and 14, carried as they are, stream type 0x03 or 0x04).
//!
//! HEVC and AV1 video (Enhanced RTMP `hvc1`, `av01`) are not written: MPEG-TS HLS stays
//! H.264 for legacy players. They are followed all the same (configuration, keyframes and
//! frame costs), so such a publish's TS segments carry its audio and are cut where the CMAF
//! rendition, which carries the video, is cut (ADR 19).
//!
//! Frames come in parsed ([`flv::VideoTag`], [`flv::AudioTag`]): the origin parses each tag
//! once at ingest, for its own flags, and hands the parsed form on.

use super::audio::AudioConfig;
use super::segmenter::{Segment, Segmenter, Tracks};
use crate::MediaError;
use crate::aac;
use crate::avc;
use crate::cuts::{self, Action, Backlog, Cutter, Held};
use crate::flv::{self, AudioCodec, AudioPacket, AudioTag, FrameType, VideoPacket, VideoTag};
use crate::mpeg_audio;
use crate::video::{self, Codec};

/// Settings of a [`Packager`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackagerConfig {
    /// Minimum segment duration; segments are cut at the first opportunity after it.
    /// Rounded up to whole seconds, it is the constant `EXT-X-TARGETDURATION`.
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
    /// The video track was dropped (neither H.264, HEVC nor AV1; HEVC and AV1 are followed
    /// for the cuts but not written, and do not count as dropped).
    pub video: bool,
    /// The audio track was dropped (neither AAC nor MP3, or an AAC config ADTS cannot carry).
    pub audio: bool,
}

/// An audio frame held while video is awaited: its TS bytes and duration (ms).
type HeldAudio = (Vec<u8>, u64);

/// Turns one publish session's FLV tags into MPEG-TS segments.
///
/// Timestamps passed in must be session milliseconds, monotonic per track
/// (see [`crate::timestamp::Normalizer`]).
#[derive(Debug)]
pub struct Packager {
    video: Option<video::Config>,
    /// The "this video is not written" notice (HEVC, AV1) was given.
    unwritten_noticed: bool,
    audio: Option<AudioConfig>,
    dropped: DroppedTracks,
    cuts: Cutter,
    /// Audio that came while video was expected and no segment was open.
    backlog: Backlog<HeldAudio>,
    /// The streams the open segment's tables declare.
    open_tracks: Tracks,
    segmenter: Segmenter,
    scratch: Vec<u8>,
}

impl Packager {
    /// A packager for a new publish session.
    pub fn new(config: PackagerConfig) -> Self {
        let cuts = Cutter::new(config);
        Self {
            video: None,
            unwritten_noticed: false,
            audio: None,
            dropped: DroppedTracks::default(),
            backlog: cuts.backlog(),
            cuts,
            open_tracks: Tracks::default(),
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
            configured: self.video.is_some(),
            dropped: self.dropped.video,
        }
    }

    /// Feeds one parsed FLV video tag with its session DTS.
    ///
    /// Returns a segment when this frame starts a new one. An HEVC or AV1 sequence start
    /// yields `Err(Unsupported)` once, as a notice (followed for the cuts, not written).
    /// Another unsupported codec yields `Err(Unsupported)` once; the track is then ignored.
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
        let Some(codec) = Codec::of(&tag.codec) else {
            self.dropped.video = true;
            return Err(MediaError::Unsupported(format!(
                "video codec {} (only h264 is packaged to hls; video dropped)",
                flv::video_codec_name(&tag.codec)
            )));
        };
        match tag.packet {
            VideoPacket::SequenceHeader => {
                let config = video::Config::parse(codec, tag.data)?;
                if self.video.as_ref().is_some_and(|old| *old != config) {
                    self.cuts.reconfigured();
                }
                self.video = Some(config);
                if codec != Codec::Avc && !self.unwritten_noticed {
                    self.unwritten_noticed = true;
                    return Err(MediaError::Unsupported(format!(
                        "video codec {} (carried by cmaf only; hls segments carry the audio)",
                        flv::video_codec_name(&tag.codec)
                    )));
                }
                Ok(None)
            }
            VideoPacket::Nalu => self.video_frame(dts_ms, codec, tag),
            VideoPacket::EndOfSequence | VideoPacket::Other => Ok(None),
        }
    }

    fn video_frame(
        &mut self,
        dts_ms: u64,
        codec: Codec,
        tag: &VideoTag<'_>,
    ) -> Result<Option<Segment>, MediaError> {
        let Some(config) = self.video.as_ref().filter(|c| c.codec() == codec) else {
            return Ok(None);
        };
        // Trust the bitstream over the FLV flag: only an IDR (an IRAP picture in HEVC, a key
        // frame in AV1) is a clean random access point for a segment start.
        let keyframe = config.is_keyframe(tag.data);
        let cost = config.frame_cost(tag.data, keyframe);
        self.scratch.clear();
        let written = match config {
            video::Config::Avc(avc) => {
                avc::to_annex_b(avc, tag.data, keyframe, &mut self.scratch)?;
                true
            }
            video::Config::Hevc(_) | video::Config::Av1(_) => {
                config.check(tag.data)?;
                false
            }
        };
        let (closed, opened) = match self.cuts.video(dts_ms, keyframe, cost) {
            Action::Skip | Action::Hold => return Ok(None),
            Action::Write => (None, false),
            Action::Cut { at_ms, start } => (self.cut(at_ms, start), true),
        };
        let cts = u64::from(tag.composition_time_ms.max(0).unsigned_abs());
        let pts_ms = dts_ms.saturating_add(cts);
        let step = self.cuts.video_step_ms();
        if written {
            self.segmenter
                .write_video(dts_ms, pts_ms, keyframe, &self.scratch, step);
        } else {
            self.segmenter.follow_video(dts_ms, step);
        }
        if opened {
            // Audio held for the first keyframe that plays from it on follows it.
            for held in self.backlog.take() {
                if held.dts_ms >= dts_ms {
                    self.cuts.released(held.cost);
                    let (data, frame_ms) = &held.frame;
                    self.segmenter.write_audio(held.dts_ms, data, *frame_ms);
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
            let header = mpeg_audio::parse(tag.data)?;
            self.configure_audio(AudioConfig::Mpeg(header));
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
                self.configure_audio(AudioConfig::Aac(config));
                Ok(None)
            }
            AudioPacket::Raw if matches!(self.audio, Some(AudioConfig::Aac(_))) => {
                self.audio_frame(dts_ms, tag.data)
            }
            AudioPacket::Raw => Ok(None),
        }
    }

    /// Takes a (possibly new) audio configuration; a change cuts at the next opportunity,
    /// as in CMAF, where it needs a new init segment.
    fn configure_audio(&mut self, config: AudioConfig) {
        if self.audio.is_some_and(|old| old != config) {
            self.cuts.reconfigured();
        }
        self.audio = Some(config);
    }

    fn audio_frame(&mut self, dts_ms: u64, payload: &[u8]) -> Result<Option<Segment>, MediaError> {
        let Some(config) = self.audio else {
            return Ok(None);
        };
        let frame_ms = config.frame(payload, &mut self.scratch)?;
        let cost = cuts::frame_cost(payload.len(), 0);
        let video = self.video_state();
        if let Some(at_ms) = self
            .cuts
            .release(dts_ms, video, self.backlog.first_dts_ms())
        {
            // Video never came: the audio held meanwhile opens the first segment.
            self.release_backlog(at_ms);
        }
        let closed = match self.cuts.audio(dts_ms, cost, video) {
            Action::Skip => return Ok(None),
            Action::Hold => {
                let frame = (self.scratch.clone(), frame_ms);
                self.backlog.hold(Held {
                    dts_ms,
                    cost,
                    frame,
                });
                return Ok(None);
            }
            Action::Write => None,
            Action::Cut { at_ms, start } => self.cut(at_ms, start),
        };
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

    /// Opens the first segment at `at_ms` (none is open) with every held audio frame.
    fn release_backlog(&mut self, at_ms: u64) {
        let none_open = self.cut(at_ms, cuts::Start::RandomAccess);
        debug_assert!(none_open.is_none(), "the backlog opens the first segment");
        for held in self.backlog.take() {
            self.cuts.released(held.cost);
            let (data, frame_ms) = &held.frame;
            self.segmenter.write_audio(held.dts_ms, data, *frame_ms);
        }
    }

    /// Flushes the open segment at the end of the session, if it has frames (with the
    /// audio held for a video that never came, if the session ended during the wait).
    pub fn finish(&mut self) -> Option<Segment> {
        if let Some(at_ms) = self
            .cuts
            .release_at_end(self.video_state(), self.backlog.first_dts_ms())
        {
            self.release_backlog(at_ms);
        }
        let last = self.segmenter.finish()?;
        Some(self.within_ceiling(last))
    }

    /// A segment that lasted past the ceiling (only across a timestamp gap, which plays as
    /// a gap anyway) is listed at the ceiling, so the target duration holds.
    fn within_ceiling(&self, mut segment: Segment) -> Segment {
        segment.duration_ms = segment.duration_ms.min(self.cuts.ceiling_ms());
        segment
    }

    fn cut(&mut self, dts_ms: u64, start: cuts::Start) -> Option<Segment> {
        let audio = self.audio.filter(|_| !self.dropped.audio);
        let tracks = Tracks {
            video: self.video_mode()
                && self
                    .video
                    .as_ref()
                    .is_some_and(|config| config.codec() == Codec::Avc),
            audio: audio.is_some(),
            audio_format: audio.map(AudioConfig::format).unwrap_or_default(),
        };
        self.open_tracks = tracks;
        let closed = self.segmenter.cut(dts_ms, start, tracks)?;
        Some(self.within_ceiling(closed))
    }
}

#[cfg(test)]
#[path = "packager_tests/mod.rs"]
mod tests;
