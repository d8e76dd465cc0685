//! Where segments are cut, the timestamps they carry, and the memory bound on their size.

use super::*;
use crate::test_support::nal_types;
use crate::ts::{AUDIO_PID, VIDEO_PID};

#[test]
fn b_frame_timestamps_round_trip() {
    let mut packager = configured(1_000, true);
    let cts_pattern = [66, 133, 0, 33];
    let mut segments = Vec::new();
    let mut expected = Vec::new();
    for i in 0..60u64 {
        let dts = 1_000 + i * 33;
        let cts = cts_pattern[i as usize % 4];
        let keyframe = i % 20 == 0;
        segments.extend(
            packager
                .push_video_body(dts, &video(keyframe, cts, 300))
                .unwrap(),
        );
        expected.push((dts, cts as u64, keyframe));
    }
    segments.extend(packager.finish());
    assert_eq!(segments.len(), 2);
    let video: Vec<_> = units(&segments)
        .into_iter()
        .filter(|u| u.pid == VIDEO_PID)
        .collect();
    assert_eq!(video.len(), expected.len());
    for (unit, (dts, cts, keyframe)) in video.iter().zip(expected) {
        let dts_90k = dts * 90 + DELAY;
        assert_eq!(unit.pes.pts, Some((dts + cts) * 90 + DELAY));
        assert_eq!(unit.pes.dts, if cts == 0 { None } else { Some(dts_90k) });
        assert_eq!(unit.random_access, keyframe);
        assert_eq!(unit.pcr, Some(dts * 90));
    }
    assert_eq!(segments[0].duration_ms, 40 * 33);
    assert_eq!(segments[1].duration_ms, 20 * 33);
}

#[test]
fn waits_for_keyframe_and_drops_early_audio() {
    let mut packager = configured(1_000, true);
    assert_eq!(packager.push_audio_body(0, &audio(10)), Ok(None));
    assert_eq!(packager.push_video_body(0, &video(false, 0, 10)), Ok(None));
    assert_eq!(packager.push_audio_body(23, &audio(10)), Ok(None));
    assert_eq!(packager.push_video_body(33, &video(true, 0, 10)), Ok(None));
    assert_eq!(packager.push_audio_body(46, &audio(10)), Ok(None));
    let segment = packager.finish().unwrap();
    assert_eq!(segment.start_dts_ms, 33);
    assert_eq!(segment.duration_ms, 46 + 23 - 33);
    assert!(segment.starts_with_keyframe);
    let units = pes_units(&segment.data);
    assert_eq!(units.len(), 2);
    assert_eq!(units[0].pid, VIDEO_PID);
    assert_eq!(nal_types(&units[0].pes.payload), [9, 7, 8, 5]);
    assert_eq!(units[1].pid, AUDIO_PID);
    assert_eq!(units[1].pes.payload[..2], [0xFF, 0xF1]);
    assert_eq!(units[1].pes.payload.len(), 17);
    assert!(packager.finish().is_none());
}

/// Found by the `hls_packager` fuzz target: audio-only segments were already cut when
/// video arrived with earlier timestamps; its first IDR cut a segment that started before
/// the one it followed, so the closed segment's end and the next start disagreed and the
/// program date time went back.
#[test]
fn late_video_behind_the_open_segment_never_cuts_backwards() {
    let mut packager = Packager::new(config(100, false));
    packager.push_audio_body(0, &AAC_SEQUENCE_HEADER).unwrap();
    let mut segments = Vec::new();
    for i in 0..20u64 {
        segments.extend(packager.push_audio_body(i * 23, &audio(20)).unwrap());
    }
    let open_start = 15 * 23; // audio cuts every 5 frames (115 ms) at target 100
    packager.push_video_body(0, &avc_sequence_header()).unwrap();
    let closed = packager
        .push_video_body(0, &video(true, 0, 20))
        .unwrap()
        .unwrap();
    assert_eq!((closed.start_dts_ms, closed.duration_ms), (open_start, 0));
    segments.push(closed);
    segments.extend(packager.push_video_body(600, &video(true, 0, 20)).unwrap());
    segments.extend(packager.finish());
    assert_eq!(segments.last().map(|s| s.start_dts_ms), Some(600));
    let times: Vec<_> = segments
        .iter()
        .map(|s| (s.start_dts_ms, s.duration_ms))
        .collect();
    for pair in times.windows(2) {
        assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "{times:?}");
    }
}

#[test]
fn memory_bound_forces_cuts() {
    let mut packager = Packager::new(PackagerConfig {
        target_duration_ms: 60_000,
        expect_video: true,
        max_segment_bytes: 10_000,
    });
    packager.push_video_body(0, &avc_sequence_header()).unwrap();
    let mut segments = Vec::new();
    // Soft bound: the first keyframe after 10 kB cuts despite the target.
    for i in 0..20u64 {
        segments.extend(
            packager
                .push_video_body(i * 33, &video(i % 5 == 0, 0, 3_000))
                .unwrap(),
        );
    }
    assert_eq!(segments.len(), 3);
    assert!(
        segments
            .iter()
            .all(|s| s.duration_ms == 5 * 33 && s.starts_with_keyframe)
    );
    // Hard bound: without keyframes, a cut still happens at 2x.
    for i in 20..40u64 {
        segments.extend(
            packager
                .push_video_body(i * 33, &video(false, 0, 3_000))
                .unwrap(),
        );
    }
    // The segment opened at the last keyframe is closed at frame 22.
    // Each frame is 17 packets, so 2x the limit is crossed after 7 frames.
    assert_eq!(segments.len(), 6);
    assert!(segments[3..].iter().all(|s| s.duration_ms == 7 * 33));
    assert!(segments[4..].iter().all(|s| !s.starts_with_keyframe));
    // Bounded by 2x the limit plus one frame.
    assert!(segments.iter().all(|s| s.data.len() <= 20_000 + 3_300));
}
