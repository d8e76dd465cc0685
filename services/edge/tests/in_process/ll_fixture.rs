//! A synthetic publisher for the LL tests: 30 fps H.264 (a real x264 SPS, a keyframe every
//! 2 s) and 44.1 kHz AAC, run through a real `cmaf::Packager`, its events as the part log's
//! events, applied to the stream's log as the relay mirror would apply them.

use ferrocast_base::{Epoch, Msn};
use ferrocast_live::LogChannel;
use ferrocast_media::cmaf::TrackKind;
use ferrocast_media::cmaf::{Config, Event, Packager};
use ferrocast_media::flv;
use ferrocast_media::hls::PackagerConfig;
use ferrocast_media::ll::names;
use ferrocast_media::ll::{LogEvent, SessionInfo};

/// A real x264 SPS (High profile, 320x240) and its PPS.
const SPS: [u8; 23] = [
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xb2, 0x02, 0x83, 0xf6, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20,
    0x00, 0x00, 0x07, 0x81, 0xe2, 0x85, 0x49,
];
const PPS: [u8; 6] = [0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0];
/// AAC-LC, 44.1 kHz, stereo.
const AAC_SEQUENCE_HEADER: [u8; 4] = [0xAF, 0, 0x12, 0x10];
/// The sessions' epoch in these tests.
pub const EPOCH: u64 = 3;
/// Segment target of the session, milliseconds.
pub const TARGET_DURATION_MS: u64 = 2_000;
/// Part target of the session, milliseconds.
pub const PART_TARGET_MS: u64 = 334;

fn avc_sequence_header() -> Vec<u8> {
    let mut body = vec![0x17, 0, 0, 0, 0, 1, SPS[1], SPS[2], SPS[3], 0xFF, 0xE1];
    body.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
    body.extend_from_slice(&SPS);
    body.push(1);
    body.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
    body.extend_from_slice(&PPS);
    body
}

/// Frame `n`'s FLV video body: one NAL unit whose bytes depend on `n`, so every part differs.
fn video_frame(n: u64) -> Vec<u8> {
    let keyframe = n.is_multiple_of(60);
    let size = 500 + (n % 7) as usize * 10;
    let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0];
    body.extend_from_slice(&((size + 1) as u32).to_be_bytes());
    body.push(if keyframe { 0x65 } else { 0x41 });
    body.extend((0..size).map(|i| ((i as u64 + n) % 251) as u8 | 1));
    body
}

fn audio_frame(n: u64) -> Vec<u8> {
    let mut body = vec![0xAF, 1];
    body.extend((0..100u64).map(|i| (i + n) as u8));
    body
}

/// One publish session, fed in steps of media time.
pub struct Publisher {
    packager: Packager,
    info: SessionInfo,
    video_frames: u64,
    audio_frames: u64,
}

impl Publisher {
    /// A session of `epoch` whose first segment is `first_msn`.
    pub fn new(epoch: u64, first_msn: u64) -> Self {
        let config = Config {
            segments: PackagerConfig {
                target_duration_ms: TARGET_DURATION_MS,
                expect_video: true,
                max_segment_bytes: 64 << 20,
            },
            part_target_ms: PART_TARGET_MS,
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64;
        let mut publisher = Self {
            packager: Packager::new(config),
            info: SessionInfo {
                epoch: Epoch(epoch),
                first_msn: Msn(first_msn),
                started_at_unix_ms: now_ms,
                part_target_ms: PART_TARGET_MS,
                target_duration_ms: TARGET_DURATION_MS,
            },
            video_frames: 0,
            audio_frames: 0,
        };
        let header = avc_sequence_header();
        let tag = flv::parse_video(&header).unwrap();
        assert!(publisher.packager.push_video(0, &tag).unwrap().is_empty());
        let tag = flv::parse_audio(&AAC_SEQUENCE_HEADER).unwrap();
        assert!(publisher.packager.push_audio(0, &tag).unwrap().is_empty());
        publisher
    }

    /// The session's start.
    pub fn start(&self) -> LogEvent {
        LogEvent::Session(self.info)
    }

    /// The events of the next `ms` milliseconds of frames, interleaved by DTS.
    pub fn advance(&mut self, ms: u64) -> Vec<LogEvent> {
        let end_ms = self.video_frames * 1000 / 30 + ms;
        let mut events = Vec::new();
        loop {
            let video_dts = self.video_frames * 1000 / 30;
            let audio_dts = self.audio_frames * 1024 * 1000 / 44_100;
            if video_dts.min(audio_dts) >= end_ms {
                return events;
            }
            let produced = if audio_dts < video_dts {
                let body = audio_frame(self.audio_frames);
                self.audio_frames += 1;
                let tag = flv::parse_audio(&body).unwrap();
                self.packager.push_audio(audio_dts, &tag).unwrap()
            } else {
                let body = video_frame(self.video_frames);
                self.video_frames += 1;
                let tag = flv::parse_video(&body).unwrap();
                self.packager.push_video(video_dts, &tag).unwrap()
            };
            events.extend(produced.into_iter().map(to_log));
        }
    }

    /// Feeds frames until the packager has produced at least one more part, and returns the
    /// events up to and including the first such part (the rest stay pending).
    pub fn next_events_until_part(&mut self, pending: &mut Vec<LogEvent>) -> Vec<LogEvent> {
        loop {
            if let Some(at) = pending.iter().position(|e| matches!(e, LogEvent::Part(_))) {
                return pending.drain(..=at).collect();
            }
            pending.extend(self.advance(34));
        }
    }
}

fn to_log(event: Event) -> LogEvent {
    match event {
        Event::Init(init) => LogEvent::Init(init),
        Event::Part(part) => LogEvent::Part(part),
        Event::SegmentEnd(end) => LogEvent::SegmentEnd((&end).into()),
    }
}

/// Applies `events` to `channel`, each accepted.
pub fn apply(channel: &LogChannel, events: Vec<LogEvent>) {
    for event in events {
        channel
            .apply(event)
            .expect("the log takes the packager's events in order");
    }
}

/// The next video part of the open segment, not applied yet.
pub struct NextPart {
    /// The events up to and including it.
    pub events: Vec<LogEvent>,
    /// Its segment's number in the session.
    pub seq: u64,
    /// Its index in the segment.
    pub index: u32,
    /// Its name under `/ll/{playback_id}/`.
    pub name: String,
}

/// Feeds the publisher until its next event batch ends with a video part and holds no
/// segment end (so the part is the open segment's next one, the one the preload hint
/// names); earlier batches go to `apply_now`.
pub fn next_part_in_segment(
    publisher: &mut Publisher,
    apply_now: impl Fn(Vec<LogEvent>),
) -> NextPart {
    let mut pending = Vec::new();
    loop {
        let events = publisher.next_events_until_part(&mut pending);
        let ends_segment = events.iter().any(|e| matches!(e, LogEvent::SegmentEnd(_)));
        let Some(LogEvent::Part(part)) = events.last() else {
            unreachable!("the events end with a part");
        };
        if ends_segment || part.track != TrackKind::Video || part.index == 0 {
            apply_now(events);
            continue;
        }
        let (seq, index) = (part.seq, part.index);
        let name = names::part(Epoch(EPOCH), seq, index, TrackKind::Video);
        return NextPart {
            events,
            seq,
            index,
            name,
        };
    }
}
