//! The delivery rules of issue 13 item 6 on the CMAF rendition, beside the TS one fed the
//! same frames: no segment rounds above the constant target duration (RFC 8216 §6.2.1), an
//! audio-only publish keeps every frame, and audio held for video follows the first IDR; and
//! ADR 19 on an HEVC publish, which only the CMAF rendition carries video of.

use super::*;
use crate::hls::{self, target_duration_s};
use crate::test_support::{
    flv_av1, flv_av1_sequence_start, flv_hevc, flv_hevc_sequence_start, verify_tables,
};
use crate::ts::{AUDIO_PID, STREAM_TYPE_AAC_ADTS};

/// The same FLV tag bodies fed to both packagers: the CMAF events and the TS segments.
struct Twin {
    cmaf: Session,
    ts: hls::Packager,
    ts_segments: Vec<hls::Segment>,
    /// What the TS packager reported as not written.
    ts_notices: Vec<String>,
}

impl Twin {
    fn new(target: u64, expect_video: bool) -> Self {
        let config = config(target, expect_video);
        Self {
            cmaf: Session::new(config),
            ts: hls::Packager::new(config.segments),
            ts_segments: Vec::new(),
            ts_notices: Vec::new(),
        }
    }

    fn video(&mut self, dts_ms: u64, body: &[u8]) {
        self.cmaf.video(dts_ms, body).unwrap();
        let tag = flv::parse_video(body).unwrap();
        match self.ts.push_video(dts_ms, &tag) {
            Ok(segment) => self.ts_segments.extend(segment),
            Err(MediaError::Unsupported(notice)) => self.ts_notices.push(notice),
            Err(other) => panic!("the ts packager refused a frame: {other}"),
        }
    }

    fn audio(&mut self, dts_ms: u64, body: &[u8]) {
        self.cmaf.audio(dts_ms, body).unwrap();
        let tag = flv::parse_audio(body).unwrap();
        self.ts_segments
            .extend(self.ts.push_audio(dts_ms, &tag).unwrap());
    }

    /// Ends the session; checks that both renditions cut at the same frames.
    fn finish(mut self) -> (Vec<Event>, Vec<hls::Segment>) {
        self.ts_segments.extend(self.ts.finish());
        let events = self.cmaf.finish();
        let cmaf_starts: Vec<u64> = segment_ends(&events)
            .iter()
            .map(|end| end.start_dts_ms)
            .collect();
        let ts_starts: Vec<u64> = self.ts_segments.iter().map(|s| s.start_dts_ms).collect();
        assert_eq!(cmaf_starts, ts_starts, "the renditions cut differently");
        (events, self.ts_segments)
    }
}

fn ms(duration: &MediaDuration) -> u64 {
    duration.ticks * 1_000 / u64::from(duration.timescale)
}

/// The user report: `EXT-X-TARGETDURATION` went 8 → 2 after a long-GOP encoder switched to
/// 2 s keyframes. Both renditions now keep every segment under the 2 s target's ceiling.
#[test]
fn a_long_gop_then_a_short_one_stays_under_the_target_in_both_renditions() {
    let mut twin = Twin::new(2_000, true);
    twin.video(0, &avc_sequence_header(&SPS));
    // 8.3 s GOPs (x264's default keyint 250 at 30 fps), then 2 s GOPs.
    for i in 0..1_350u64 {
        let keyframe = if i < 750 {
            i % 250 == 0
        } else {
            (i - 750) % 61 == 0
        };
        twin.video(i * 33, &video(keyframe, 0, 50));
    }
    let (events, ts) = twin.finish();
    let ceiling = target_duration_s(2_000) * 1_000 + 499;
    let ends = segment_ends(&events);
    assert_eq!(ends.len(), ts.len());
    for (end, ts) in ends.iter().zip(&ts) {
        assert!(ms(&end.duration) <= ceiling, "{:?}", end.duration);
        assert!(ts.duration_ms <= ceiling);
        assert_eq!(end.starts_with_keyframe, ts.starts_with_keyframe);
    }
    // Forced cuts in the long GOPs; each keyframe of both encoders still opens a segment.
    assert!(ends.iter().any(|end| !end.starts_with_keyframe));
    assert_eq!(
        ends.iter().filter(|e| e.starts_with_keyframe).count(),
        3 + 10
    );
    let samples: u32 = parts(&events, TrackKind::Video)
        .iter()
        .map(|p| p.samples)
        .sum();
    assert_eq!(samples, 1_350, "every frame is in a part");
}

#[test]
fn a_segment_before_a_timestamp_gap_is_listed_at_the_ceiling() {
    let mut twin = Twin::new(2_000, true);
    twin.video(0, &avc_sequence_header(&SPS));
    // 2.4 s of frames, then a 4 s hole (under the normalizer's jump limit, so kept).
    for i in 0..74u64 {
        twin.video(i * 33, &video(i == 0, 0, 50));
    }
    for i in 0..30u64 {
        twin.video(6_500 + i * 33, &video(i == 0, 0, 50));
    }
    let (events, ts) = twin.finish();
    let ends = segment_ends(&events);
    assert_eq!(ts[0].duration_ms, 2_499);
    assert_eq!(ms(&ends[0].duration), 2_499);
    assert_eq!(ends[1].start_dts_ms, 6_500);
}

/// The user report: a 12 s audio-only publish (564 AAC frames, no metadata, so video was
/// expected) gave 8.0 s of HLS (376 frames). Both renditions now keep every frame.
#[test]
fn audio_only_without_metadata_keeps_every_frame_in_both_renditions() {
    let mut twin = Twin::new(2_000, true);
    twin.audio(0, &AAC_SEQUENCE_HEADER);
    // 44.1 kHz AAC: 1024 samples, 23.2 ms a frame.
    for i in 0..564u64 {
        twin.audio(i * 1024 * 1_000 / 44_100, &audio(20));
    }
    let (events, ts) = twin.finish();
    assert_eq!(segment_ends(&events)[0].start_dts_ms, 0);
    assert_eq!(ts[0].start_dts_ms, 0);
    let samples: u32 = parts(&events, TrackKind::Audio)
        .iter()
        .map(|p| p.samples)
        .sum();
    assert_eq!(samples, 564, "every frame in, every frame out (CMAF)");
    let ts_frames = ts
        .iter()
        .flat_map(|s| crate::test_support::pes_units(&s.data))
        .count();
    assert_eq!(ts_frames, 564, "every frame in, every frame out (TS)");
}

#[test]
fn audio_only_shorter_than_the_wait_for_video_is_kept() {
    let mut twin = Twin::new(2_000, true);
    twin.audio(0, &AAC_SEQUENCE_HEADER);
    for i in 0..40u64 {
        twin.audio(i * 23, &audio(20));
    }
    let (events, ts) = twin.finish();
    let samples: u32 = parts(&events, TrackKind::Audio)
        .iter()
        .map(|p| p.samples)
        .sum();
    assert_eq!((samples, ts.len()), (40, 1));
}

#[test]
fn audio_held_for_video_follows_the_first_idr_from_its_time_on() {
    let mut twin = Twin::new(1_000, true);
    twin.video(0, &avc_sequence_header(&SPS));
    twin.audio(0, &AAC_SEQUENCE_HEADER);
    for i in 0..5u64 {
        twin.audio(i * 20, &audio(10));
    }
    twin.video(40, &video(true, 0, 10));
    twin.audio(100, &audio(10));
    let (events, _) = twin.finish();
    let audio_parts = parts(&events, TrackKind::Audio);
    let fragment = decode(&audio_parts[0].data);
    // 40, 60 and 80 ms held, then 100 ms: four frames from the IDR's time on.
    assert_eq!(fragment.entries.len(), 4);
    assert_eq!(
        fragment.tfdt,
        (40 + crate::cmaf::PRESENTATION_DELAY_MS) * 44_100 / 1_000
    );
}

/// RFC 8216 §6.2.4: variants carry matching timestamps. Each segment's first video frame
/// has the same decode time in the MPEG-TS rendition (PES DTS) and in the CMAF one (`tfdt`),
/// and so has its first audio frame: a player that aligns the variants (Shaka) or switches
/// between them finds the same media at the same time.
#[test]
fn both_renditions_carry_the_same_timestamps() {
    let mut twin = Twin::new(2_000, true);
    twin.video(0, &avc_sequence_header(&SPS));
    twin.audio(0, &AAC_SEQUENCE_HEADER);
    for i in 0..200u64 {
        twin.video(i * 33, &video(i % 60 == 0, 0, 50));
        twin.audio(i * 33, &audio(10));
    }
    let (events, ts) = twin.finish();
    assert!(ts.len() >= 3);
    for (seq, segment) in ts.iter().enumerate() {
        let units = crate::test_support::pes_units(&segment.data);
        let first_decode = |stream_id: u8| {
            let pes = &units
                .iter()
                .find(|u| u.pes.stream_id == stream_id)
                .unwrap()
                .pes;
            pes.dts.or(pes.pts).unwrap()
        };
        let first_tfdt = |track: TrackKind| {
            let part = parts(&events, track)
                .into_iter()
                .find(|p| p.seq == seq as u64 && p.index == 0)
                .unwrap();
            decode(&part.data).tfdt
        };
        assert_eq!(
            first_decode(0xE0),
            first_tfdt(TrackKind::Video),
            "video {seq}"
        );
        // Audio: 90 kHz against the 44.1 kHz track timescale.
        let audio_ts = first_decode(0xC0) * 44_100 / 90_000;
        assert!(
            first_tfdt(TrackKind::Audio).abs_diff(audio_ts) <= 1,
            "audio {seq}"
        );
    }
}

/// ADR 19: the TS rendition of an HEVC publish carries its audio only, and is cut where the
/// CMAF rendition, which carries the video too, is cut: at the IRAP pictures.
#[test]
fn an_hevc_publish_is_cut_alike_and_its_ts_segments_carry_the_audio() {
    let mut twin = Twin::new(1_000, true);
    twin.audio(0, &AAC_SEQUENCE_HEADER);
    twin.video(0, &flv_hevc_sequence_start(30));
    // Audio before the first IRAP is held; what is not older than it follows it.
    for i in 0..10u64 {
        twin.audio(i * 23, &audio(20));
    }
    for i in 0..150u64 {
        let keyframe = i % 31 == 0;
        twin.video(115 + i * 33, &flv_hevc(keyframe, keyframe, 33, 60));
        twin.audio(230 + i * 33, &audio(20));
    }
    let notices = twin.ts_notices.clone();
    let (events, ts) = twin.finish();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("hevc"));
    let ends = segment_ends(&events);
    let starts: Vec<u64> = ends.iter().map(|end| end.start_dts_ms).collect();
    assert_eq!(
        starts,
        [
            115,
            115 + 31 * 33,
            115 + 62 * 33,
            115 + 93 * 33,
            115 + 124 * 33
        ]
    );
    for (end, ts) in ends.iter().zip(&ts) {
        assert!(end.starts_with_keyframe && ts.starts_with_keyframe);
        // A cut segment lasts until the next cut in both; the last one until its last
        // frame's end, of the video in CMAF and of the audio in TS.
        if end.seq + 1 < ends.len() as u64 {
            assert_eq!(ms(&end.duration), ts.duration_ms, "segment {}", end.seq);
        }
        let tables = verify_tables(&ts.data);
        assert_eq!(tables.streams, vec![(STREAM_TYPE_AAC_ADTS, AUDIO_PID)]);
        let tracks: Vec<TrackKind> = end.tracks.iter().map(|t| t.track).collect();
        assert_eq!(tracks, [TrackKind::Video, TrackKind::Audio]);
    }
    assert_eq!(inits(&events)[0].codec, "hvc1.1.6.L30.90");
}

/// Found by the `cmaf_packager` fuzz target on the x265 seed: an HEVC publish without audio
/// left the TS rendition's last segment out (it had no frame to end at), so the renditions
/// ended on different segments. TS now times the video it does not carry.
#[test]
fn an_hevc_publish_without_audio_lists_the_same_segments_in_both() {
    let mut twin = Twin::new(100, true);
    twin.video(0, &flv_hevc_sequence_start(30));
    for i in 0..6u64 {
        twin.video(i * 100, &flv_hevc(i % 5 == 0, i % 5 == 0, 0, 2_000));
    }
    let (events, ts) = twin.finish();
    let ends = segment_ends(&events);
    assert_eq!(ends.len(), 2);
    for (end, ts) in ends.iter().zip(&ts) {
        assert_eq!(ms(&end.duration), ts.duration_ms, "segment {}", end.seq);
        assert!(verify_tables(&ts.data).streams.is_empty(), "no media in TS");
    }
}

/// ADR 19 for AV1 as for HEVC: the CMAF rendition carries `av01`, the TS one the audio, and
/// both cut at the key frames.
#[test]
fn an_av1_publish_is_cut_alike_and_its_ts_segments_carry_the_audio() {
    let mut twin = Twin::new(1_000, true);
    twin.audio(0, &AAC_SEQUENCE_HEADER);
    twin.video(0, &flv_av1_sequence_start());
    for i in 0..100u64 {
        twin.video(i * 33, &flv_av1(i % 31 == 0, 300));
        twin.audio(i * 33 + 5, &audio(20));
    }
    let notices = twin.ts_notices.clone();
    let (events, ts) = twin.finish();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("av1"));
    let starts: Vec<u64> = segment_ends(&events)
        .iter()
        .map(|e| e.start_dts_ms)
        .collect();
    assert_eq!(starts, [0, 31 * 33, 62 * 33, 93 * 33]);
    for segment in &ts {
        let tables = verify_tables(&segment.data);
        assert_eq!(tables.streams, vec![(STREAM_TYPE_AAC_ADTS, AUDIO_PID)]);
    }
    let init = inits(&events)[0];
    assert_eq!(
        (init.codec.as_str(), init.dimensions),
        ("av01.0.00M.08", Some((170, 98)))
    );
    let (_, moov) = decode_init(&init.data);
    let mp4_atom::Codec::Av01(av01) = &moov.trak[0].mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not av01");
    };
    assert_eq!((av01.visual.width, av01.visual.height), (170, 98));
    assert_eq!(av01.av1c.config_obus.len(), 12);
}
