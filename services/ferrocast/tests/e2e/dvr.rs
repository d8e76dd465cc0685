//! DVR on the local cluster: a recorded stream with a one-minute rewind window, published
//! live by ffmpeg, gets a live MPEG-TS playlist on both edges that reaches back past the live
//! window into its recording, with delta updates; a segment from before the live window is
//! a real H.264 segment; and hls.js in Chromium, playing live, seeks back into the window and
//! plays from there while the stream goes on.

use std::time::Duration;

use crate::low_latency_browser::plays;
use crate::support::cluster::LocalCluster;
use crate::support::http::{get, request};
use crate::support::media::{probe, publish_clip};
use crate::support::wait_for;

/// Segments listed before the test plays: 40 s at 2 s each, well past the 6-segment live
/// window.
const LISTED: usize = 20;

fn listed_uris(playlist: &str) -> Vec<&str> {
    playlist
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn a_live_stream_with_a_dvr_window_can_be_sought_back() {
    let cluster = LocalCluster::start_with(&[]);
    let auth = format!("Bearer {}", cluster.var("ADMIN_TOKEN"));
    let created = request(
        "POST",
        &format!("{}/v1/streams", cluster.var("ADMIN_URL")),
        &[("Authorization", &auth)],
        r#"{"name":"dvr","recording_retention":"1h","dvr_window":"1m"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let stream: serde_json::Value = serde_json::from_slice(&created.body).unwrap();
    assert_eq!(stream["dvr_window"], "1m");
    let (key, pid) = (
        stream["stream_key"].as_str().unwrap(),
        stream["playback_id"].as_str().unwrap(),
    );
    let mut publisher = publish_clip(&format!("{}/{key}", cluster.var("ORIGIN_RTMP_1")), -1);

    let edges = ["EDGE_URL_1", "EDGE_URL_2"].map(|e| cluster.var(e).to_owned());
    let multivariant = format!("{}/hls/{pid}/index.m3u8", edges[0]);
    let media = wait_for("the media playlist", Duration::from_secs(30), || {
        let answer = get(&multivariant);
        let text = answer.text();
        let uri = listed_uris(&text)
            .into_iter()
            .find(|uri| uri.ends_with(".m3u8"));
        let uri = uri.filter(|_| answer.status == 200)?;
        Some(format!("{}/hls/{pid}/{uri}", edges[0]))
    });
    let started = std::time::Instant::now();
    let playlist = loop {
        let text = get(&media).text();
        if listed_uris(&text).len() >= LISTED {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the DVR playlist did not reach past the live window: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        playlist.contains("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12\n"),
        "{playlist}"
    );
    let oldest = listed_uris(&playlist)[0].to_owned();

    // Both edges name the same window; the delta update skips all but its last 12 s.
    let other = get(&media.replace(&edges[0], &edges[1])).text();
    assert!(listed_uris(&other).len() >= LISTED, "{other}");
    let delta = get(&format!("{media}?_HLS_skip=YES")).text();
    assert!(delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS="), "{delta}");
    assert!(listed_uris(&delta).len() <= 7, "{delta}");

    // The oldest listed segment, long out of the live window, is a real segment.
    let segment = get(&format!("{}/hls/{pid}/{oldest}", edges[1]));
    assert_eq!(segment.status, 200, "{oldest}");
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("dvr-{}.ts", std::process::id()));
    std::fs::write(&path, &segment.body).unwrap();
    let probed = probe(path.to_str().unwrap());
    let codecs: Vec<&str> = probed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["codec_name"].as_str())
        .collect();
    assert!(codecs.contains(&"h264"), "{probed}");

    // hls.js plays live, seeks back into the window, and plays from there.
    let played = plays("hls", &multivariant, &["--seconds", "3", "--seek-back"]);
    let seekable = played["seekableS"].as_f64().unwrap_or_default();
    assert!(seekable >= 30.0, "hls.js sees the DVR window: {played}");
    eprintln!(
        "measured: seekable {seekable} s; played from {} s with the live edge at {} s",
        played["startTime"], played["liveEdgeAtSeek"]
    );
    let _ = publisher.kill();
    let _ = publisher.wait();
}
