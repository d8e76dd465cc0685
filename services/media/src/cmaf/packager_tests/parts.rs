//! Parts: their target, independence, numbering, timing across parts and segments, and the
//! segments they add up to.

use super::*;
use crate::timestamp::{Normalizer, Track};

/// Part target of the fixtures in 90 kHz ticks.
const PART_TARGET_90K: u64 = 334 * 90;

/// Checks what every session must satisfy, for each track: parts numbered in order within
/// their segment, at most the target, adding up to the segment; `mfhd` numbers rising by
/// one; decode times continuous from part to part (`continuous`); a segment's bytes equal
/// to its parts' bytes. Returns the decoded fragments per track.
pub(super) fn check_session(events: &[Event], continuous: bool) -> [Vec<Fragment>; 2] {
    let ends = segment_ends(events);
    let mut decoded = [Vec::new(), Vec::new()];
    for (slot, track) in [TrackKind::Video, TrackKind::Audio].into_iter().enumerate() {
        let parts = parts(events, track);
        for (i, part) in parts.iter().enumerate() {
            let fragment = decode(&part.data);
            assert_eq!(fragment.sequence, i as u32 + 1, "{track:?} mfhd");
            assert_eq!(fragment.track_id, slot as u32 + 1);
            assert!(fragment.base_is_moof);
            assert_eq!(fragment.entries.len(), part.samples as usize);
            assert_eq!(
                part.independent,
                fragment.entries[0].flags == Some(0x0200_0000)
            );
            if continuous && let Some(previous) = decoded[slot].last() {
                let previous: &Fragment = previous;
                assert_eq!(
                    fragment.tfdt,
                    previous.tfdt + previous.duration(),
                    "{track:?} part {i}"
                );
            }
            decoded[slot].push(fragment);
        }
        for end in &ends {
            let of_segment: Vec<_> = parts.iter().filter(|p| p.seq == end.seq).collect();
            let bytes: Vec<u8> = of_segment.iter().flat_map(|p| p.data.to_vec()).collect();
            let listed = end.tracks.iter().find(|t| t.track == track);
            assert_eq!(listed.map_or(Vec::new(), |t| t.data.to_vec()), bytes);
        }
    }
    for end in &ends {
        let leading: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Part(p) if p.seq == end.seq => Some(p),
                _ => None,
            })
            .collect();
        let mut indices: Vec<u32> = leading.iter().map(|p| p.index).collect();
        indices.dedup();
        assert_eq!(
            indices,
            (0..end.parts).collect::<Vec<_>>(),
            "segment {}",
            end.seq
        );
        let mut total = 0;
        for index in 0..end.parts {
            let duration = leading.iter().find(|p| p.index == index).unwrap().duration;
            assert_eq!(duration.timescale, end.duration.timescale);
            assert!(
                duration.as_millis() <= 334,
                "part {index} of {}: {duration:?}",
                end.seq
            );
            total += duration.ticks;
        }
        assert_eq!(total, end.duration.ticks, "segment {}", end.seq);
    }
    decoded
}

/// 30 fps video (keyframe every `gop` frames) and 44.1 kHz AAC, interleaved by DTS.
fn av_session(frames: u64, gop: u64, target: u64) -> (Vec<Event>, usize) {
    let mut session = Session::configured(target, true);
    let mut audio_frame = 0u64;
    let mut audio_fed = 0;
    for i in 0..frames {
        let dts = i * 1_000 / 30;
        session.video(dts, &video(i % gop == 0, 0, 500)).unwrap();
        while audio_frame * 1024 * 1_000 / 44_100 < dts + 33 {
            session
                .audio(audio_frame * 1024 * 1_000 / 44_100, &audio(100))
                .unwrap();
            audio_frame += 1;
            audio_fed += 1;
        }
    }
    (session.finish(), audio_fed)
}

#[test]
fn parts_close_before_the_target_and_add_up_to_segments() {
    let (events, audio_fed) = av_session(200, 60, 2_000);
    let [video_fragments, audio_fragments] = check_session(&events, true);

    let ends = segment_ends(&events);
    assert_eq!(ends.len(), 4);
    for (seq, end) in ends.iter().enumerate() {
        assert_eq!(end.seq, seq as u64);
        assert_eq!(end.start_dts_ms, seq as u64 * 2_000);
        assert!(end.starts_with_keyframe);
        assert_eq!(end.duration.timescale, 90_000);
    }
    // Three whole GOPs of 2 s, each six parts of ten frames; then 20 frames.
    for end in &ends[..3] {
        assert_eq!(end.duration.ticks, 2_000 * 90);
        assert_eq!(end.parts, 6);
    }
    assert_eq!(ends[3].parts, 2);
    let video_parts = parts(&events, TrackKind::Video);
    for part in &video_parts {
        assert!(part.duration.ticks <= PART_TARGET_90K);
        assert_eq!(part.independent, part.index == 0, "{part:?}");
        assert_eq!(part.samples, 10);
    }
    // Every audio part sits beside the video part of its index, with its duration.
    let audio_parts = parts(&events, TrackKind::Audio);
    assert_eq!(audio_parts.len(), video_parts.len());
    for (audio, video) in audio_parts.iter().zip(&video_parts) {
        assert_eq!((audio.seq, audio.index), (video.seq, video.index));
        assert_eq!(audio.duration, video.duration);
        assert!(audio.independent);
    }
    // Nothing is lost: every frame fed after the first keyframe is in a part.
    let video_samples: usize = video_fragments.iter().map(|f| f.entries.len()).sum();
    let audio_samples: usize = audio_fragments.iter().map(|f| f.entries.len()).sum();
    assert_eq!(video_samples, 200);
    assert_eq!(audio_samples, audio_fed);
    assert!(
        audio_fragments
            .iter()
            .flat_map(|f| &f.entries)
            .all(|e| e.duration == Some(1024))
    );
    // The last frame lasts one frame step.
    let last = video_fragments.last().unwrap();
    assert_eq!(last.entries.last().unwrap().duration, Some(33 * 90));
}

#[test]
fn b_frames_carry_signed_composition_offsets() {
    let mut session = Session::configured(1_000, true);
    let pattern = [66, 133, -33, 33];
    for i in 0..40u64 {
        let cts = if i == 0 { 66 } else { pattern[i as usize % 4] };
        session.video(i * 33, &video(i % 20 == 0, cts, 50)).unwrap();
    }
    let events = session.finish();
    check_session(&events, true);
    let entries: Vec<TrunEntry> = parts(&events, TrackKind::Video)
        .iter()
        .flat_map(|p| decode(&p.data).entries)
        .collect();
    assert_eq!(entries.len(), 40);
    for (i, entry) in entries.iter().enumerate() {
        let cts = if i == 0 { 66 } else { pattern[i % 4] };
        assert_eq!(entry.cts, Some(i64::from(cts) * 90), "frame {i}");
        let sync = i % 20 == 0;
        assert_eq!(
            entry.flags,
            Some(if sync { 0x0200_0000 } else { 0x0101_0000 })
        );
    }
}

#[test]
fn a_late_frame_never_makes_a_part_longer_than_the_target() {
    let mut session = Session::configured(2_000, true);
    let mut dts = 0;
    for i in 0..90u64 {
        // A 150 ms hiccup, then a 700 ms stall: both within one segment.
        dts += match i {
            0 => 0,
            20 => 150,
            40 => 700,
            _ => 33,
        };
        session
            .video(dts, &video(i == 0 || i == 80, 0, 50))
            .unwrap();
    }
    let events = session.finish();
    check_session(&events, false);
    let video_parts = parts(&events, TrackKind::Video);
    assert!(
        video_parts
            .iter()
            .all(|p| p.duration.ticks <= PART_TARGET_90K)
    );
    let samples: u32 = video_parts.iter().map(|p| p.samples).sum();
    assert_eq!(samples, 90);
    // The 150 ms step is kept; the 700 ms stall lasts one part at most and leaves a gap.
    let fragments: Vec<Fragment> = video_parts.iter().map(|p| decode(&p.data)).collect();
    let durations: Vec<u32> = fragments
        .iter()
        .flat_map(|f| f.entries.iter().map(|e| e.duration.unwrap()))
        .collect();
    assert_eq!(durations[19], 150 * 90);
    assert_eq!(u64::from(durations[39]), PART_TARGET_90K);
    let stalled = fragments
        .windows(2)
        .filter(|w| w[0].tfdt + w[0].duration() != w[1].tfdt);
    assert_eq!(stalled.count(), 1);
}

#[test]
fn timestamp_jumps_keep_decode_times_continuous() {
    let mut session = Session::configured(1_000, true);
    let mut normalizer = Normalizer::new();
    let mut base = 5_000u32;
    let mut audio_frame = 0u32;
    for i in 0..150u32 {
        if i == 70 {
            // The encoder restarts its clock: both tracks jump back by an hour.
            base = base.wrapping_sub(3_600_000);
        }
        let video_ms = i * 1_000 / 30;
        let dts = normalizer.normalize(Track::Video, base.wrapping_add(video_ms));
        session.video(dts, &video(i % 30 == 0, 0, 40)).unwrap();
        while audio_frame * 1024 * 1_000 / 44_100 <= video_ms + 33 {
            let audio_ms = audio_frame * 1024 * 1_000 / 44_100;
            let dts = normalizer.normalize(Track::Audio, base.wrapping_add(audio_ms));
            session.audio(dts, &audio(30)).unwrap();
            audio_frame += 1;
        }
    }
    let events = session.finish();
    let [video_fragments, audio_fragments] = check_session(&events, true);
    let samples: usize = video_fragments.iter().map(|f| f.entries.len()).sum();
    assert_eq!(samples, 150);
    assert!(!audio_fragments.is_empty());
    assert!(segment_ends(&events).len() >= 4);
}
