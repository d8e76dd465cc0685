//! The loadtest binary against a real `ferrocast dev` on loopback: one publisher looping an
//! ffmpeg-made clip, three HTTP-FLV viewers and two HLS viewers for eight seconds, judged from
//! the JSON summary. Also: a non-loopback target is refused before any traffic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use ferrocast_testkit::DevCommand;
use support::{Scratch, ferrocast_binary, make_clip, number, run_for_summary, run_loadtest};

#[test]
fn publisher_flv_and_hls_viewers_against_ferrocast_dev() {
    let scratch = Scratch::new("dev");
    let dir = &scratch.0;
    let ferrocast = ferrocast_binary();
    let clip = make_clip(dir);
    let server = DevCommand::new(&ferrocast, dir).start();
    let args = [
        "--duration",
        "8s",
        "--quiet",
        "--publish-url",
        &server.publish_url,
        "--flv",
        clip.to_str().unwrap(),
        "--flv-url",
        &server.flv_url,
        "--flv-viewers",
        "3",
        "--hls-url",
        &server.hls_url,
        "--hls-viewers",
        "2",
    ];
    let (summary, context) = run_for_summary(&args, dir);

    assert_eq!(number(&summary, &["errors_total"]), 0.0, "{context}");
    assert_eq!(
        number(&summary, &["publishers", "publishing"]),
        1.0,
        "{context}"
    );
    assert!(
        number(&summary, &["publishers", "stamped_frames"]) > 0.0,
        "{context}"
    );

    let flv = |path: &[&str]| number(&summary["flv"], path);
    assert_eq!(flv(&["viewers_receiving"]), 3.0, "{context}");
    assert_eq!(flv(&["viewers_keyframe_first"]), 3.0, "{context}");
    assert!(flv(&["min_video_frames_per_viewer"]) > 0.0, "{context}");
    assert_eq!(flv(&["ttff_ms", "count"]), 3.0, "{context}");
    assert!(flv(&["latency_ms", "count"]) > 0.0, "{context}");
    let p50 = flv(&["latency_ms", "p50_ms"]);
    assert!(
        p50 > 0.0 && p50 < 1000.0,
        "FLV latency p50 {p50} ms\n{context}"
    );

    let hls = |path: &[&str]| number(&summary["hls"], path);
    assert_eq!(hls(&["viewers_receiving"]), 2.0, "{context}");
    assert!(hls(&["segments"]) > 0.0, "{context}");
    assert!(hls(&["latency_ms", "count"]) > 0.0, "{context}");
    assert!(number(&summary, &["bytes_in_per_s"]) > 0.0, "{context}");
}

#[test]
fn non_loopback_targets_are_refused_before_any_traffic() {
    let scratch = Scratch::new("refused");
    for url in [
        ["--flv-url", "http://10.0.0.1:8080/live/x.flv"],
        ["--hls-url", "http://example.com/hls/x/index.m3u8"],
        ["--rtmp-play-url", "rtmp://192.168.1.10/live/x"],
    ] {
        let args = [url[0], url[1], "--duration", "30s", "--quiet"];
        let started = Instant::now();
        let (status, stderr) = run_loadtest(&args, &scratch.0, Duration::from_secs(10));
        assert_eq!(status.code(), Some(2), "{url:?}: {stderr}");
        assert!(stderr.contains("non-loopback"), "{url:?}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url:?} was not refused at once"
        );
    }
}
