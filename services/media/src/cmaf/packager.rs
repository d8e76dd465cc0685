//! The FLV → CMAF pipeline of one publish session: keeps the decoder configurations (and
//! the init segments made from them), asks [`crate::cuts`] where segments are cut, times
//! each frame on its track's timescale and hands it to the segment assembler.
//!
//! It accepts and refuses exactly the frames the MPEG-TS packager does (an AVC or HEVC
//! access unit with a NAL length past its end, an AV1 one with an OBU size past it, an AAC frame longer than ADTS can frame, an MP3 payload
//! without a frame header), and costs them the same way, so the two renditions cut at the
//! same frames; it holds the same audio while video is awaited ([`crate::cuts::Backlog`]).
//! It can carry more than the TS path: AAC configurations ADTS cannot express, and HEVC and
//! AV1 video, which the TS packager follows for its cuts but does not write (ADR 19).

use bytes::Bytes;

use super::segments::{Active, Assembler};
use super::track::Sample;
use super::{Event, PRESENTATION_DELAY_MS, TrackKind, VIDEO_TIMESCALE, init, video_ticks};
use crate::MediaError;
use crate::aac::{self, AudioSpecificConfig};
use crate::cuts::{self, Action, Backlog, Cutter, Held, Start};
use crate::flv::{self, AudioCodec, AudioPacket, AudioTag, FrameType, VideoPacket, VideoTag};
use crate::hls::{DroppedTracks, PackagerConfig};
use crate::mpeg_audio;
use crate::video::{self, Codec};

/// Default part target: ten 30 fps frames (ADR 16, decision 3).
pub const DEFAULT_PART_TARGET_MS: u64 = 334;
/// PCM samples per AAC frame (the core frame of HE-AAC).
const AAC_FRAME_SAMPLES: u32 = 1024;
/// Largest raw AAC frame an ADTS header can frame (13-bit length minus the 7-byte header).
const MAX_AAC_FRAME_LEN: usize = 0x1FFF - aac::ADTS_HEADER_LEN;
/// Video ticks per millisecond.
const VIDEO_TICKS_PER_MS: u64 = VIDEO_TIMESCALE as u64 / 1_000;

/// Settings of a [`Packager`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The segment rules, shared with the MPEG-TS packager.
    pub segments: PackagerConfig,
    /// The longest a part may last (`PART-TARGET`).
    pub part_target_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            segments: PackagerConfig::default(),
            part_target_ms: DEFAULT_PART_TARGET_MS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AudioConfig {
    Aac(AudioSpecificConfig),
    Mp3(mpeg_audio::Header),
}

/// An audio frame held while video is awaited: the frame, its samples and sample rate.
type HeldAudio = (Bytes, u32, u32);

/// Turns one publish session's FLV tags into CMAF init segments, parts and segments.
///
/// Timestamps passed in must be session milliseconds, monotonic per track (see
/// [`crate::timestamp::Normalizer`]).
#[derive(Debug)]
pub struct Packager {
    cuts: Cutter,
    parts: Assembler,
    video: Option<video::Config>,
    audio: Option<AudioConfig>,
    video_inits: u32,
    audio_inits: u32,
    dropped: DroppedTracks,
    /// Audio that came while video was expected and no segment was open.
    backlog: Backlog<HeldAudio>,
    /// Where the next audio frame starts if it follows the last one without a gap.
    audio_next: Option<u64>,
}

impl Packager {
    /// A packager for a new publish session.
    pub fn new(config: Config) -> Self {
        let cuts = Cutter::new(config.segments);
        Self {
            parts: Assembler::new(config.part_target_ms, cuts.ceiling_ms()),
            backlog: cuts.backlog(),
            cuts,
            video: None,
            audio: None,
            video_inits: 0,
            audio_inits: 0,
            dropped: DroppedTracks::default(),
            audio_next: None,
        }
    }

    /// Which tracks were dropped as unsupported.
    pub fn dropped_tracks(&self) -> DroppedTracks {
        self.dropped
    }

    /// Whether segments are currently cut on audio frames (no usable video).
    pub fn is_audio_only(&self) -> bool {
        !self.cuts.video_mode(self.video_state())
    }

    fn video_state(&self) -> cuts::Video {
        cuts::Video {
            configured: self.video.is_some(),
            dropped: self.dropped.video,
        }
    }

    /// Feeds one parsed FLV video tag with its session DTS.
    ///
    /// H.264 (`avc1`), and HEVC (`hvc1`) and AV1 (`av01`) from Enhanced RTMP, are packaged.
    /// Another codec (VP9, legacy FLV codecs) yields `Err(Unsupported)` once; the track is
    /// then ignored.
    /// A configuration of another codec than the current one is a reconfiguration (a new
    /// init segment); frames of a codec that is not the configured one are skipped.
    pub fn push_video(
        &mut self,
        dts_ms: u64,
        tag: &VideoTag<'_>,
    ) -> Result<Vec<Event>, MediaError> {
        if self.dropped.video || tag.frame_type == FrameType::Command {
            return Ok(Vec::new());
        }
        let Some(codec) = Codec::of(&tag.codec) else {
            self.dropped.video = true;
            return Err(MediaError::Unsupported(format!(
                "video codec {} (only h264, hevc and av1 are packaged to cmaf; video dropped)",
                flv::video_codec_name(&tag.codec)
            )));
        };
        match tag.packet {
            VideoPacket::SequenceHeader => {
                let config = video::Config::parse(codec, tag.data)?;
                if self.video.as_ref() == Some(&config) {
                    return Ok(Vec::new());
                }
                if self.video.is_some() {
                    self.cuts.reconfigured();
                }
                let init = init::video(&config, tag.data, self.video_inits)?;
                self.video_inits += 1;
                self.parts.stage_init(init);
                self.video = Some(config);
                Ok(Vec::new())
            }
            VideoPacket::Nalu => self.video_frame(dts_ms, codec, tag),
            VideoPacket::EndOfSequence | VideoPacket::Other => Ok(Vec::new()),
        }
    }

    fn video_frame(
        &mut self,
        dts_ms: u64,
        codec: Codec,
        tag: &VideoTag<'_>,
    ) -> Result<Vec<Event>, MediaError> {
        let Some(config) = self.video.as_ref().filter(|c| c.codec() == codec) else {
            return Ok(Vec::new());
        };
        // Refuse what the TS packager refuses, so both count the same frames.
        config.check(tag.data)?;
        // Trust the bitstream over the FLV flag, as the TS packager does.
        let keyframe = config.is_keyframe(tag.data);
        let cost = config.frame_cost(tag.data, keyframe);

        let mut events = Vec::new();
        let opened = match self.cuts.video(dts_ms, keyframe, cost) {
            Action::Skip | Action::Hold => return Ok(events),
            Action::Write => false,
            Action::Cut { at_ms, start } => {
                self.cut(at_ms, start, &mut events)?;
                true
            }
        };
        let cts_ticks = i64::from(tag.composition_time_ms) * VIDEO_TICKS_PER_MS as i64;
        let sample = Sample {
            dts: video_ticks(dts_ms),
            dts_ms,
            duration: 0,
            cts: i32::try_from(cts_ticks).unwrap_or(if cts_ticks < 0 {
                i32::MIN
            } else {
                i32::MAX
            }),
            sync: keyframe,
            data: Bytes::copy_from_slice(tag.data),
        };
        let estimate = self.cuts.video_step_ms() * VIDEO_TICKS_PER_MS;
        self.parts
            .push(TrackKind::Video, sample, estimate, &mut events)?;
        if opened {
            // Audio held for the first keyframe that plays from it on follows it.
            for held in self.backlog.take() {
                if held.dts_ms >= dts_ms {
                    self.cuts.released(held.cost);
                    let (data, samples, rate) = held.frame;
                    self.write_audio(held.dts_ms, data, samples, rate, &mut events)?;
                }
            }
        }
        Ok(events)
    }

    /// Feeds one parsed FLV audio tag with its session DTS.
    ///
    /// AAC and MP3 (FLV sound formats 2 and 14) are carried; another codec yields `Err(Unsupported)` once and the track
    /// is then ignored.
    pub fn push_audio(
        &mut self,
        dts_ms: u64,
        tag: &AudioTag<'_>,
    ) -> Result<Vec<Event>, MediaError> {
        if self.dropped.audio {
            return Ok(Vec::new());
        }
        match (tag.codec, tag.packet) {
            (AudioCodec::Aac, AudioPacket::SequenceHeader) => {
                let config = aac::parse(tag.data)?;
                let mut events = Vec::new();
                self.configure_audio(AudioConfig::Aac(config), tag.data, &mut events)?;
                Ok(events)
            }
            (AudioCodec::Aac, AudioPacket::Raw) => {
                let Some(AudioConfig::Aac(config)) = &self.audio else {
                    return Ok(Vec::new());
                };
                if tag.data.len() > MAX_AAC_FRAME_LEN {
                    return Err(MediaError::TooLarge {
                        what: "aac frame",
                        len: tag.data.len(),
                        max: MAX_AAC_FRAME_LEN,
                    });
                }
                let rate = config.sample_rate;
                self.audio_frame(dts_ms, tag.data, AAC_FRAME_SAMPLES, rate)
            }
            (codec, _) if codec.is_mp3() => {
                let header = mpeg_audio::parse(tag.data)?;
                let mut events = Vec::new();
                self.configure_audio(AudioConfig::Mp3(header), tag.data, &mut events)?;
                let (samples, rate) = (header.samples_per_frame(), header.sample_rate);
                events.extend(self.audio_frame(dts_ms, tag.data, samples, rate)?);
                Ok(events)
            }
            (codec @ AudioCodec::Other(_), _) => {
                self.dropped.audio = true;
                Err(MediaError::Unsupported(format!(
                    "audio codec {} (only aac and mp3 are packaged to cmaf; audio dropped)",
                    flv::audio_codec_name(&codec)
                )))
            }
        }
    }

    /// Takes a (possibly new) audio configuration: the first one joins the open segment, a
    /// change stages a new init segment and makes the next cut opportunity cut.
    fn configure_audio(
        &mut self,
        config: AudioConfig,
        raw: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<(), MediaError> {
        if self.audio.as_ref() == Some(&config) {
            return Ok(());
        }
        if self.audio.is_some() {
            self.cuts.reconfigured();
        }
        let init = match &config {
            AudioConfig::Aac(asc) => init::aac(asc, raw, self.audio_inits)?,
            AudioConfig::Mp3(header) => init::mp3(header, self.audio_inits)?,
        };
        self.audio_inits += 1;
        self.parts.stage_init(init);
        self.parts.join(TrackKind::Audio, events);
        self.audio = Some(config);
        Ok(())
    }

    fn audio_frame(
        &mut self,
        dts_ms: u64,
        data: &[u8],
        frame_samples: u32,
        sample_rate: u32,
    ) -> Result<Vec<Event>, MediaError> {
        let cost = cuts::frame_cost(data.len(), 0);
        let video = self.video_state();
        let mut events = Vec::new();
        if let Some(at_ms) = self
            .cuts
            .release(dts_ms, video, self.backlog.first_dts_ms())
        {
            // Video never came: the audio held meanwhile opens the first segment.
            self.release_backlog(at_ms, &mut events)?;
        }
        let data = Bytes::copy_from_slice(data);
        match self.cuts.audio(dts_ms, cost, video) {
            Action::Skip => return Ok(events),
            Action::Hold => {
                let frame = (data, frame_samples, sample_rate);
                self.backlog.hold(Held {
                    dts_ms,
                    cost,
                    frame,
                });
                return Ok(events);
            }
            Action::Write => {}
            Action::Cut { at_ms, start } => self.cut(at_ms, start, &mut events)?,
        }
        self.write_audio(dts_ms, data, frame_samples, sample_rate, &mut events)?;
        Ok(events)
    }

    /// Opens the first segment at `at_ms` (none is open) with every held audio frame.
    fn release_backlog(&mut self, at_ms: u64, events: &mut Vec<Event>) -> Result<(), MediaError> {
        self.cut(at_ms, Start::RandomAccess, events)?;
        for held in self.backlog.take() {
            self.cuts.released(held.cost);
            let (data, samples, rate) = held.frame;
            self.write_audio(held.dts_ms, data, samples, rate, events)?;
        }
        Ok(())
    }

    /// Times one audio frame on the track's clock and adds it to the open segment.
    fn write_audio(
        &mut self,
        dts_ms: u64,
        data: Bytes,
        frame_samples: u32,
        sample_rate: u32,
        events: &mut Vec<Event>,
    ) -> Result<(), MediaError> {
        // Frames last exactly their samples; follow the FLV clock only when it moves more
        // than a frame away (a gap or a jump), not for its millisecond rounding.
        let frame = u64::from(frame_samples);
        let delayed_ms = dts_ms.saturating_add(PRESENTATION_DELAY_MS);
        let stamped = u64::try_from(u128::from(delayed_ms) * u128::from(sample_rate) / 1_000)
            .unwrap_or(u64::MAX);
        let dts = match self.audio_next {
            Some(next) if next.abs_diff(stamped) <= frame => next,
            _ => stamped,
        };
        self.audio_next = Some(dts.saturating_add(frame));
        let sample = Sample {
            dts,
            dts_ms,
            duration: frame_samples,
            cts: 0,
            sync: true,
            data,
        };
        self.parts.push(TrackKind::Audio, sample, frame, events)
    }

    fn cut(&mut self, at_ms: u64, start: Start, events: &mut Vec<Event>) -> Result<(), MediaError> {
        let video_mode = self.cuts.video_mode(self.video_state());
        let leading = if video_mode {
            TrackKind::Video
        } else {
            TrackKind::Audio
        };
        let active = Active {
            video: video_mode && self.video.is_some(),
            audio: self.audio.is_some() && !self.dropped.audio,
        };
        self.parts
            .cut(at_ms, start == Start::RandomAccess, leading, active, events)
    }

    /// Closes the open segment at the end of the session (with the audio held for a video
    /// that never came, if the session ended during the wait); the last video frame lasts
    /// the last frame step, as in the TS packager.
    pub fn finish(&mut self) -> Result<Vec<Event>, MediaError> {
        let mut events = Vec::new();
        if let Some(at_ms) = self
            .cuts
            .release_at_end(self.video_state(), self.backlog.first_dts_ms())
        {
            self.release_backlog(at_ms, &mut events)?;
        }
        let step = self.cuts.video_step_ms();
        self.parts.finish(step * VIDEO_TICKS_PER_MS, &mut events)?;
        Ok(events)
    }
}
