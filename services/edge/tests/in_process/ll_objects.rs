//! `/ll/{playback_id}/{epoch}/…`: init segments, parts and complete segments are the bytes
//! the part log holds, with immutable caching; a part that does not exist is 404 unless it
//! is the next one (the preload hint), which is waited for; the edge's cap on waiting
//! requests answers 503 past it; a part that never comes is 503 after three target
//! durations.
//!
//! The waiting tests run on tokio's paused clock: it only moves when every task is idle, so
//! "still pending after 200 ms" means the edge read the request and parked it.

use std::time::Duration;

use bytes::BytesMut;
use ferrocast_base::Epoch;
use ferrocast_edge::{EdgeConfig, LlHlsConfig};
use ferrocast_media::cmaf::TrackKind;
use ferrocast_media::ll::names;
use tokio::time::{Instant, timeout};

use crate::ll_fixture::{EPOCH, Publisher, apply, next_part_in_segment};
use crate::support::{ANSWER_WITHIN, Backends, Edge, PLAYBACK_ID};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// How long a request that must wait is watched for a (wrong) early answer.
const STILL_PENDING: Duration = Duration::from_millis(200);

fn url(name: &str) -> String {
    format!("/ll/{PLAYBACK_ID}/{name}")
}

fn media_type(track: TrackKind) -> &'static str {
    match track {
        TrackKind::Video => "video/mp4",
        TrackKind::Audio => "audio/mp4",
    }
}

#[tokio::test]
async fn inits_parts_and_segments_are_the_logs_bytes() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, 10);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(5_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let segments = channel.read(|log| log.segments().to_vec());
    let complete = segments.iter().filter(|s| s.complete.is_some()).count();
    assert!(complete >= 2, "5 s of 2 s segments: {complete} complete");
    let mut parts_checked = 0;
    for segment in &segments {
        for track in [TrackKind::Video, TrackKind::Audio] {
            let mut whole = BytesMut::new();
            for part in &segment.parts {
                let Some(held) = part.track(track) else {
                    continue;
                };
                whole.extend_from_slice(held);
                let name = names::part(segment.epoch, segment.seq, part.index, track);
                let reply = edge.get(&url(&name)).await;
                assert_eq!(reply.status, 200, "{name}");
                assert_eq!(&reply.body, held, "{name}");
                assert_eq!(reply.header("content-type"), media_type(track), "{name}");
                assert_eq!(reply.header("cache-control"), IMMUTABLE, "{name}");
                parts_checked += 1;
            }
            let name = names::segment(segment.epoch, segment.seq, track);
            let reply = edge.get(&url(&name)).await;
            if segment.complete.is_some() {
                assert_eq!(reply.status, 200, "{name}");
                assert_eq!(reply.body, whole.freeze(), "a segment is its parts: {name}");
                assert_eq!(reply.header("content-type"), media_type(track));
                assert_eq!(reply.header("cache-control"), IMMUTABLE, "{name}");
            } else {
                assert_eq!(
                    reply.status, 404,
                    "the open segment is not whole yet: {name}"
                );
            }
        }
    }
    assert!(parts_checked >= 20, "{parts_checked} parts");

    let epoch = segments[0].epoch;
    for track in [TrackKind::Video, TrackKind::Audio] {
        let held = channel.read(|log| log.init(epoch, track, 0).map(|init| init.data.clone()));
        let name = names::init(epoch, 0, track);
        let reply = edge.get(&url(&name)).await;
        assert_eq!(reply.status, 200, "{name}");
        assert_eq!(Some(reply.body.clone()), held, "{name}");
        assert_eq!(reply.header("content-type"), "video/mp4", "{name}");
        assert_eq!(reply.header("cache-control"), IMMUTABLE, "{name}");
        assert_eq!(reply.header("set-cookie"), "", "{name}");
    }

    let newest = segments.last().unwrap();
    let missing = [
        names::init(epoch, 1, TrackKind::Video),
        names::part(epoch, newest.seq + 2, 0, TrackKind::Video),
        names::part(epoch, newest.seq, 40, TrackKind::Video),
        names::part(Epoch(EPOCH - 1), 0, 0, TrackKind::Video),
        names::segment(epoch, newest.seq + 1, TrackKind::Audio),
        format!("{}/0.0.subtitles.m4s", epoch.get()),
        format!("{}/00.video.m4s", epoch.get()),
    ];
    for name in missing {
        let reply = edge.get(&url(&name)).await;
        assert_eq!(reply.status, 404, "{name}");
    }
    let unknown = edge.get("/ll/pb-unknown/3/0.0.video.m4s").await;
    assert_eq!(unknown.status, 404);
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test(start_paused = true)]
async fn a_hinted_part_is_answered_when_it_arrives() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, 10);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(1_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let next = next_part_in_segment(&mut publisher, |events| apply(&channel, events));
    let name = next.name;
    let path = url(&name);
    let mut request = Box::pin(edge.open(&path));
    let early = timeout(STILL_PENDING, &mut request).await;
    assert!(early.is_err(), "answered before the part existed: {name}");

    apply(&channel, next.events);
    let reply = crate::http::read(request.await).await;
    assert_eq!(reply.status, 200, "{name}");
    let held = channel.read(|log| {
        let parsed = names::parse(&name).unwrap();
        let names::LlName::Part {
            epoch,
            seq,
            index,
            track,
        } = parsed
        else {
            unreachable!("a part name");
        };
        log.part_bytes(epoch, seq, index, track)
    });
    assert_eq!(Some(reply.body.clone()), held);
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test(start_paused = true)]
async fn a_part_that_never_comes_is_503_after_three_target_durations() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, 10);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(1_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let never_applied = next_part_in_segment(&mut publisher, |events| apply(&channel, events));
    let name = never_applied.name;
    let asked = Instant::now();
    let reply = edge.get(&url(&name)).await;
    let waited = asked.elapsed();
    assert_eq!(reply.status, 503, "{name}");
    assert_eq!(reply.header("cache-control"), "no-cache");
    // 3 × EXT-X-TARGETDURATION (2 s), on the paused clock.
    assert!(waited >= Duration::from_secs(6), "{waited:?}");
    assert!(waited < Duration::from_secs(7), "{waited:?}");
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test(start_paused = true)]
async fn waiting_requests_are_capped() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, 10);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(1_000));
    let config = EdgeConfig {
        ll_hls: LlHlsConfig {
            max_blocked_requests: 1,
            ..LlHlsConfig::default()
        },
        ..EdgeConfig::default()
    };
    let mut edge = Edge::start(config, &backends).await;

    let next = next_part_in_segment(&mut publisher, |events| apply(&channel, events));
    let name = next.name;
    let path = url(&name);
    let mut first = Box::pin(edge.open(&path));
    assert!(timeout(STILL_PENDING, &mut first).await.is_err(), "{name}");
    // The edge holds one waiting request: the next one is refused at once.
    let refused = edge.get(&url(&name)).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.text(), "too many blocked requests\n");
    // A part that exists needs no permit.
    let held = channel.read(|log| {
        let newest = log.segments().last().unwrap();
        names::part(newest.epoch, newest.seq, 0, TrackKind::Video)
    });
    assert_eq!(edge.get(&url(&held)).await.status, 200);

    apply(&channel, next.events);
    let reply = crate::http::read(first.await).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.body.is_empty());
    edge.stop(ANSWER_WITHIN).await;
}
