//! The packager's cutting rules, timestamps, tracks and bounds, checked on the TS it writes.
//! This file holds the fixtures: FLV tag bodies and a packager that takes them.

use super::*;
use crate::hls::PRESENTATION_DELAY_90K;
use crate::test_support::{
    ContinuityChecker, PesUnit, flv_aac as audio, flv_avc_sequence_header, flv_video as video,
    pes_units,
};

mod ceiling;
mod cuts;
mod mp3;
mod properties;
mod tracks;

const DELAY: u64 = PRESENTATION_DELAY_90K;

fn avc_sequence_header() -> Vec<u8> {
    flv_avc_sequence_header(&[0x67, 0x64, 0, 0x1F], &[0x68, 0xEE, 0x3C])
}

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

const AAC_SEQUENCE_HEADER: [u8; 4] = [0xAF, 0, 0x12, 0x10];

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
