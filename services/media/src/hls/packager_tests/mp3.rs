//! MP3 (FLV sound format 2) in MPEG-TS: the frames pass as they are, declared by their MPEG
//! version, with or without video.

use super::*;
use crate::test_support::verify_tables;
use crate::ts::{
    AUDIO_PID, STREAM_TYPE_H264, STREAM_TYPE_MPEG1_AUDIO, STREAM_TYPE_MPEG2_AUDIO, VIDEO_PID,
};

/// An FLV MP3 tag body: the sound format byte, then one frame of `header` `len` bytes long.
fn mp3(header: [u8; 4], len: usize) -> Vec<u8> {
    let mut body = vec![0x2F];
    body.extend_from_slice(&header);
    body.resize(1 + len, 0x11);
    body
}

/// MPEG-1 layer III, 128 kb/s, 44.1 kHz: 1152 samples (26.1 ms) in 417 bytes.
const MP3_44K: [u8; 4] = [0xFF, 0xFB, 0x90, 0x64];
/// MPEG-2 layer III, 64 kb/s, 22.05 kHz, mono: 576 samples in 208 bytes.
const MP3_22K: [u8; 4] = [0xFF, 0xF3, 0x80, 0xC4];

#[test]
fn audio_only_mp3_keeps_every_frame_as_it_came() {
    let mut packager = Packager::new(config(2_000, false));
    let body = mp3(MP3_44K, 417);
    let mut segments = Vec::new();
    for i in 0..230u64 {
        let dts = i * 1152 * 1000 / 44_100;
        segments.extend(packager.push_audio_body(dts, &body).unwrap());
    }
    segments.extend(packager.finish());
    assert_eq!(segments.len(), 3, "6 s of audio in 2 s segments");
    for segment in &segments {
        let tables = verify_tables(&segment.data);
        assert_eq!(tables.streams, vec![(STREAM_TYPE_MPEG1_AUDIO, AUDIO_PID)]);
        assert_eq!(tables.pcr_pid, Some(AUDIO_PID));
        assert!(segment.starts_with_keyframe);
    }
    let frames = units(&segments);
    assert_eq!(frames.len(), 230);
    assert!(frames.iter().all(|u| u.pes.payload == body[1..]));
    let end = segments.last().map(|s| s.start_dts_ms + s.duration_ms);
    assert_eq!(end, Some(229 * 1152 * 1000 / 44_100 + 26));
    assert_eq!(packager.dropped_tracks(), DroppedTracks::default());
}

#[test]
fn mp3_beside_video_is_declared_as_mpeg2_audio_at_low_rates() {
    let mut packager = Packager::new(config(1_000, true));
    packager.push_video_body(0, &avc_sequence_header()).unwrap();
    let body = mp3(MP3_22K, 208);
    let mut segments = Vec::new();
    for i in 0..60u64 {
        let dts = i * 34;
        segments.extend(
            packager
                .push_video_body(dts, &video(i % 30 == 0, 0, 40))
                .unwrap(),
        );
        segments.extend(packager.push_audio_body(dts, &body).unwrap());
    }
    segments.extend(packager.finish());
    assert_eq!(segments.len(), 2);
    let tables = verify_tables(&segments[0].data);
    assert_eq!(
        tables.streams,
        vec![
            (STREAM_TYPE_H264, VIDEO_PID),
            (STREAM_TYPE_MPEG2_AUDIO, AUDIO_PID)
        ]
    );
    let audio = units(&segments)
        .into_iter()
        .filter(|u| u.pid == AUDIO_PID)
        .count();
    assert_eq!(audio, 60);
}

#[test]
fn a_tag_that_is_not_an_mpeg_audio_frame_is_an_error_and_the_track_stays() {
    let mut packager = Packager::new(config(1_000, false));
    assert!(matches!(
        packager.push_audio_body(0, &[0x2F, 1, 2, 3, 4]),
        Err(MediaError::Invalid(_))
    ));
    assert!(packager.push_audio_body(0, &[0x2F]).is_err());
    assert_eq!(packager.push_audio_body(0, &mp3(MP3_44K, 417)), Ok(None));
    assert!(!packager.dropped_tracks().audio);
    assert_eq!(units(&[packager.finish().unwrap()]).len(), 1);
}
