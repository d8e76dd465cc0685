//! Tracks: codecs the packager cannot carry, audio-only streams and the switch to video,
//! and malformed headers.

use super::*;
use crate::test_support::verify_tables;
use crate::ts::{AUDIO_PID, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, VIDEO_PID};

#[test]
fn unsupported_video_is_reported_once_and_stream_becomes_audio_only() {
    let mut packager = Packager::new(config(1_000, true));
    packager.push_audio_body(0, &AAC_SEQUENCE_HEADER).unwrap();
    let vp9 = b"\x90vp09\x00\x00\x00";
    let err = packager.push_video_body(0, vp9).unwrap_err();
    assert!(
        matches!(&err, MediaError::Unsupported(text) if text.contains("vp9")),
        "{err}"
    );
    assert_eq!(packager.push_video_body(33, vp9), Ok(None));
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
    let speex = [0xB6, 1, 2, 3];
    assert!(
        matches!(packager.push_audio_body(0, &speex), Err(MediaError::Unsupported(t)) if t.contains("speex"))
    );
    assert_eq!(packager.push_audio_body(10, &speex), Ok(None));
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

/// The user report of issue 13: a 12 s audio-only publish (564 AAC frames) gave 8.0 s of HLS
/// (376 frames). The publisher announced no metadata, so video was expected, and the audio of
/// the wait for it was dropped. Now it opens the first segment.
#[test]
fn audio_only_without_metadata_keeps_every_frame() {
    let mut packager = Packager::new(config(2_000, true));
    // AAC-LC, 48 kHz, stereo.
    packager.push_audio_body(0, &[0xAF, 0, 0x11, 0x90]).unwrap();
    let mut segments = Vec::new();
    let mut switched_at = None;
    // 48 kHz AAC: 1024 samples, 21.33 ms a frame; 564 frames are 12.03 s.
    for i in 0..564u64 {
        let dts = i * 1024 * 1000 / 48_000;
        segments.extend(packager.push_audio_body(dts, &audio(20)).unwrap());
        if switched_at.is_none() && packager.is_audio_only() {
            switched_at = Some(dts);
        }
    }
    segments.extend(packager.finish());
    assert_eq!(switched_at, Some(2_005), "audio-only after one target");
    assert_eq!(segments[0].start_dts_ms, 0, "from the first frame on");
    assert_eq!(
        units(&segments).len(),
        564,
        "every frame in, every frame out"
    );
    let total: u64 = segments.iter().map(|s| s.duration_ms).sum();
    assert_eq!(total, 563 * 1024 * 1000 / 48_000 + 21);
    assert!(segments.iter().all(|s| s.starts_with_keyframe));
    for pair in segments.windows(2) {
        assert_eq!(
            pair[0].start_dts_ms + pair[0].duration_ms,
            pair[1].start_dts_ms
        );
    }
}

#[test]
fn audio_held_for_video_follows_the_first_idr_from_its_time_on() {
    let mut packager = configured(1_000, true);
    for i in 0..5u64 {
        assert_eq!(packager.push_audio_body(i * 20, &audio(10)), Ok(None));
    }
    assert_eq!(packager.push_video_body(40, &video(true, 0, 10)), Ok(None));
    assert_eq!(packager.push_audio_body(100, &audio(10)), Ok(None));
    let segment = packager.finish().unwrap();
    let pts: Vec<(u16, u64)> = pes_units(&segment.data)
        .iter()
        .map(|u| (u.pid, (u.pes.pts.unwrap() - DELAY) / 90))
        .collect();
    let expected = [(VIDEO_PID, 40), (AUDIO_PID, 40), (AUDIO_PID, 60)];
    assert_eq!(
        pts[..3],
        expected,
        "held audio from the IDR's time on, in order"
    );
    assert_eq!(pts[3], (AUDIO_PID, 80));
    assert_eq!(pts[4], (AUDIO_PID, 100));
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
