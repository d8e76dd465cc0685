//! The packager's cutting rules, timestamps, tracks and bounds, checked on the TS it writes.
//! This file holds the fixtures: FLV tag bodies and a packager that takes them.

use super::*;
use crate::hls::PRESENTATION_DELAY_90K;
use crate::test_support::{ContinuityChecker, PesUnit, pes_units};

mod ceiling;
mod cuts;
mod mp3;
mod properties;
mod tracks;

const DELAY: u64 = PRESENTATION_DELAY_90K;

/// The packager fed FLV tag bodies, each parsed first as the origin parses it at ingest.
trait PushBody {
    fn push_video_body(&mut self, dts_ms: u64, body: &[u8]) -> Result<Option<Segment>, MediaError>;
    fn push_audio_body(&mut self, dts_ms: u64, body: &[u8]) -> Result<Option<Segment>, MediaError>;
}

impl PushBody for Packager {
    fn push_video_body(&mut self, dts_ms: u64, body: &[u8]) -> Result<Option<Segment>, MediaError> {
        self.push_video(dts_ms, &flv::parse_video(body)?)
    }

    fn push_audio_body(&mut self, dts_ms: u64, body: &[u8]) -> Result<Option<Segment>, MediaError> {
        self.push_audio(dts_ms, &flv::parse_audio(body)?)
    }
}

fn avc_sequence_header() -> Vec<u8> {
    let mut body = vec![
        0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 4, 0x67, 0x64, 0, 0x1F,
    ];
    body.extend_from_slice(&[1, 0, 3, 0x68, 0xEE, 0x3C]);
    body
}

fn video(keyframe: bool, cts: i32, size: usize) -> Vec<u8> {
    let nal_header = if keyframe { 0x65 } else { 0x41 };
    let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1];
    body.extend_from_slice(&cts.to_be_bytes()[1..]);
    body.extend_from_slice(&((size + 1) as u32).to_be_bytes());
    body.push(nal_header);
    body.extend((0..size).map(|i| (i % 251) as u8 | 1));
    body
}

const AAC_SEQUENCE_HEADER: [u8; 4] = [0xAF, 0, 0x12, 0x10];

fn audio(size: usize) -> Vec<u8> {
    let mut body = vec![0xAF, 1];
    body.extend((0..size).map(|i| i as u8));
    body
}

fn config(target_duration_ms: u64, expect_video: bool) -> PackagerConfig {
    PackagerConfig {
        target_duration_ms,
        expect_video,
        max_segment_bytes: 64 << 20,
    }
}

fn configured(target: u64, expect_video: bool) -> Packager {
    let mut packager = Packager::new(config(target, expect_video));
    assert_eq!(
        packager.push_video_body(0, &avc_sequence_header()),
        Ok(None)
    );
    assert_eq!(packager.push_audio_body(0, &AAC_SEQUENCE_HEADER), Ok(None));
    packager
}

fn units(segments: &[Segment]) -> Vec<PesUnit> {
    let mut checker = ContinuityChecker::default();
    segments
        .iter()
        .flat_map(|s| {
            checker.check(&s.data);
            pes_units(&s.data)
        })
        .collect()
}
