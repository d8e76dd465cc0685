//! Property tests: arbitrary bodies never panic, and generated streams make well-formed
//! segments with the timestamps they were given.

use proptest::prelude::*;

use super::*;
use crate::test_support::{nal_types, verify_tables};
use crate::ts::{AUDIO_PID, PACKET_SIZE, VIDEO_PID};

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
        let ceiling = crate::hls::target_duration_s(target) * 1000 + 499;
        let cts_choices = [0i32, 33, 66, 133];
        let mut segments = Vec::new();
        let mut expected_video = Vec::new();
        let mut expected_audio = Vec::new();
        // Audio before the first IDR is held for a target's span; what is not older than the
        // IDR follows it.
        let mut held: Vec<u64> = Vec::new();
        let mut started = false;
        let mut audio_dts = 0u64;
        for (i, &(keyframe, size, cts_choice, audio_frames)) in frames.iter().enumerate() {
            let dts = i as u64 * step;
            let cts = cts_choices[cts_choice];
            segments.extend(packager.push_video_body(dts, &video(keyframe, cts, size)).unwrap());
            if keyframe && !started {
                expected_audio.extend(held.drain(..).filter(|&held| held >= dts));
            }
            started |= keyframe;
            if started {
                expected_video.push((dts, dts + cts as u64, keyframe));
            }
            for _ in 0..audio_frames {
                segments.extend(packager.push_audio_body(audio_dts, &audio(size % 700)).unwrap());
                if started {
                    expected_audio.push(audio_dts);
                } else {
                    held.push(audio_dts);
                    held.retain(|&older| audio_dts - older < target);
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
            // Every segment rounds to at most the target duration (RFC 8216 §4.3.3.1).
            prop_assert!(segment.duration_ms <= ceiling);
            let units = pes_units(&segment.data);
            let first = &units[0];
            prop_assert_eq!(first.pid, VIDEO_PID);
            prop_assert_eq!(first.random_access, segment.starts_with_keyframe);
            if segment.starts_with_keyframe {
                let types = nal_types(&first.pes.payload);
                prop_assert_eq!(&types[..4], &[9, 7, 8, 5]);
            } else {
                // Forced by the ceiling: the segment before was about to round above it.
                prop_assert!(index > 0);
                prop_assert!(segments[index - 1].duration_ms + step + 20 > ceiling);
            }
            if let Some(next) = segments.get(index + 1) {
                prop_assert_eq!(segment.duration_ms, next.start_dts_ms - segment.start_dts_ms);
                // A forced segment ends at the next keyframe, however soon.
                if segment.starts_with_keyframe {
                    prop_assert!(segment.duration_ms >= target);
                }
            }
            // Cut at the first opportunity: no later IDR in the segment was due, and a forced
            // segment holds none.
            for unit in units.iter().skip(1).filter(|u| u.pid == VIDEO_PID && u.random_access) {
                prop_assert!(segment.starts_with_keyframe);
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
