//! Feeds the HLS packager a publish session made of arbitrary frames, the way the origin
//! does: each audio or video frame's raw RTMP timestamp goes through
//! `timestamp::Normalizer`, then its body is parsed (`flv::parse_audio` / `parse_video`) and
//! handed to `Packager::push_audio` / `push_video`; the session ends with `Packager::finish`.
//!
//! Input: one settings byte (bit 0: video expected; bits 1-2: target duration; bits 3-4:
//! segment byte bound), then frames in the forgiving layout of `ferrocast_fuzz::loose_tags`.
//!
//! Beyond "no panic" it asserts that every segment is whole 188-byte TS packets starting with
//! a PAT, that segments follow each other without gap or overlap in time (except after one
//! listed at the ceiling, across a timestamp gap), that no segment rounds above the target
//! duration, that `finish` ends the session for good, and that no segment grows past what its
//! bound allows (twice the bound in frame costs, see `ferrocast_media::cuts`, plus one frame,
//! at most 3 bytes of TS per byte of cost).
#![no_main]

use ferrocast_fuzz::loose_tags;
use ferrocast_media::flv;
use ferrocast_media::hls::{Packager, PackagerConfig, Segment, target_duration_s};
use ferrocast_media::timestamp::{Normalizer, Track};
use libfuzzer_sys::fuzz_target;

const TS_PACKET_LEN: usize = 188;
const TS_SYNC_BYTE: u8 = 0x47;
const TARGET_DURATIONS_MS: [u64; 4] = [100, 1_000, 2_000, 6_000];
const SEGMENT_BOUNDS: [usize; 4] = [1024, 16 * 1024, 256 * 1024, 32 * 1024 * 1024];
const FLV_AUDIO: u8 = 8;
const FLV_VIDEO: u8 = 9;

fn config_from(settings: u8) -> PackagerConfig {
    PackagerConfig {
        expect_video: settings & 1 != 0,
        target_duration_ms: TARGET_DURATIONS_MS[usize::from(settings >> 1 & 0x03)],
        max_segment_bytes: SEGMENT_BOUNDS[usize::from(settings >> 3 & 0x03)],
    }
}

fn check_segment(segment: &Segment, previous: Option<&Segment>, max_len: usize, ceiling: u64) {
    let data = &segment.data;
    assert_eq!(data.len() % TS_PACKET_LEN, 0, "partial TS packet");
    assert!(
        data.chunks(TS_PACKET_LEN)
            .all(|packet| packet[0] == TS_SYNC_BYTE)
    );
    // The first packet is the PAT: PID 0 with payload_unit_start set.
    assert_eq!(
        data.get(1..3).map(|pid| [pid[0] & 0x5F, pid[1]]),
        Some([0x40, 0])
    );
    assert!(
        data.len() <= max_len,
        "segment of {} bytes over {max_len}",
        data.len()
    );
    assert!(
        segment.duration_ms <= ceiling,
        "EXTINF {} ms rounds above the target",
        segment.duration_ms
    );
    if let Some(previous) = previous {
        let end = previous.start_dts_ms + previous.duration_ms;
        let clamped_gap = previous.duration_ms == ceiling && end < segment.start_dts_ms;
        assert!(
            end == segment.start_dts_ms || clamped_gap,
            "segments do not join"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&settings, frames)) = data.split_first() else {
        return;
    };
    let config = config_from(settings);
    let mut packager = Packager::new(config);
    let mut normalizer = Normalizer::new();
    let mut segments = Vec::new();
    let mut largest_body = 0;
    for tag in loose_tags(frames) {
        let track = match tag.tag_type & 0x1F {
            FLV_AUDIO => Track::Audio,
            FLV_VIDEO => Track::Video,
            _ => continue,
        };
        largest_body = largest_body.max(tag.body.len());
        let dts_ms = normalizer.normalize(track, tag.timestamp_ms);
        // The origin drops a tag that does not parse before the packager sees it.
        let pushed = match track {
            Track::Audio => {
                flv::parse_audio(tag.body).map(|audio| packager.push_audio(dts_ms, &audio))
            }
            Track::Video => {
                flv::parse_video(tag.body).map(|video| packager.push_video(dts_ms, &video))
            }
        };
        if let Ok(Ok(Some(segment))) = pushed {
            segments.push(segment);
        }
    }
    segments.extend(packager.finish());
    assert_eq!(packager.finish(), None, "finish flushed twice");

    // Segments are bounded in frame costs (payload + repeated parameter sets with their
    // prefixes + 188 bytes): a segment stops growing once it costs twice its bound, plus
    // one frame (at most twice the largest body, for a keyframe with a configuration from
    // the input, plus 2 KiB). A frame becomes at most 3 times its cost as TS: NAL units with
    // 1-byte lengths grow 2.5 times as Annex-B, and packets add 4 bytes in 188.
    let largest_cost = 2 * largest_body + 2048;
    let max_len = 3 * (2 * config.max_segment_bytes + largest_cost) + 4096;
    let ceiling = target_duration_s(config.target_duration_ms) * 1000 + 499;
    let mut previous = None;
    for segment in &segments {
        check_segment(segment, previous, max_len, ceiling);
        previous = Some(segment);
    }
});
