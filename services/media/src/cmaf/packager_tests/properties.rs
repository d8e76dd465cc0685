//! Property tests: generated sessions cut exactly where the MPEG-TS packager cuts (ADR 16,
//! decision 2), and their parts keep every invariant; arbitrary bodies never panic.

use proptest::prelude::*;

use super::parts::check_session;
use super::*;
use crate::hls;

/// One generated video frame: keyframe flag, payload size, cts choice, and how many audio
/// frames follow it.
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
    fn cuts_match_the_ts_packager(
        frames in frames(),
        target in 200u64..1_500,
        step in 20u64..50,
        bound in prop_oneof![Just(64usize << 20), 4_000usize..40_000],
        expect_video in any::<bool>(),
        audio_first in 0usize..40,
    ) {
        let segments = PackagerConfig { target_duration_ms: target, expect_video, max_segment_bytes: bound };
        let mut ts = hls::Packager::new(segments);
        let mut session = Session::new(Config { segments, part_target_ms: 334 });
        let mut ts_segments = Vec::new();
        let audio_header = flv::parse_audio(&AAC_SEQUENCE_HEADER).unwrap();
        ts.push_audio(0, &audio_header).unwrap();
        session.audio(0, &AAC_SEQUENCE_HEADER).unwrap();
        let mut audio_dts = 0u64;
        // Some audio before any video: the audio-only timeout and the switch to video.
        for _ in 0..audio_first {
            let body = audio(40);
            ts_segments.extend(ts.push_audio(audio_dts, &flv::parse_audio(&body).unwrap()).unwrap());
            session.audio(audio_dts, &body).unwrap();
            audio_dts += 23;
        }
        let header = avc_sequence_header(&SPS);
        ts.push_video(audio_dts, &flv::parse_video(&header).unwrap()).unwrap();
        session.video(audio_dts, &header).unwrap();
        let cts_choices = [0i32, 33, 66, -33];
        for (i, &(keyframe, size, cts, audio_frames)) in frames.iter().enumerate() {
            let dts = audio_dts.max(i as u64 * step);
            let body = video(keyframe, cts_choices[cts], size);
            ts_segments.extend(ts.push_video(dts, &flv::parse_video(&body).unwrap()).unwrap());
            session.video(dts, &body).unwrap();
            for _ in 0..audio_frames {
                let body = audio(size % 700);
                ts_segments.extend(ts.push_audio(audio_dts, &flv::parse_audio(&body).unwrap()).unwrap());
                session.audio(audio_dts, &body).unwrap();
                audio_dts += 23;
            }
        }
        ts_segments.extend(ts.finish());
        let events = session.finish();
        check_session(&events, false);
        let ends = segment_ends(&events);
        let cmaf_starts: Vec<_> = ends.iter().map(|e| (e.start_dts_ms, e.starts_with_keyframe)).collect();
        let ts_starts: Vec<_> = ts_segments.iter().map(|s| (s.start_dts_ms, s.starts_with_keyframe)).collect();
        prop_assert_eq!(cmaf_starts, ts_starts);
        for (seq, end) in ends.iter().enumerate() {
            prop_assert_eq!(end.seq, seq as u64);
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(
        tags in proptest::collection::vec((any::<bool>(), 0u64..100_000, proptest::collection::vec(any::<u8>(), 0..64)), 0..200),
    ) {
        let mut configured = Session::configured(500, true);
        let mut fresh = Session::new(config(500, false));
        for (is_video, dts, mut body) in tags {
            // Bias towards well-formed headers so deeper code is reached.
            if let Some(first) = body.first_mut() {
                *first = if is_video { (*first & 0xF0) | 7 } else if dts % 2 == 0 { (*first & 0x0F) | 0xA0 } else { (*first & 0x0F) | 0x20 };
            }
            for session in [&mut configured, &mut fresh] {
                let _ = if is_video { session.video(dts, &body) } else { session.audio(dts, &body) };
            }
        }
        for session in [configured, fresh] {
            let events = session.finish();
            for part in events.iter().filter_map(|e| match e { Event::Part(p) => Some(p), _ => None }) {
                decode(&part.data);
            }
        }
    }
}
