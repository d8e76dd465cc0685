//! HTTP-FLV: what a viewer receives from the live hub, where a late viewer starts, and how
//! a shutdown ends viewers.

use std::time::Duration;

use ferrocast_edge::EdgeConfig;
use ferrocast_media::flv::{Tag, TagType};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::http::FlvViewer;
use crate::support::{
    AAC_SEQUENCE_HEADER, ANSWER_WITHIN, AVC_SEQUENCE_HEADER, Backends, Edge, GOP_FRAMES,
    PLAYBACK_ID, frame_number, publish_frames, publish_sequence_headers, timestamp_ms, video,
};

/// "FLV", version 1, audio and video, a 9-byte header, then a first previous tag size of 0.
const FILE_HEADER: [u8; 13] = [b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0];

/// Checks that `tags` are video frames `frames`, in order, with their bodies and times.
fn assert_frames(tags: &[Tag], frames: std::ops::Range<u32>) {
    let numbers: Vec<Option<u32>> = tags.iter().map(|tag| frame_number(&tag.body)).collect();
    let expected: Vec<Option<u32>> = frames.clone().map(Some).collect();
    assert_eq!(numbers, expected);
    for (tag, n) in tags.iter().zip(frames) {
        assert_eq!(tag.body[..], video(n)[..], "frame {n}");
        assert_eq!(tag.timestamp_ms, timestamp_ms(n), "frame {n}");
    }
}

#[tokio::test]
async fn a_viewer_gets_the_header_the_sequence_headers_then_the_hubs_frames() {
    let backends = Backends::new();
    let hub = backends.go_live();
    publish_sequence_headers(&hub);
    publish_frames(&hub, 0..10);
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let mut viewer = FlvViewer::open(&edge, PLAYBACK_ID).await;
    assert_eq!(viewer.file_header, FILE_HEADER);
    let first = viewer.next_tag().await;
    assert_eq!(
        (first.tag_type, &first.body[..]),
        (TagType::Video, &AVC_SEQUENCE_HEADER[..])
    );
    let second = viewer.next_tag().await;
    assert_eq!(
        (second.tag_type, &second.body[..]),
        (TagType::Audio, &AAC_SEQUENCE_HEADER[..])
    );
    // The GOP so far, from the hub's cache.
    assert_frames(&viewer.video_until(9).await, 0..10);
    // Then what is pushed into the hub while the viewer watches.
    publish_frames(&hub, 10..40);
    assert_frames(&viewer.video_until(39).await, 10..40);
    // A viewer that hung up holds up no drain.
    drop(viewer);
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn a_viewer_joining_mid_gop_starts_at_the_gops_keyframe() {
    let backends = Backends::new();
    let hub = backends.go_live();
    publish_sequence_headers(&hub);
    // One whole GOP, then a third of the next.
    publish_frames(&hub, 0..GOP_FRAMES + 10);
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let mut viewer = FlvViewer::open(&edge, PLAYBACK_ID).await;
    let video = viewer.video_until(GOP_FRAMES + 9).await;
    assert_eq!(video[0].body[..], AVC_SEQUENCE_HEADER[..]);
    // Frame 30 is the keyframe: nothing of the older GOP, nothing skipped of this one.
    assert_eq!(video[1].body[0], 0x17, "a keyframe first");
    assert_frames(&video[1..], GOP_FRAMES..GOP_FRAMES + 10);
    publish_frames(&hub, GOP_FRAMES + 10..GOP_FRAMES + 20);
    let live = viewer.video_until(GOP_FRAMES + 19).await;
    assert_frames(&live, GOP_FRAMES + 10..GOP_FRAMES + 20);
    drop(viewer);
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn a_shutdown_closes_flv_viewers_at_the_request_deadline() {
    let mut config = EdgeConfig::default();
    config.drain.request_deadline = Duration::from_millis(300);
    let deadline = config.drain.request_deadline;
    let backends = Backends::new();
    let hub = backends.go_live();
    publish_sequence_headers(&hub);
    publish_frames(&hub, 0..5);
    let mut edge = Edge::start(config, &backends).await;
    let mut viewer = FlvViewer::open(&edge, PLAYBACK_ID).await;
    viewer.video_until(4).await;

    // The stream stays live: only the drain can end the viewer.
    let started = Instant::now();
    let ((), ended) = tokio::join!(edge.stop(ANSWER_WITHIN), viewer.ended_within(ANSWER_WITHIN));
    let served_for = ended - started;
    assert!(
        served_for >= deadline,
        "cut before the deadline: {served_for:?}"
    );
    assert!(
        served_for < deadline + Duration::from_secs(1),
        "{served_for:?}"
    );
    assert!(!hub.is_ended());
    let refused = TcpStream::connect(edge.addr).await;
    assert!(refused.is_err(), "the listener is closed once run returned");
}
