//! HEVC from Enhanced RTMP (ADR 19): the `hvc1` init segment, keyframes from the bitstream,
//! composition times of `CodedFrames` and none in `CodedFramesX`, a new init on a new
//! configuration, and the packet types that carry no frame.

use mp4_atom::Codec;

use super::*;
use crate::test_support::{HEVC_PPS, HEVC_SPS, HEVC_VPS, flv_hevc, flv_hevc_sequence_start, hex};

/// `level_idc` of x265's record (level 1).
const LEVEL: u8 = 30;

fn hevc_session(target: u64) -> Session {
    let mut session = Session::new(config(target, true));
    session.video(0, &flv_hevc_sequence_start(LEVEL)).unwrap();
    session.audio(0, &AAC_SEQUENCE_HEADER).unwrap();
    session
}

fn video_inits(events: &[Event]) -> Vec<&Init> {
    inits(events)
        .into_iter()
        .filter(|init| init.track == TrackKind::Video)
        .collect()
}

#[test]
fn the_init_segment_is_hvc1_with_the_record() {
    let mut session = hevc_session(1_000);
    session.video(0, &flv_hevc(true, true, 0, 10)).unwrap();
    let events = session.finish();
    let init = video_inits(&events)[0];
    assert_eq!(
        (init.version, init.codec.as_str(), init.dimensions),
        (0, "hvc1.1.6.L30.90", Some((160, 120)))
    );
    let (_, moov) = decode_init(&init.data);
    let trak = &moov.trak[0];
    assert_eq!((trak.tkhd.track_id, trak.mdia.mdhd.timescale), (1, 90_000));
    assert_eq!(trak.mdia.hdlr.handler, b"vide".into());
    let Codec::Hvc1(hvc1) = &trak.mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not hvc1: {:?}", trak.mdia.minf.stbl.stsd.codecs);
    };
    assert_eq!((hvc1.visual.width, hvc1.visual.height), (160, 120));
    assert_eq!(hvc1.hvcc.length_size_minus_one, 3);
    assert_eq!(
        (hvc1.hvcc.general_profile_idc, hvc1.hvcc.general_level_idc),
        (1, LEVEL)
    );
    let sets: Vec<Vec<u8>> = hvc1
        .hvcc
        .arrays
        .iter()
        .flat_map(|a| a.nalus.clone())
        .collect();
    assert_eq!(sets, vec![hex(HEVC_VPS), hex(HEVC_SPS), hex(HEVC_PPS)]);
}

#[test]
fn keyframes_come_from_the_bitstream_and_composition_times_are_kept() {
    let mut session = hevc_session(1_000);
    // An inter frame flagged as a key frame opens nothing; an IRAP flagged inter does.
    session.video(0, &flv_hevc(false, true, 0, 10)).unwrap();
    for i in 1..60u64 {
        let keyframe = i % 31 == 1;
        session
            .video(i * 33, &flv_hevc(keyframe, !keyframe, 66, 10))
            .unwrap();
    }
    // CodedFramesX: no composition time.
    let mut x = flv_hevc(false, false, 0, 10);
    x.drain(5..8);
    x[0] = 0xA3;
    session.video(60 * 33, &x).unwrap();
    // A sequence end carries no frame.
    session.video(61 * 33, b"\x92hvc1").unwrap();
    let events = session.finish();
    let ends = segment_ends(&events);
    let starts: Vec<u64> = ends.iter().map(|end| end.start_dts_ms).collect();
    assert_eq!(starts, [33, 32 * 33]);
    assert!(ends.iter().all(|end| end.starts_with_keyframe));
    let fragments: Vec<Fragment> = parts(&events, TrackKind::Video)
        .iter()
        .map(|p| decode(&p.data))
        .collect();
    let entries: Vec<&TrunEntry> = fragments.iter().flat_map(|f| &f.entries).collect();
    assert_eq!(entries.len(), 60, "every frame from the first IRAP on");
    assert_eq!(entries[0].cts, Some(66 * 90));
    assert_eq!(entries[59].cts, Some(0), "CodedFramesX");
    let sync: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.flags == Some(0x0200_0000))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(sync, [0, 31]);
    // Samples are the access units as sent: length-prefixed NAL units.
    assert_eq!(&fragments[0].payload[..6], &[0, 0, 0, 12, 19 << 1, 1]);
}

#[test]
fn a_new_configuration_cuts_at_its_keyframe_with_a_new_init() {
    let mut session = hevc_session(10_000);
    for i in 0..10u64 {
        session
            .video(i * 33, &flv_hevc(i == 0, i == 0, 0, 20))
            .unwrap();
    }
    session.video(330, &flv_hevc_sequence_start(LEVEL)).unwrap();
    session.video(330, &flv_hevc(false, false, 0, 20)).unwrap();
    // Level 3.1.
    session.video(363, &flv_hevc_sequence_start(93)).unwrap();
    session.video(363, &flv_hevc(false, false, 0, 20)).unwrap();
    session.video(396, &flv_hevc(true, true, 0, 20)).unwrap();
    let events = session.finish();
    let starts: Vec<u64> = segment_ends(&events)
        .iter()
        .map(|e| e.start_dts_ms)
        .collect();
    assert_eq!(
        starts,
        [0, 396],
        "cut at the first keyframe after the change"
    );
    let versions: Vec<(u32, &str)> = video_inits(&events)
        .iter()
        .map(|init| (init.version, init.codec.as_str()))
        .collect();
    assert_eq!(versions, [(0, "hvc1.1.6.L30.90"), (1, "hvc1.1.6.L93.90")]);
}

#[test]
fn a_switch_from_h264_to_hevc_is_a_new_configuration() {
    let mut session = Session::configured(10_000, true);
    session.video(0, &video(true, 0, 20)).unwrap();
    session.video(33, &flv_hevc_sequence_start(LEVEL)).unwrap();
    // H.264 frames after the switch are not the configured codec's: skipped.
    session.video(66, &video(true, 0, 20)).unwrap();
    session.video(99, &flv_hevc(true, true, 0, 20)).unwrap();
    let events = session.finish();
    let starts: Vec<u64> = segment_ends(&events)
        .iter()
        .map(|e| e.start_dts_ms)
        .collect();
    assert_eq!(starts, [0, 99]);
    let codecs: Vec<&str> = video_inits(&events)
        .iter()
        .map(|i| i.codec.as_str())
        .collect();
    assert_eq!(codecs, ["avc1.64000d", "hvc1.1.6.L30.90"]);
    assert_eq!(parts(&events, TrackKind::Video).len(), 2);
}

#[test]
fn bad_records_and_access_units_are_refused() {
    let mut session = Session::new(config(1_000, true));
    assert!(session.video(0, b"\x90hvc1\x01\x01").is_err());
    session.video(0, &flv_hevc_sequence_start(LEVEL)).unwrap();
    let mut overlong = flv_hevc(true, true, 0, 10);
    overlong[11] = 200;
    assert!(session.video(0, &overlong).is_err());
    assert!(!session.packager.dropped_tracks().video);
}
