//! A CMAF object the part log does not hold (the stream is no longer live, or the edge
//! restarted) comes from object storage through the edge's cache, with the log's caching and
//! byte ranges; one storage does not have is 404. Parts never come from storage.

use bytes::Bytes;
use ferrocast_edge::EdgeConfig;
use ferrocast_media::cmaf::TrackKind;
use ferrocast_media::ll::names;
use ferrocast_store::SessionObject;

use crate::support::{ANSWER_WITHIN, Backends, EPOCH, Edge, PLAYBACK_ID, stream_id};

fn url(name: &str) -> String {
    format!("/ll/{PLAYBACK_ID}/{name}")
}

#[tokio::test]
async fn segments_and_inits_of_a_stream_no_longer_live_come_from_storage() {
    let backends = Backends::new();
    let segment = Bytes::from_static(b"moof and mdat of segment 4, video");
    let init = Bytes::from_static(b"ftyp and moov, audio, version 1");
    let stored = [
        (
            SessionObject::CmafSegment {
                seq: 4,
                track: TrackKind::Video,
            },
            segment.clone(),
        ),
        (
            SessionObject::CmafInit {
                version: 1,
                track: TrackKind::Audio,
            },
            init.clone(),
        ),
    ];
    for (object, data) in stored {
        backends
            .store
            .put_object(&stream_id(), EPOCH, object, data)
            .await
            .unwrap();
    }
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let reply = edge
        .get(&url(&names::segment(EPOCH, 4, TrackKind::Video)))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, segment);
    assert_eq!(reply.header("content-type"), "video/mp4");
    assert_eq!(
        reply.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let reply = edge
        .get(&url(&names::init(EPOCH, 1, TrackKind::Audio)))
        .await;
    assert_eq!((reply.status.as_u16(), reply.body.clone()), (200, init));

    let name = url(&names::segment(EPOCH, 4, TrackKind::Video));
    let reply = edge.send("GET", &name, &[("range", "bytes=5-12")]).await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body, segment.slice(5..=12));
    let total = segment.len();
    assert_eq!(reply.header("content-range"), format!("bytes 5-12/{total}"));

    // Not stored: another segment, another init version, and any part.
    for missing in [
        names::segment(EPOCH, 5, TrackKind::Video),
        names::init(EPOCH, 0, TrackKind::Audio),
        names::part(EPOCH, 4, 0, TrackKind::Video),
    ] {
        assert_eq!(edge.get(&url(&missing)).await.status, 404, "{missing}");
    }
    edge.stop(ANSWER_WITHIN).await;
}
