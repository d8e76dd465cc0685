//! Thumbnails over HTTP: a live stream's keyframe (a real libx264 one) comes back as a JPEG
//! of the stream's size with the caching headers a CDN reads; unknown, offline, audio-only
//! and non-H.264 streams and malformed queries get a clear status.

use std::time::Duration;

use ferrocast_edge::EdgeConfig;
use ferrocast_live::{Frame, FrameKind, Hub};
use ferrocast_media::flv::{Reader, TagType};
use hyper::StatusCode;

use crate::support::{ANSWER_WITHIN, Backends, Edge, PLAYBACK_ID};

const THUMBNAIL: &str = "/thumbnail/pb-1.jpg";

/// The fixture's video tags as `(timestamp, body)`: its sequence header, then two frames
/// (a keyframe and an inter frame) of 640x360 colour bars (its end-of-sequence tag left out).
fn fixture_tags() -> Vec<(u32, Vec<u8>)> {
    let mut reader = Reader::new();
    reader.push(include_bytes!(
        "../../../thumbnail/tests/fixtures/smptebars-640x360.flv"
    ));
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag().unwrap() {
        if tag.tag_type == TagType::Video {
            tags.push((tag.timestamp_ms, tag.body.to_vec()));
        }
    }
    tags.truncate(3);
    let kinds: Vec<[u8; 2]> = tags.iter().map(|(_, body)| [body[0], body[1]]).collect();
    assert_eq!(
        kinds,
        [[0x17, 0], [0x17, 1], [0x27, 1]],
        "header, keyframe, inter frame"
    );
    tags
}

/// Publishes the fixture's sequence header.
fn publish_config(hub: &Hub) {
    let (at, body) = &fixture_tags()[0];
    hub.publish(Frame::sequence_header(FrameKind::Video, *at, body));
}

/// Publishes the fixture's keyframe and inter frame, `offset_ms` later than recorded.
fn publish_gop(hub: &Hub, offset_ms: u32) {
    let tags = fixture_tags();
    hub.publish(Frame::keyframe(tags[1].0 + offset_ms, &tags[1].1));
    hub.publish(Frame::video(tags[2].0 + offset_ms, &tags[2].1));
}

/// `(width, height)` from a baseline JPEG's SOF0 segment.
fn jpeg_size(jpeg: &[u8]) -> (u16, u16) {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
    let sof = jpeg
        .windows(2)
        .position(|marker| marker == [0xFF, 0xC0])
        .expect("a baseline frame header");
    let height = u16::from_be_bytes([jpeg[sof + 5], jpeg[sof + 6]]);
    let width = u16::from_be_bytes([jpeg[sof + 7], jpeg[sof + 8]]);
    (width, height)
}

#[tokio::test]
async fn a_live_stream_gets_a_jpeg_of_its_own_size() {
    let backends = Backends::new();
    let hub = backends.go_live();
    publish_config(&hub);
    publish_gop(&hub, 0);
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let origin = [("origin", "https://player.example")];
    let reply = edge.send("GET", THUMBNAIL, &origin).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "image/jpeg");
    assert_eq!(reply.header("cache-control"), "public, max-age=2");
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    assert_eq!(jpeg_size(&reply.body), (640, 360));
    let etag = reply.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag:?}");

    // A client holding it is told so; a scaled one is another picture.
    let revalidated = edge
        .send("GET", THUMBNAIL, &[("if-none-match", &etag)])
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());
    let small = edge.get(&format!("{THUMBNAIL}?width=320")).await;
    assert_eq!(small.status, StatusCode::OK);
    assert_eq!(jpeg_size(&small.body), (320, 180));
    assert_ne!(small.header("etag"), etag);
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn unknown_offline_and_malformed_requests_are_refused_clearly() {
    let backends = Backends::new();
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let unknown = edge.get("/thumbnail/nobody.jpg").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let offline = edge.get(THUMBNAIL).await;
    assert_eq!(
        (offline.status, offline.text()),
        (StatusCode::NOT_FOUND, "stream offline\n")
    );
    assert_eq!(offline.header("cache-control"), "no-cache");
    let no_extension = edge.get(&format!("/thumbnail/{PLAYBACK_ID}")).await;
    assert_eq!(no_extension.status, StatusCode::NOT_FOUND);
    for query in ["width=8", "width=4000", "width=x", "time=-2", "time=later"] {
        let bad = edge.get(&format!("{THUMBNAIL}?{query}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
    }
    let recorded = edge.get(&format!("{THUMBNAIL}?time=12.5")).await;
    let named = edge
        .get(&format!("{THUMBNAIL}?time=1&recording=rec_other_3"))
        .await;
    assert_eq!(
        (named.status, named.text()),
        (StatusCode::NOT_FOUND, "no such recording\n")
    );
    assert_eq!(
        (recorded.status, recorded.text()),
        (StatusCode::NOT_FOUND, "stream has no recording\n")
    );
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn hevc_is_refused_as_an_unsupported_media_type() {
    let backends = Backends::new();
    let hub = backends.go_live();
    // Enhanced RTMP: IsExHeader | keyframe with packet types SequenceStart, CodedFramesX.
    let mut sequence_start = vec![0x90, b'h', b'v', b'c', b'1'];
    sequence_start.extend_from_slice(&[1, 2, 3]);
    hub.publish(Frame::sequence_header(FrameKind::Video, 0, &sequence_start));
    hub.publish(Frame::keyframe(
        0,
        &[0x93, b'h', b'v', b'c', b'1', 0, 0, 0, 1],
    ));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let reply = edge.get(THUMBNAIL).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(reply.text().contains("hevc"), "{}", reply.text());
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn an_audio_only_stream_has_no_thumbnail() {
    let backends = Backends::new();
    let hub = backends.go_live();
    hub.publish(Frame::sequence_header(
        FrameKind::Audio,
        0,
        &[0xAF, 0, 0x11, 0x90],
    ));
    for n in 0..4 {
        hub.publish(Frame::audio(n * 21, &[0xAF, 1, 0x21, 0x42]));
    }
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    let reply = edge.get(THUMBNAIL).await;
    assert_eq!(
        (reply.status, reply.text()),
        (StatusCode::NOT_FOUND, "stream has no video\n")
    );
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn a_stream_without_a_keyframe_yet_is_answered_at_its_next_one() {
    let backends = Backends::new();
    let hub = backends.go_live();
    publish_config(&hub);
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    // The request waits on the hub like a viewer; then the keyframe comes.
    let keyframe_comes = async {
        let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
        while hub.viewer_count() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the request never subscribed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        publish_gop(&hub, 0);
    };
    let (reply, ()) = tokio::join!(edge.get(THUMBNAIL), keyframe_comes);
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(jpeg_size(&reply.body), (640, 360));
    edge.stop(ANSWER_WITHIN).await;
}
