//! The packager's cutting rules, timestamps and bounds, checked on the TS it writes.

use super::*;
use crate::hls::PRESENTATION_DELAY_90K;
use crate::test_support::{ContinuityChecker, PesUnit, nal_types, pes_units, verify_tables};
use crate::ts::{AUDIO_PID, PACKET_SIZE, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, VIDEO_PID};
use proptest::prelude::*;

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

#[test]
fn unsupported_video_is_reported_once_and_stream_becomes_audio_only() {
    let mut packager = Packager::new(config(1_000, true));
    packager.push_audio_body(0, &AAC_SEQUENCE_HEADER).unwrap();
    let hevc = b"\x90hvc1\x00\x00\x00";
    let err = packager.push_video_body(0, hevc).unwrap_err();
    assert!(
        matches!(&err, MediaError::Unsupported(text) if text.contains("hevc")),
        "{err}"
    );
    assert_eq!(packager.push_video_body(33, hevc), Ok(None));
    assert_eq!(
        packager.push_video_body(66, &avc_sequence_header()),
        Ok(None)
    );
    assert!(packager.dropped_tracks().video);
    assert!(packager.is_audio_only());
    let mut segments = Vec::new();
    for i in 0..100u64 {
        segments.extend(packager.push_audio_body(i * 23, &audio(50)).unwrap());
    }
    segments.extend(packager.finish());
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0].duration_ms, 1_012);
    for segment in &segments {
        let tables = verify_tables(&segment.data);
        assert_eq!(tables.streams, vec![(STREAM_TYPE_AAC_ADTS, AUDIO_PID)]);
        assert_eq!(tables.pcr_pid, Some(AUDIO_PID));
        assert!(segment.starts_with_keyframe);
    }
    let audio_units = units(&segments);
    assert_eq!(audio_units.len(), 100);
    assert!(
        audio_units
            .iter()
            .all(|u| u.pid == AUDIO_PID && u.pcr.is_some())
    );
}

#[test]
fn unsupported_audio_is_reported_once_and_video_continues() {
    let mut packager = Packager::new(config(1_000, true));
    packager.push_video_body(0, &avc_sequence_header()).unwrap();
    let mp3 = [0x2F, 1, 2, 3];
    assert!(
        matches!(packager.push_audio_body(0, &mp3), Err(MediaError::Unsupported(t)) if t.contains("mp3"))
    );
    assert_eq!(packager.push_audio_body(10, &mp3), Ok(None));
    assert_eq!(packager.push_audio_body(20, &AAC_SEQUENCE_HEADER), Ok(None));
    packager.push_video_body(0, &video(true, 0, 100)).unwrap();
    let segment = packager.finish().unwrap();
    assert_eq!(
        verify_tables(&segment.data).streams,
        vec![(STREAM_TYPE_H264, VIDEO_PID)]
    );
    assert_eq!(
        packager.dropped_tracks(),
        DroppedTracks {
            video: false,
            audio: true
        }
    );
}

#[test]
fn aac_config_adts_cannot_carry_drops_audio() {
    let mut packager = Packager::new(config(1_000, false));
    // Channel configuration 0 (program config element) has no ADTS form.
    let err = packager
        .push_audio_body(0, &[0xAF, 0, 0x12, 0x00])
        .unwrap_err();
    assert!(matches!(err, MediaError::Unsupported(_)));
    assert_eq!(packager.push_audio_body(0, &audio(4)), Ok(None));
    assert!(packager.dropped_tracks().audio);
}

#[test]
fn audio_only_after_two_targets_without_video() {
    let mut packager = Packager::new(config(500, true));
    packager.push_audio_body(0, &AAC_SEQUENCE_HEADER).unwrap();
    let mut first_emitted = None;
    let mut segments = Vec::new();
    for i in 0..100u64 {
        let dts = i * 23;
        segments.extend(packager.push_audio_body(dts, &audio(20)).unwrap());
        if first_emitted.is_none() && packager.is_audio_only() {
            first_emitted = Some(dts);
        }
    }
    assert_eq!(first_emitted, Some(1_012));
    segments.extend(packager.finish());
    assert_eq!(segments[0].start_dts_ms, 1_012);
    assert!(segments.iter().all(|s| s.starts_with_keyframe));
}

#[test]
fn switches_from_audio_only_to_video_at_first_idr() {
    let mut packager = Packager::new(config(1_000, false));
    packager.push_audio_body(0, &AAC_SEQUENCE_HEADER).unwrap();
    for i in 0..10u64 {
        assert_eq!(packager.push_audio_body(i * 23, &audio(20)), Ok(None));
    }
    packager
        .push_video_body(230, &avc_sequence_header())
        .unwrap();
    assert!(!packager.is_audio_only());
    assert_eq!(
        packager.push_video_body(240, &video(false, 0, 20)),
        Ok(None)
    );
    assert_eq!(packager.push_audio_body(253, &audio(20)), Ok(None));
    let audio_segment = packager
        .push_video_body(270, &video(true, 0, 20))
        .unwrap()
        .unwrap();
    assert_eq!(
        (audio_segment.start_dts_ms, audio_segment.duration_ms),
        (0, 270)
    );
    assert_eq!(units(std::slice::from_ref(&audio_segment)).len(), 11);
    let video_segment = packager.finish().unwrap();
    let tables = verify_tables(&video_segment.data);
    assert_eq!(tables.pcr_pid, Some(VIDEO_PID));
    assert_eq!(tables.pmt_version, Some(1));
    assert!(video_segment.starts_with_keyframe);
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

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let mut packager = configured(1_000, true);
    assert!(packager.push_video_body(0, &[]).is_err());
    assert!(packager.push_video_body(0, &[0x17, 0, 0, 0, 0, 2]).is_err());
    assert!(
        packager
            .push_video_body(0, &[0x17, 1, 0, 0, 0, 0, 0, 0, 9, 0x65])
            .is_err()
    );
    assert!(packager.push_audio_body(0, &[0xAF]).is_err());
    assert!(packager.push_audio_body(0, &[0xAF, 0, 0xFF]).is_err());
    // The earlier good configuration survives the bad headers.
    assert_eq!(packager.push_video_body(0, &video(true, 0, 10)), Ok(None));
    assert!(packager.finish().is_some());
}

/// One generated video frame: keyframe flag, payload size, cts choice,
/// and how many audio frames follow it.
type GeneratedFrame = (bool, usize, usize, usize);

fn frames() -> impl Strategy<Value = Vec<GeneratedFrame>> {
    proptest::collection::vec(
        (
            proptest::bool::weighted(0.08),
            1usize..6_000,
            0usize..4,
            0usize..3,
        ),
        1..250,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn arbitrary_bodies_never_panic(
        tags in proptest::collection::vec((any::<bool>(), 0u64..100_000, proptest::collection::vec(any::<u8>(), 0..64)), 0..200),
    ) {
        let mut packager = configured(500, true);
        let mut fresh = Packager::new(config(500, false));
        for (is_video, dts, mut body) in tags {
            // Bias towards well-formed headers so deeper code is reached.
            if let Some(first) = body.first_mut() {
                *first = if is_video { (*first & 0xF0) | 7 } else { (*first & 0x0F) | 0xA0 };
            }
            for p in [&mut packager, &mut fresh] {
                let result = if is_video { p.push_video_body(dts, &body) } else { p.push_audio_body(dts, &body) };
                if let Ok(Some(segment)) = result {
                    prop_assert_eq!(segment.data.len() % PACKET_SIZE, 0);
                }
            }
            let _ = crate::avc::parse(&body);
            let _ = crate::aac::parse(&body);
            let mut reader = crate::flv::Reader::new();
            reader.push(&crate::flv::file_header(true, true));
            reader.push(&body);
            let _ = reader.next_tag();
        }
        let _ = packager.finish();
    }

    #[test]
    fn segments_are_well_formed(frames in frames(), target in 200u64..1_500, step in 20u64..50) {
        let mut packager = configured(target, true);
        let cts_choices = [0i32, 33, 66, 133];
        let mut segments = Vec::new();
        let mut expected_video = Vec::new();
        let mut expected_audio = Vec::new();
        let mut started = false;
        let mut audio_dts = 0u64;
        for (i, &(keyframe, size, cts_choice, audio_frames)) in frames.iter().enumerate() {
            let dts = i as u64 * step;
            let cts = cts_choices[cts_choice];
            segments.extend(packager.push_video_body(dts, &video(keyframe, cts, size)).unwrap());
            started |= keyframe;
            if started {
                expected_video.push((dts, dts + cts as u64, keyframe));
            }
            for _ in 0..audio_frames {
                segments.extend(packager.push_audio_body(audio_dts, &audio(size % 700)).unwrap());
                if started {
                    expected_audio.push(audio_dts);
                }
                audio_dts += 23;
            }
        }
        segments.extend(packager.finish());
        prop_assert_eq!(segments.is_empty(), !started);

        let mut checker = ContinuityChecker::default();
        let mut all_units = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            prop_assert_eq!(segment.data.len() % PACKET_SIZE, 0);
            checker.check(&segment.data);
            prop_assert_eq!(&segment.data[0..4], &[0x47, 0x40, 0x00, 0x10 | (index % 16) as u8]);
            let tables = verify_tables(&segment.data);
            prop_assert_eq!(tables.pcr_pid, Some(VIDEO_PID));
            prop_assert!(segment.starts_with_keyframe);
            let units = pes_units(&segment.data);
            let first = &units[0];
            prop_assert_eq!(first.pid, VIDEO_PID);
            prop_assert!(first.random_access);
            let types = nal_types(&first.pes.payload);
            prop_assert_eq!(&types[..4], &[9, 7, 8, 5]);
            if let Some(next) = segments.get(index + 1) {
                prop_assert_eq!(segment.duration_ms, next.start_dts_ms - segment.start_dts_ms);
                prop_assert!(segment.duration_ms >= target);
            }
            // Cut at the first opportunity: no later IDR in the segment was due.
            for unit in units.iter().skip(1).filter(|u| u.pid == VIDEO_PID && u.random_access) {
                let dts_ms = (unit.pes.dts.or(unit.pes.pts).unwrap() - DELAY) / 90;
                prop_assert!(dts_ms - segment.start_dts_ms < target);
            }
            all_units.extend(units);
        }
        let video: Vec<_> = all_units.iter().filter(|u| u.pid == VIDEO_PID).collect();
        prop_assert_eq!(video.len(), expected_video.len());
        for (unit, &(dts, pts, keyframe)) in video.iter().zip(&expected_video) {
            prop_assert_eq!(unit.pes.pts, Some(pts * 90 + DELAY));
            prop_assert_eq!(unit.pes.dts, (pts != dts).then_some(dts * 90 + DELAY));
            prop_assert_eq!(unit.random_access, keyframe);
            prop_assert_eq!(unit.pcr, Some(dts * 90));
        }
        let audio: Vec<_> = all_units.iter().filter(|u| u.pid == AUDIO_PID).map(|u| u.pes.pts).collect();
        let expected_audio: Vec<_> = expected_audio.iter().map(|dts| Some(dts * 90 + DELAY)).collect();
        prop_assert_eq!(audio, expected_audio);
    }
}
