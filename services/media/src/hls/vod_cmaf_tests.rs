//! Golden renders of a recording's CMAF playlists, and the names they use read back.

use super::*;

/// Segment `msn` of a recording, two seconds after the one before it.
fn recorded(
    msn: u64,
    duration_ms: u64,
    discontinuity: bool,
    init: Option<(u64, u32)>,
) -> CmafVodSegment {
    CmafVodSegment {
        segment: PlaylistSegment {
            msn,
            duration_ms,
            program_date_time_ms: 1_700_000_000_000 + msn as i64 * 2000,
            discontinuity,
        },
        init,
    }
}

const HEADER_VOD: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:VOD\n";

#[test]
fn a_two_session_recording_maps_each_session_and_each_new_configuration() {
    let video = [
        recorded(10, 2000, false, Some((1, 0))),
        recorded(11, 2000, false, Some((1, 0))),
        recorded(12, 1500, true, Some((2, 0))),
        recorded(13, 2000, false, Some((2, 0))),
    ];
    assert_eq!(
        render_cmaf_vod(TrackKind::Video, &video, true),
        format!(
            "{HEADER_VOD}#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"init.10.video.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:40.000Z\n#EXTINF:2.000,\n10.video.m4s\n\
             #EXTINF:2.000,\n11.video.m4s\n\
             #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init.12.video.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:44.000Z\n#EXTINF:1.500,\n12.video.m4s\n\
             #EXTINF:2.000,\n13.video.m4s\n#EXT-X-ENDLIST\n"
        )
    );
    // The audio configuration changed within the second session: a new map, no discontinuity.
    let mut audio = video.clone();
    audio[3].init = Some((2, 1));
    assert_eq!(
        render_cmaf_vod(TrackKind::Audio, &audio, true),
        format!(
            "{HEADER_VOD}#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"init.10.audio.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:40.000Z\n#EXTINF:2.000,\n10.audio.m4s\n\
             #EXTINF:2.000,\n11.audio.m4s\n\
             #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init.12.audio.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:44.000Z\n#EXTINF:1.500,\n12.audio.m4s\n\
             #EXT-X-MAP:URI=\"init.13.audio.mp4\"\n#EXTINF:2.000,\n13.audio.m4s\n\
             #EXT-X-ENDLIST\n"
        )
    );
}

#[test]
fn a_missing_audio_object_is_a_hole_that_keeps_the_map() {
    let audio = [
        recorded(20, 2000, false, None),
        recorded(21, 2000, false, Some((3, 0))),
        recorded(22, 4000, false, None),
        recorded(23, 2200, false, Some((3, 0))),
    ];
    // The leading hole is not a discontinuity (nothing precedes it); the inner one is, with
    // a date, and the map stays in force across it. The missing segment's length does not
    // count toward the target duration.
    assert_eq!(
        render_cmaf_vod(TrackKind::Audio, &audio, true),
        format!(
            "{HEADER_VOD}#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:21\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"init.21.audio.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:14:02.000Z\n#EXTINF:2.000,\n21.audio.m4s\n\
             #EXT-X-DISCONTINUITY\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:14:06.000Z\n#EXTINF:2.200,\n23.audio.m4s\n\
             #EXT-X-ENDLIST\n"
        )
    );
}

#[test]
fn a_growing_recording_is_an_event_playlist_and_an_empty_one_has_no_segment() {
    let segments = [recorded(5, 999, false, Some((9, 2)))];
    assert_eq!(
        render_cmaf_vod(TrackKind::Video, &segments, false),
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:1\n\
         #EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MAP:URI=\"init.5.video.mp4\"\n\
         #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30.000Z\n#EXTINF:0.999,\n5.video.m4s\n"
    );
    let empty = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:1\n\
                 #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n";
    assert_eq!(render_cmaf_vod(TrackKind::Audio, &[], false), empty);
    let unstored = [recorded(5, 2000, false, None)];
    assert_eq!(render_cmaf_vod(TrackKind::Audio, &unstored, false), empty);
    assert_eq!(
        render_cmaf_vod(TrackKind::Audio, &[], true),
        empty.replace("EVENT", "VOD") + "#EXT-X-ENDLIST\n"
    );
}

fn description(codec: &str, dimensions: Option<(u32, u32)>) -> InitDescription {
    InitDescription {
        codec: codec.into(),
        dimensions,
    }
}

#[test]
fn the_multivariant_playlist_in_its_three_shapes() {
    let video = description("avc1.64001f", Some((1280, 720)));
    let audio = description("mp4a.40.2", None);
    let head = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";
    assert_eq!(
        render_cmaf_vod_multivariant(Some(&video), Some(&audio), 2_500_000).unwrap(),
        format!(
            "{head}#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,\
             AUTOSELECT=YES,URI=\"audio.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2500000,CODECS=\"avc1.64001f,mp4a.40.2\",\
             RESOLUTION=1280x720,AUDIO=\"audio\"\nvideo.m3u8\n"
        )
    );
    // A video of unknown size has no RESOLUTION; an unmeasured bandwidth is still positive.
    let sizeless = description("hvc1.1.6.L93.90", None);
    assert_eq!(
        render_cmaf_vod_multivariant(Some(&sizeless), None, 0).unwrap(),
        format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"hvc1.1.6.L93.90\"\nvideo.m3u8\n")
    );
    assert_eq!(
        render_cmaf_vod_multivariant(None, Some(&audio), 128_000).unwrap(),
        format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"\naudio.m3u8\n")
    );
    assert_eq!(render_cmaf_vod_multivariant(None, None, 128_000), None);
}

#[test]
fn every_name_parses_back() {
    let names = [
        (CmafVodName::Multivariant, "cmaf.m3u8"),
        (CmafVodName::Playlist(TrackKind::Video), "video.m3u8"),
        (CmafVodName::Playlist(TrackKind::Audio), "audio.m3u8"),
        (
            CmafVodName::Segment {
                msn: 0,
                track: TrackKind::Video,
            },
            "0.video.m4s",
        ),
        (
            CmafVodName::Segment {
                msn: u64::MAX,
                track: TrackKind::Audio,
            },
            "18446744073709551615.audio.m4s",
        ),
        (
            CmafVodName::Init {
                msn: 7,
                track: TrackKind::Audio,
            },
            "init.7.audio.mp4",
        ),
    ];
    for (name, file) in names {
        assert_eq!(name.to_string(), file);
        assert_eq!(parse_cmaf_vod_name(file), Some(name), "{file}");
    }
}

#[test]
fn other_names_are_refused() {
    for file in [
        "07.video.m4s",
        "init.07.audio.mp4",
        "1.text.m4s",
        "index.m3u8",
        "7.ts",
        "init.1.video.m4s",
        "-1.video.m4s",
        "+1.video.m4s",
        "cmaf.m3u8x",
        "18446744073709551616.video.m4s",
        "1.2.video.m4s",
        "init.video.mp4",
        "init..video.mp4",
        ".video.m4s",
        "",
    ] {
        assert_eq!(parse_cmaf_vod_name(file), None, "{file}");
    }
}
