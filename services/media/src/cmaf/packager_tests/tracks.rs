//! Tracks: the init segments, audio-only and video-only sessions, MP3, codecs the packager
//! cannot carry, and a decoder configuration that changes mid-session.

use mp4_atom::Codec;

use super::*;
use crate::MediaError;

fn only_codec(moov: &Moov) -> &Codec {
    assert_eq!(moov.trak.len(), 1);
    let codecs = &moov.trak[0].mdia.minf.stbl.stsd.codecs;
    assert_eq!(codecs.len(), 1);
    &codecs[0]
}

#[test]
fn init_segments_describe_each_track() {
    let mut session = Session::configured(1_000, true);
    session.video(0, &video(true, 0, 10)).unwrap();
    let events = session.finish();
    let inits = inits(&events);
    assert_eq!(inits.len(), 2, "one init per track");
    let (video_init, audio_init) = (inits[0], inits[1]);
    assert!(
        matches!(events[0], Event::Init(_)),
        "inits come before the parts"
    );

    assert_eq!(video_init.track, TrackKind::Video);
    assert_eq!(
        (video_init.version, video_init.codec.as_str()),
        (0, "avc1.64000d")
    );
    assert_eq!(video_init.dimensions, Some((320, 240)));
    let (ftyp, moov) = decode_init(&video_init.data);
    assert_eq!(ftyp.major_brand, b"iso6".into());
    assert!(ftyp.compatible_brands.contains(&b"cmfc".into()));
    let trex = &moov.mvex.as_ref().unwrap().trex;
    assert_eq!((trex.len(), trex[0].track_id), (1, 1));
    let trak = &moov.trak[0];
    assert_eq!(trak.tkhd.track_id, 1);
    assert_eq!(trak.mdia.mdhd.timescale, 90_000);
    assert_eq!(trak.mdia.hdlr.handler, b"vide".into());
    let Codec::Avc1(avc1) = only_codec(&moov) else {
        panic!("not avc1: {:?}", only_codec(&moov));
    };
    assert_eq!((avc1.visual.width, avc1.visual.height), (320, 240));
    assert_eq!(avc1.avcc.sequence_parameter_sets, vec![SPS.to_vec()]);
    assert_eq!(avc1.avcc.picture_parameter_sets, vec![PPS.to_vec()]);
    assert_eq!(avc1.avcc.length_size, 4);

    assert_eq!(audio_init.track, TrackKind::Audio);
    assert_eq!(
        (audio_init.codec.as_str(), audio_init.timescale),
        ("mp4a.40.2", 44_100)
    );
    let (_, moov) = decode_init(&audio_init.data);
    assert_eq!(moov.trak[0].tkhd.track_id, 2);
    assert_eq!(moov.mvex.as_ref().unwrap().trex[0].track_id, 2);
    assert_eq!(moov.trak[0].mdia.mdhd.timescale, 44_100);
    let Codec::Mp4a(mp4a) = only_codec(&moov) else {
        panic!("not mp4a");
    };
    assert_eq!(mp4a.audio.channel_count, 2);
    let config = &mp4a.esds.es_desc.dec_config;
    assert_eq!(config.object_type_indication, 0x40);
    assert_eq!(config.dec_specific.as_ref().unwrap().raw, vec![0x12, 0x10]);
}

#[test]
fn audio_only_sessions_cut_and_part_on_audio() {
    let mut session = Session::new(config(1_000, false));
    session.audio(0, &AAC_SEQUENCE_HEADER).unwrap();
    for i in 0..200u64 {
        session
            .audio(i * 1024 * 1_000 / 44_100, &audio(50))
            .unwrap();
    }
    assert!(session.packager.is_audio_only());
    let events = session.finish();
    assert!(parts(&events, TrackKind::Video).is_empty());
    let audio_parts = parts(&events, TrackKind::Audio);
    // 334 ms holds 14 frames of 1024 samples at 44.1 kHz (325 ms).
    assert!(
        audio_parts
            .iter()
            .all(|p| p.duration.timescale == 44_100 && p.independent)
    );
    assert!(
        audio_parts
            .iter()
            .all(|p| p.duration.ticks <= 334 * 44_100 / 1_000)
    );
    assert_eq!(audio_parts[0].samples, 14);
    let ends = segment_ends(&events);
    // A segment is cut at the first frame 1 s after its start: every 44 frames.
    assert_eq!(ends.len(), 5);
    for end in &ends[..4] {
        assert_eq!(end.duration.ticks, 44 * 1024);
        assert_eq!(end.tracks.len(), 1);
    }
    let total: u64 = audio_parts.iter().map(|p| u64::from(p.samples)).sum();
    assert_eq!(total, 200, "every frame is in a part");
    // Decode times carry the MPEG-TS muxer's delay, so both renditions' timestamps match.
    let mut next = crate::cmaf::PRESENTATION_DELAY_MS * 44_100 / 1_000;
    for part in &audio_parts {
        let fragment = decode(&part.data);
        assert_eq!(fragment.tfdt, next);
        next += fragment.duration();
    }
}

#[test]
fn video_only_sessions_have_one_track() {
    let mut session = Session::new(config(1_000, true));
    session.video(0, &avc_sequence_header(&SPS)).unwrap();
    for i in 0..90u64 {
        session.video(i * 40, &video(i % 25 == 0, 0, 80)).unwrap();
    }
    let events = session.finish();
    assert_eq!(inits(&events).len(), 1);
    assert!(parts(&events, TrackKind::Audio).is_empty());
    let ends = segment_ends(&events);
    assert_eq!(ends.len(), 4);
    assert!(
        ends.iter()
            .all(|e| e.tracks.len() == 1 && e.starts_with_keyframe)
    );
    assert_eq!(ends[0].duration.ticks, 1_000 * 90);
    // 25 fps: eight 40 ms frames (320 ms) per part.
    assert!(
        parts(&events, TrackKind::Video)[..3]
            .iter()
            .all(|p| p.samples == 8)
    );
}

#[test]
fn mp3_is_carried_with_its_own_timing() {
    let mut session = Session::new(config(1_000, false));
    for i in 0..60u64 {
        session.audio(i * 1152 * 1_000 / 44_100, &mp3(400)).unwrap();
    }
    let events = session.finish();
    let inits = inits(&events);
    assert_eq!(inits.len(), 1);
    assert_eq!(
        (inits[0].codec.as_str(), inits[0].timescale),
        ("mp4a.6B", 44_100)
    );
    let (_, moov) = decode_init(&inits[0].data);
    let Codec::Mp4a(mp4a) = only_codec(&moov) else {
        panic!("not mp4a");
    };
    assert_eq!(mp4a.esds.es_desc.dec_config.object_type_indication, 0x6B);
    assert_eq!(mp4a.esds.es_desc.dec_config.dec_specific, None);
    let fragments: Vec<Fragment> = parts(&events, TrackKind::Audio)
        .iter()
        .map(|p| decode(&p.data))
        .collect();
    let entries: Vec<&TrunEntry> = fragments.iter().flat_map(|f| &f.entries).collect();
    assert_eq!(entries.len(), 60);
    assert!(
        entries
            .iter()
            .all(|e| e.duration == Some(1152) && e.size == Some(404))
    );
    assert_eq!(&fragments[0].payload[..4], &MP3_HEADER);
}

#[test]
fn unsupported_video_is_reported_once_and_audio_carries_on() {
    let mut session = Session::new(config(1_000, true));
    session.audio(0, &AAC_SEQUENCE_HEADER).unwrap();
    let vp9 = b"\x90vp09\x00\x00\x00";
    let err = session.video(0, vp9).unwrap_err();
    assert!(
        matches!(&err, MediaError::Unsupported(t) if t.contains("vp9")),
        "{err}"
    );
    assert_eq!(session.video(33, vp9), Ok(()));
    assert!(session.packager.dropped_tracks().video);
    assert!(session.packager.is_audio_only());
    for i in 0..50u64 {
        session.audio(i * 23, &audio(20)).unwrap();
    }
    let events = session.finish();
    assert!(!parts(&events, TrackKind::Audio).is_empty());
    assert!(parts(&events, TrackKind::Video).is_empty());
    let speex = [0xB2, 1, 2];
    let mut session = Session::new(config(1_000, true));
    assert!(matches!(
        session.audio(0, &speex),
        Err(MediaError::Unsupported(_))
    ));
    assert_eq!(session.audio(10, &speex), Ok(()));
}

#[test]
fn a_new_resolution_cuts_at_its_keyframe_with_a_new_init() {
    let mut session = Session::configured(10_000, true);
    for i in 0..10u64 {
        session.video(i * 33, &video(i == 0, 0, 20)).unwrap();
    }
    // Same configuration again: nothing changes.
    session.video(330, &avc_sequence_header(&SPS)).unwrap();
    session.video(330, &video(true, 0, 20)).unwrap();
    assert_eq!(segment_ends(&session.events).len(), 0);
    let mut other = SPS;
    other[3] = 0x1f; // level 3.1
    session.video(363, &avc_sequence_header(&other)).unwrap();
    session.video(363, &video(false, 0, 20)).unwrap();
    session.video(396, &video(true, 0, 20)).unwrap();
    let events = session.finish();
    let ends = segment_ends(&events);
    assert_eq!(ends.len(), 2, "cut at the first keyframe after the change");
    assert_eq!(ends[1].start_dts_ms, 396);
    let video_inits: Vec<_> = inits(&events)
        .into_iter()
        .filter(|i| i.track == TrackKind::Video)
        .collect();
    assert_eq!(video_inits.len(), 2);
    assert_eq!(
        (video_inits[1].version, video_inits[1].codec.as_str()),
        (1, "avc1.64001f")
    );
    // The new init comes after the old segment ends and before the new segment's parts.
    let position = |wanted: &dyn Fn(&Event) -> bool| events.iter().position(wanted).unwrap();
    let end0 = position(&|e| matches!(e, Event::SegmentEnd(end) if end.seq == 0));
    let init1 = position(&|e| matches!(e, Event::Init(init) if init.version == 1));
    let part1 = position(&|e| matches!(e, Event::Part(part) if part.seq == 1));
    assert!(end0 < init1 && init1 < part1);
}
