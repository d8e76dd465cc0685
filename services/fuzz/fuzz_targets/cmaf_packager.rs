//! Feeds the CMAF packager a publish session made of arbitrary frames, the way the origin
//! will: each frame's raw RTMP timestamp goes through `timestamp::Normalizer`, its body is
//! parsed (`flv::parse_audio` / `parse_video`) and handed to `cmaf::Packager::push_audio` /
//! `push_video`; the session ends with `Packager::finish`. Beside it runs the MPEG-TS
//! `hls::Packager` on the same frames.
//!
//! Input: one settings byte (bit 0: video expected; bits 1-2: target duration; bits 3-4:
//! segment byte bound; bits 5-6: part target), then frames in the forgiving layout of
//! `ferrocast_fuzz::loose_tags`.
//!
//! Beyond "no panic" it asserts: every part is a `moof`, lasts at most the part target
//! (unless it is one frame longer than that), and is numbered in order within its segment; segments are numbered in order
//! and last the sum of their parts; a segment's bytes per track are its parts' bytes; an
//! init segment (`ftyp`) comes before a track's first part; the segment bytes stay within
//! the documented memory bound; a video-led segment lasts at most the ceiling under the
//! target duration (RFC 8216 §6.2.1, ADR 17) past its first frame; `finish` ends the
//! session for good. When the TS packager carries the audio the CMAF one does, both cut at
//! the same frames (ADR 16, decision 2), HEVC video included: TS follows it for its cuts
//! without writing it (ADR 19).
#![no_main]

use std::collections::HashMap;

use ferrocast_fuzz::loose_tags;
use ferrocast_media::cmaf::{self, Event, TrackKind};
use ferrocast_media::flv;
use ferrocast_media::hls::{self, PackagerConfig, target_duration_s};
use ferrocast_media::timestamp::{Normalizer, Track};
use libfuzzer_sys::fuzz_target;

const TARGET_DURATIONS_MS: [u64; 4] = [100, 1_000, 2_000, 6_000];
const SEGMENT_BOUNDS: [usize; 4] = [1024, 16 * 1024, 256 * 1024, 32 * 1024 * 1024];
const PART_TARGETS_MS: [u64; 4] = [1, 50, 334, 1_000];
const FLV_AUDIO: u8 = 8;
const FLV_VIDEO: u8 = 9;

fn config_from(settings: u8) -> cmaf::Config {
    cmaf::Config {
        segments: PackagerConfig {
            expect_video: settings & 1 != 0,
            target_duration_ms: TARGET_DURATIONS_MS[usize::from(settings >> 1 & 0x03)],
            max_segment_bytes: SEGMENT_BOUNDS[usize::from(settings >> 3 & 0x03)],
        },
        part_target_ms: PART_TARGETS_MS[usize::from(settings >> 5 & 0x03)],
    }
}

fn box_type(data: &[u8]) -> Option<&[u8]> {
    data.get(4..8)
}

/// The `tfdt` decode time of a part (in the `moof`, before any sample byte).
fn decode_time(part: &[u8]) -> u64 {
    let at = part
        .windows(4)
        .position(|window| window == b"tfdt")
        .expect("a part has a tfdt");
    let field = |len: usize| part.get(at + 8..at + 8 + len).expect("tfdt field");
    if part[at + 4] == 1 {
        u64::from_be_bytes(field(8).try_into().expect("8 bytes"))
    } else {
        u64::from(u32::from_be_bytes(field(4).try_into().expect("4 bytes")))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&settings, frames)) = data.split_first() else {
        return;
    };
    let config = config_from(settings);
    let mut packager = cmaf::Packager::new(config);
    let mut ts = hls::Packager::new(config.segments);
    let mut normalizer = Normalizer::new();
    let mut events = Vec::new();
    let mut ts_starts = Vec::new();
    let mut largest_body = 0;
    // Set once the TS packager has dropped the audio track while CMAF still carries it (MP3,
    // or an AAC configuration ADTS cannot frame): from then on they see different frames.
    let mut carried_more = false;
    for tag in loose_tags(frames) {
        let track = match tag.tag_type & 0x1F {
            FLV_AUDIO => Track::Audio,
            FLV_VIDEO => Track::Video,
            _ => continue,
        };
        largest_body = largest_body.max(tag.body.len());
        let dts_ms = normalizer.normalize(track, tag.timestamp_ms);
        // The origin drops a tag that does not parse before the packagers see it.
        let (pushed, ts_pushed) = match track {
            Track::Audio => {
                let Ok(audio) = flv::parse_audio(tag.body) else {
                    continue;
                };
                (
                    packager.push_audio(dts_ms, &audio),
                    ts.push_audio(dts_ms, &audio),
                )
            }
            Track::Video => {
                let Ok(video) = flv::parse_video(tag.body) else {
                    continue;
                };
                (
                    packager.push_video(dts_ms, &video),
                    ts.push_video(dts_ms, &video),
                )
            }
        };
        carried_more |= ts.dropped_tracks().audio && !packager.dropped_tracks().audio;
        if let Ok(pushed) = pushed {
            events.extend(pushed);
        }
        if let Ok(Some(segment)) = ts_pushed {
            ts_starts.push(segment.start_dts_ms);
        }
    }
    events.extend(packager.finish().expect("finish"));
    assert!(
        packager.finish().expect("finish").is_empty(),
        "finish flushed twice"
    );
    ts_starts.extend(ts.finish().map(|s| s.start_dts_ms));

    let mut initialised = [false, false];
    let mut parts: HashMap<(TrackKind, u64), Vec<u8>> = HashMap::new();
    let mut durations: HashMap<(u64, u32), u64> = HashMap::new();
    let mut next_seq = 0;
    let mut next_index = 0;
    let mut cmaf_starts = Vec::new();
    // The first video frame's session time in each segment.
    let mut first_video_ms: HashMap<u64, u64> = HashMap::new();
    let ceiling_ms = target_duration_s(config.segments.target_duration_ms) * 1_000 + 499;
    for event in &events {
        match event {
            Event::Init(init) => {
                assert_eq!(box_type(&init.data), Some(&b"ftyp"[..]));
                initialised[init.track as usize] = true;
            }
            Event::Part(part) => {
                assert!(initialised[part.track as usize], "part before its init");
                assert_eq!(box_type(&part.data), Some(&b"moof"[..]));
                assert_eq!(part.seq, next_seq, "part outside the open segment");
                assert!(part.index == next_index || part.index + 1 == next_index);
                next_index = next_index.max(part.index + 1);
                let target = config.part_target_ms * u64::from(part.duration.timescale) / 1_000;
                // A single frame can outlast a tiny target (audio at a very low rate).
                assert!(
                    part.duration.ticks <= target || part.samples == 1,
                    "part over the target"
                );
                durations.insert((part.seq, part.index), part.duration.ticks);
                if part.track == TrackKind::Video {
                    let ms = decode_time(&part.data) / 90;
                    first_video_ms.entry(part.seq).or_insert(ms);
                }
                parts
                    .entry((part.track, part.seq))
                    .or_default()
                    .extend_from_slice(&part.data);
            }
            Event::SegmentEnd(end) => {
                assert_eq!(end.seq, next_seq);
                assert_eq!(end.parts, next_index);
                let total: u64 = (0..end.parts).map(|i| durations[&(end.seq, i)]).sum();
                assert_eq!(total, end.duration.ticks, "parts do not add up");
                // Frames cost their payload, repeated parameter sets and 188 bytes; a
                // segment stops growing past twice its bound, plus one frame; CMAF adds at
                // most a box header or two per frame.
                let bound = 2 * (2 * config.segments.max_segment_bytes + 2 * largest_body + 2048);
                let mut bytes = 0;
                for segment in &end.tracks {
                    let expected = parts.remove(&(segment.track, end.seq)).unwrap_or_default();
                    assert_eq!(segment.data[..], expected[..], "segment is not its parts");
                    bytes += segment.data.len();
                }
                assert!(bytes <= bound, "segment of {bytes} bytes over {bound}");
                // Video leads in 90 kHz ticks. Frames keep their timestamps, so one that lags
                // the cut (a track arriving late) starts the segment up to the lag earlier.
                if end.duration.timescale == cmaf::VIDEO_TIMESCALE {
                    let lag_ms = end.start_dts_ms.saturating_sub(
                        first_video_ms
                            .get(&end.seq)
                            .copied()
                            .unwrap_or(end.start_dts_ms),
                    );
                    assert!(
                        end.duration.as_millis() <= ceiling_ms + lag_ms,
                        "segment of {} ms over the ceiling",
                        end.duration.as_millis()
                    );
                }
                cmaf_starts.push(end.start_dts_ms);
                next_seq += 1;
                next_index = 0;
            }
        }
    }
    assert!(parts.is_empty(), "parts of a segment that never ended");
    if !carried_more {
        assert_eq!(
            cmaf_starts, ts_starts,
            "the renditions cut at different frames"
        );
    }
});
