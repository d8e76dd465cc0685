//! Multivariant playlists of logs a real packager filled.

use super::*;
use crate::ll::fixtures::{Publisher, log_of, session_events};
use crate::ll::{LogConfig, LogEvent};

fn attribute<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text.find(&format!("{name}=")).expect(name) + name.len() + 1;
    let rest = &text[start..];
    let end = rest.find([',', '\n']).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn a_video_and_audio_stream_has_one_variant_with_an_audio_rendition() {
    let mut publisher = Publisher::new(1, 0);
    let events = session_events(&mut publisher, 6_500);
    let log = log_of(LogConfig::default(), &events);
    let text = render(&log, None).unwrap();
    assert!(text.starts_with(
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio.m3u8\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH="
    ), "{text}");
    assert!(text.ends_with(
        ",CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=30.000,AUDIO=\"audio\"\nvideo.m3u8\n"
    ), "{text}");
    // Each 2 s segment: 60 video frames of ~600 bytes and 87 AAC frames of 120, in boxes.
    let peak: u64 = attribute(&text, "BANDWIDTH").parse().unwrap();
    let average: u64 = attribute(&text, "AVERAGE-BANDWIDTH").parse().unwrap();
    let media_bits = (60 * 611 + 87 * 120) * 8 / 2;
    assert!(
        peak >= average && average > media_bits,
        "{peak} {average} {media_bits}"
    );
    assert!(peak < media_bits * 2);

    let ts = TsVariant {
        uri: "../../hls/abc/index.m3u8".into(),
        bandwidth: 250_000,
    };
    let both = render(&log, Some(&ts)).unwrap();
    assert!(both.starts_with(&text));
    assert_eq!(
        &both[text.len()..],
        "#EXT-X-STREAM-INF:BANDWIDTH=250000,CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=30.000\n../../hls/abc/index.m3u8\n"
    );
}

#[test]
fn audio_only_and_early_streams() {
    assert_eq!(render(&PartLog::new(LogConfig::default()), None), None);
    let mut publisher = Publisher::with(1, 0, false, true);
    let log = log_of(LogConfig::default(), &session_events(&mut publisher, 5_000));
    let text = render(&log, None).unwrap();
    assert!(!text.contains("EXT-X-MEDIA"));
    assert!(!text.contains("RESOLUTION"));
    assert!(
        text.ends_with(",CODECS=\"mp4a.40.2\"\naudio.m3u8\n"),
        "{text}"
    );

    // Before any segment is complete, the parts so far are measured.
    let mut publisher = Publisher::new(1, 0);
    let events = session_events(&mut publisher, 1_000);
    assert!(!events.iter().any(|e| matches!(e, LogEvent::SegmentEnd(_))));
    let text = render(&log_of(LogConfig::default(), &events), None).unwrap();
    let peak: u64 = attribute(&text, "BANDWIDTH").parse().unwrap();
    assert!(peak > 100_000, "{text}");
    assert!(text.contains("FRAME-RATE=30."));
}

/// ADR 19: an HEVC stream's variant names `hvc1`; the MPEG-TS rendition has no video then,
/// so it is not offered beside it.
#[test]
fn an_hevc_stream_names_hvc1_and_offers_no_ts_variant() {
    let mut publisher = Publisher::hevc(1, 0);
    let log = log_of(LogConfig::default(), &session_events(&mut publisher, 6_500));
    let ts = TsVariant {
        uri: "../../hls/abc/index.m3u8".into(),
        bandwidth: 250_000,
    };
    let text = render(&log, Some(&ts)).unwrap();
    assert!(
        text.ends_with(
            ",CODECS=\"hvc1.1.6.L30.90,mp4a.40.2\",RESOLUTION=160x120,FRAME-RATE=30.000,AUDIO=\"audio\"\nvideo.m3u8\n"
        ),
        "{text}"
    );
    assert!(!text.contains("hls/abc"), "{text}");
}
