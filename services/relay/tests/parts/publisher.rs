//! A synthetic publish run through a real CMAF packager: 30 fps H.264 with a keyframe about every
//! 2 s and 48 kHz AAC, as part-log events.

use ferrocast_base::{Epoch, Msn};
use ferrocast_media::cmaf::{self, Event, Packager};
use ferrocast_media::flv;
use ferrocast_media::hls::PackagerConfig;
use ferrocast_media::ll::{LogEvent, SegmentSummary, SessionInfo};

/// An x264 SPS (High profile, 320x240) and its PPS, so the init segment has dimensions.
const SPS: [u8; 23] = [
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xb2, 0x02, 0x83, 0xf6, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20,
    0x00, 0x00, 0x07, 0x81, 0xe2, 0x85, 0x49,
];
const PPS: [u8; 6] = [0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0];
/// Milliseconds between video frames (30 fps, rounded as FLV timestamps are).
const FRAME_MS: u64 = 33;
/// Video frames per GOP: a keyframe every 2.013 s, just past the 2 s target, so every
/// keyframe cuts and none is forced by the ceiling (ADR 17).
const GOP: u64 = 61;
/// Milliseconds of one AAC frame at 48 kHz (1024 samples), rounded down.
const AAC_MS: u64 = 21;

/// One publish session and the media time fed so far.
pub struct Publisher {
    packager: Packager,
    info: SessionInfo,
    frames: u64,
    next_audio_ms: u64,
}

impl Publisher {
    /// Session `epoch`, whose first segment is `first_msn`.
    pub fn new(epoch: u64, first_msn: u64) -> Self {
        let packager = Packager::new(cmaf::Config {
            segments: PackagerConfig {
                target_duration_ms: 2_000,
                expect_video: true,
                max_segment_bytes: 32 << 20,
            },
            part_target_ms: 334,
        });
        let info = SessionInfo {
            epoch: Epoch(epoch),
            first_msn: Msn(first_msn),
            started_at_unix_ms: 1_750_000_000_000,
            part_target_ms: 334,
            target_duration_ms: 2_000,
        };
        Self {
            packager,
            info,
            frames: 0,
            next_audio_ms: 0,
        }
    }

    /// The session's start and its codec configurations (which make no events yet).
    pub fn start(&mut self) -> Vec<LogEvent> {
        let mut avc = vec![
            0x17, 0, 0, 0, 0, 1, SPS[1], SPS[2], SPS[3], 0xFF, 0xE1, 0, 23,
        ];
        avc.extend_from_slice(&SPS);
        avc.extend_from_slice(&[1, 0, 6]);
        avc.extend_from_slice(&PPS);
        let mut events = vec![LogEvent::Session(self.info)];
        events.extend(self.video(0, &avc));
        events.extend(self.audio(0, &[0xAF, 0, 0x11, 0x90]));
        events
    }

    /// Feeds the next `ms` of media, frames in DTS order.
    pub fn advance(&mut self, ms: u64) -> Vec<LogEvent> {
        let until = self.frames * FRAME_MS + ms;
        let mut events = Vec::new();
        while self.frames * FRAME_MS < until {
            let video_ms = self.frames * FRAME_MS;
            while self.next_audio_ms < video_ms {
                let at = self.next_audio_ms;
                events.extend(self.audio(at, &[0xAF, 1, 0x21, 0x10, 0x04, 0x60, 0x8C, 0x1C]));
                self.next_audio_ms += AAC_MS;
            }
            let keyframe = self.frames.is_multiple_of(GOP);
            let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0];
            body.extend_from_slice(&201u32.to_be_bytes());
            body.push(if keyframe { 0x65 } else { 0x41 });
            body.extend(std::iter::repeat_n(0x5A, 200));
            events.extend(self.video(video_ms, &body));
            self.frames += 1;
        }
        events
    }

    fn video(&mut self, dts_ms: u64, body: &[u8]) -> Vec<LogEvent> {
        let tag = flv::parse_video(body).expect("a video tag");
        let events = self.packager.push_video(dts_ms, &tag).expect("packaged");
        events.into_iter().map(logged).collect()
    }

    fn audio(&mut self, dts_ms: u64, body: &[u8]) -> Vec<LogEvent> {
        let tag = flv::parse_audio(body).expect("an audio tag");
        let events = self.packager.push_audio(dts_ms, &tag).expect("packaged");
        events.into_iter().map(logged).collect()
    }
}

fn logged(event: Event) -> LogEvent {
    match event {
        Event::Init(init) => LogEvent::Init(init),
        Event::Part(part) => LogEvent::Part(part),
        Event::SegmentEnd(end) => LogEvent::SegmentEnd(SegmentSummary::from(&end)),
    }
}
