//! Test fixtures: a synthetic publisher (30 fps H.264, or HEVC from Enhanced RTMP, with a
//! keyframe every 2 s, 44.1 kHz AAC) run through a real [`Packager`], its events as [`LogEvent`]s.

use ferrocast_base::{Epoch, Msn};

use super::{LogConfig, LogEvent, PartLog, SessionInfo};
use crate::cmaf::{Config, Event, Packager};
use crate::flv;
use crate::hls::PackagerConfig;
use crate::test_support::{
    flv_aac, flv_avc_sequence_header, flv_hevc, flv_hevc_sequence_start, flv_video,
};

/// A real x264 SPS (High profile, 320x240).
const SPS: [u8; 23] = [
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xb2, 0x02, 0x83, 0xf6, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20,
    0x00, 0x00, 0x07, 0x81, 0xe2, 0x85, 0x49,
];
const PPS: [u8; 6] = [0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0];
/// AAC-LC, 44.1 kHz, stereo.
const AAC_SEQUENCE_HEADER: [u8; 4] = [0xAF, 0, 0x12, 0x10];
/// Wall-clock time of the first session's DTS 0.
pub(crate) const STARTED_AT_MS: i64 = 1_800_000_000_000;

fn avc_sequence_header() -> Vec<u8> {
    flv_avc_sequence_header(&SPS, &PPS)
}

/// One publish session fed frame by frame.
pub(crate) struct Publisher {
    packager: Packager,
    pub(crate) info: SessionInfo,
    video: bool,
    audio: bool,
    /// Video is x265's 160x120 HEVC rather than H.264.
    hevc: bool,
    video_frames: u64,
    audio_frames: u64,
}

impl Publisher {
    /// A session with video and audio, 2 s segments.
    pub(crate) fn new(epoch: u64, first_msn: u64) -> Self {
        Self::with(epoch, first_msn, true, true)
    }

    /// A session with the tracks asked for, 2 s segments, 334 ms parts.
    pub(crate) fn with(epoch: u64, first_msn: u64, video: bool, audio: bool) -> Self {
        let config = Config {
            segments: PackagerConfig {
                target_duration_ms: 2_000,
                expect_video: video,
                max_segment_bytes: 64 << 20,
            },
            part_target_ms: 334,
        };
        let info = SessionInfo {
            epoch: Epoch(epoch),
            first_msn: Msn(first_msn),
            started_at_unix_ms: STARTED_AT_MS + epoch as i64 * 3_600_000,
            part_target_ms: 334,
            target_duration_ms: 2_000,
        };
        let mut publisher = Self {
            packager: Packager::new(config),
            info,
            video,
            audio,
            hevc: false,
            video_frames: 0,
            audio_frames: 0,
        };
        if video {
            publisher.push_video(0, &avc_sequence_header());
        }
        if audio {
            publisher.push_audio(0, &AAC_SEQUENCE_HEADER);
        }
        publisher
    }

    /// A session with HEVC video (Enhanced RTMP `hvc1`) and audio, 2 s segments.
    pub(crate) fn hevc(epoch: u64, first_msn: u64) -> Self {
        let mut publisher = Self::with(epoch, first_msn, false, true);
        publisher.video = true;
        publisher.hevc = true;
        publisher.push_video(0, &flv_hevc_sequence_start(30));
        publisher
    }

    /// The session's start event.
    pub(crate) fn start(&self) -> LogEvent {
        LogEvent::Session(self.info)
    }

    fn push_video(&mut self, dts_ms: u64, body: &[u8]) -> Vec<LogEvent> {
        let tag = flv::parse_video(body).expect("a valid video tag");
        let events = self.packager.push_video(dts_ms, &tag).expect("accepted");
        events.into_iter().map(to_log).collect()
    }

    fn push_audio(&mut self, dts_ms: u64, body: &[u8]) -> Vec<LogEvent> {
        let tag = flv::parse_audio(body).expect("a valid audio tag");
        let events = self.packager.push_audio(dts_ms, &tag).expect("accepted");
        events.into_iter().map(to_log).collect()
    }

    /// Feeds the frames of the next `ms` milliseconds, interleaved by DTS.
    pub(crate) fn advance(&mut self, ms: u64) -> Vec<LogEvent> {
        let end_ms = self.now_ms() + ms;
        let mut events = Vec::new();
        loop {
            let video_dts = self.video.then(|| self.video_frames * 1_000 / 30);
            let audio_dts = self
                .audio
                .then(|| self.audio_frames * 1024 * 1_000 / 44_100);
            let next = match (video_dts, audio_dts) {
                (Some(v), Some(a)) if a < v => (a, false),
                (Some(v), _) => (v, true),
                (None, Some(a)) => (a, false),
                (None, None) => return events,
            };
            if next.0 >= end_ms {
                return events;
            }
            if next.1 {
                let keyframe = self.video_frames.is_multiple_of(60);
                self.video_frames += 1;
                let body = if self.hevc {
                    flv_hevc(keyframe, keyframe, 0, 600)
                } else {
                    flv_video(keyframe, 0, 600)
                };
                events.extend(self.push_video(next.0, &body));
            } else {
                self.audio_frames += 1;
                events.extend(self.push_audio(next.0, &flv_aac(120)));
            }
        }
    }

    fn now_ms(&self) -> u64 {
        if self.video {
            self.video_frames * 1_000 / 30
        } else {
            self.audio_frames * 1024 * 1_000 / 44_100
        }
    }

    /// Ends the session cleanly.
    pub(crate) fn finish(mut self) -> Vec<LogEvent> {
        let events = self.packager.finish().expect("finished");
        let mut events: Vec<LogEvent> = events.into_iter().map(to_log).collect();
        events.push(LogEvent::SessionEnd);
        events
    }
}

fn to_log(event: Event) -> LogEvent {
    match event {
        Event::Init(init) => LogEvent::Init(init),
        Event::Part(part) => LogEvent::Part(part),
        Event::SegmentEnd(end) => LogEvent::SegmentEnd((&end).into()),
    }
}

/// A log with `config` fed `events`, each accepted.
pub(crate) fn log_of(config: LogConfig, events: &[LogEvent]) -> PartLog {
    let mut log = PartLog::new(config);
    for event in events {
        log.apply(event.clone()).expect("in order");
    }
    log
}

/// A session's start and its first `ms` milliseconds.
pub(crate) fn session_events(publisher: &mut Publisher, ms: u64) -> Vec<LogEvent> {
    let mut events = vec![publisher.start()];
    events.extend(publisher.advance(ms));
    events
}
