//! DVR: a stream with a rewind window gets a live MPEG-TS playlist that reaches back that
//! far into its recording, with delta updates; segments that left the live listing are
//! still served; a stream without a window keeps its live window, and so does one whose
//! recording stopped long ago (a playlist never skips a sequence number).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocast_edge::EdgeConfig;

use crate::support::{ANSWER_WITHIN, Backends, DvrStream, Edge, PLAYBACK_ID};

const PLAYLIST: &str = "/hls/pb-1/media-1.m3u8";

/// `count` distinct segment objects.
fn objects(count: usize) -> Vec<Bytes> {
    (0..count)
        .map(|n| Bytes::from(format!("segment {n}").repeat(40)))
        .collect()
}

fn extinfs(text: &str) -> usize {
    text.matches("#EXTINF:").count()
}

#[tokio::test]
async fn a_dvr_playlist_reaches_back_its_window_with_delta_updates() {
    let objects = objects(100);
    let mut backends = Backends::new();
    backends.directory = Arc::new(DvrStream(Duration::from_secs(60)));
    backends.record_segments(&objects, 6, 1000).await;
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    // 60 s of 2 s segments: the newest 30, from msn 70.
    let full = edge.get(PLAYLIST).await;
    assert_eq!(full.status, 200);
    let text = full.text().to_owned();
    assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n"), "{text}");
    assert!(
        text.contains("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12\n"),
        "{text}"
    );
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:70\n"), "{text}");
    assert_eq!(extinfs(&text), 30, "{text}");
    assert!(
        text.contains("\n70.ts\n") && text.ends_with("\n99.ts\n"),
        "{text}"
    );

    // A segment only the recording still lists.
    let old = edge.get(&format!("/hls/{PLAYBACK_ID}/71.ts")).await;
    assert_eq!(old.status, 200);
    assert_eq!(old.body, objects[71]);
    let gone = edge.get(&format!("/hls/{PLAYBACK_ID}/100.ts")).await;
    assert_eq!(gone.status, 404);

    // The delta update: the same sequence numbers, all but the last 12 s skipped.
    let delta = edge.get(&format!("{PLAYLIST}?_HLS_skip=YES")).await;
    assert_eq!(delta.status, 200);
    let delta = delta.text();
    let head = "#EXT-X-MEDIA-SEQUENCE:70\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n\
                #EXT-X-SKIP:SKIPPED-SEGMENTS=24\n";
    assert!(delta.contains(head), "{delta}");
    assert_eq!(extinfs(delta), 6, "{delta}");
    assert!(
        delta.len() * 3 < text.len(),
        "{} vs {}",
        delta.len(),
        text.len()
    );
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn without_a_window_the_same_stream_lists_its_live_window() {
    let backends = Backends::new();
    backends.record_segments(&objects(100), 6, 1000).await;
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    let text = edge.get(PLAYLIST).await.text().to_owned();
    assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"), "{text}");
    assert!(!text.contains("SERVER-CONTROL"), "{text}");
    assert_eq!(extinfs(&text), 6, "{text}");
    let old = edge.get(&format!("/hls/{PLAYBACK_ID}/71.ts")).await;
    assert_eq!(old.status, 404, "not listed without DVR");
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn a_recording_that_stopped_leaves_no_hole_in_the_playlist() {
    let mut backends = Backends::new();
    backends.directory = Arc::new(DvrStream(Duration::from_secs(600)));
    // Recorded: msn 0 to 29; live: the newest 6 of 100.
    backends.record_segments(&objects(100), 6, 30).await;
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    let text = edge.get(PLAYLIST).await.text().to_owned();
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:94\n"), "{text}");
    assert_eq!(extinfs(&text), 6, "{text}");
    edge.stop(ANSWER_WITHIN).await;
}
