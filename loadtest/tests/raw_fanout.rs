//! `raw-fanout`, the benchmark's ceiling, against a real `ferrocast dev`: it pulls the
//! stream's HTTP-FLV and serves it to RTMP players and HTTP-FLV viewers of the loadtest
//! binary, which must all start on a keyframe and play without an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ferrocast_testkit::DevCommand;
use support::{Guard, LOADTEST, Scratch, ferrocast_binary, make_clip, number, run_for_summary};

const RAW_FANOUT: &str = env!("CARGO_BIN_EXE_raw-fanout");

/// Starts raw-fanout on `upstream`; returns it with its HTTP-FLV and RTMP URLs.
fn start_raw_fanout(upstream: &str) -> (Guard, String, String) {
    let mut child = Command::new(RAW_FANOUT)
        .args(["--upstream", upstream])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start raw-fanout");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = |label: &str| {
        let line = lines.next().expect("raw-fanout printed its URLs").unwrap();
        line.strip_prefix(label)
            .unwrap_or_else(|| panic!("{label} expected, got {line}"))
            .to_owned()
    };
    let flv = url("HTTP-FLV: ");
    let rtmp = url("RTMP: ");
    (Guard(child), flv, rtmp)
}

#[test]
fn raw_fanout_serves_rtmp_players_and_flv_viewers_of_ferrocast_dev() {
    let scratch = Scratch::new("raw");
    let dir = &scratch.0;
    let clip = make_clip(dir);
    let server = DevCommand::new(ferrocast_binary(), dir).start();
    let publisher = Command::new(LOADTEST)
        .args(["--quiet", "--duration", "60s", "--publish-url"])
        .arg(&server.publish_url)
        .arg("--flv")
        .arg(&clip)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the publisher");
    let _publisher = Guard(publisher);
    let (_raw, flv_url, rtmp_url) = start_raw_fanout(&server.flv_url);

    let args = [
        "--duration",
        "8s",
        "--quiet",
        "--rtmp-play-url",
        &rtmp_url,
        "--rtmp-players",
        "3",
        "--flv-url",
        &flv_url,
        "--flv-viewers",
        "3",
    ];
    let (summary, context) = run_for_summary(&args, dir);

    assert_eq!(number(&summary, &["errors_total"]), 0.0, "{context}");
    for protocol in ["rtmp", "flv"] {
        let value = |path: &[&str]| number(&summary[protocol], path);
        assert_eq!(value(&["viewers_receiving"]), 3.0, "{protocol}: {context}");
        assert_eq!(
            value(&["viewers_keyframe_first"]),
            3.0,
            "{protocol}: {context}"
        );
        assert!(
            value(&["min_video_frames_per_viewer"]) > 0.0,
            "{protocol}: {context}"
        );
        assert!(value(&["audio_frames"]) > 0.0, "{protocol}: {context}");
        assert_eq!(value(&["gaps"]), 0.0, "{protocol}: {context}");
    }
}
