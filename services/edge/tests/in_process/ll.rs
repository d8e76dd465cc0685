//! LL-HLS over HTTP, from a part log fed by a real CMAF packager: what a low-latency player
//! asks (a plain load, then blocking reloads for the next part) and what a CDN caches.
//!
//! The waiting tests run on tokio's paused clock: it only moves when every task is idle, so
//! "still pending after 200 ms" means the edge read the request and parked it.

use std::time::Duration;

use ferrocast_edge::EdgeConfig;
use ferrocast_testkit::ll_conformance::Sequence;
use tokio::time::{Instant, timeout};

use crate::http::Reply;
use crate::ll_fixture::{EPOCH, Publisher, apply, next_part_in_segment};
use crate::support::{ANSWER_WITHIN, Backends, Edge, PLAYBACK_ID};

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// The session's first media sequence number.
const FIRST_MSN: u64 = 10;
/// How long a request that must wait is watched for a (wrong) early answer.
const STILL_PENDING: Duration = Duration::from_millis(200);

fn url(name: &str) -> String {
    format!("/ll/{PLAYBACK_ID}/{name}")
}

/// The `URI="…"` of each `EXT-X-PART` line.
fn part_uris(playlist: &str) -> Vec<&str> {
    let parts = playlist.lines().filter(|l| l.starts_with("#EXT-X-PART:"));
    parts.filter_map(quoted_uri).collect()
}

fn quoted_uri(line: &str) -> Option<&str> {
    let rest = &line[line.find("URI=\"")? + 5..];
    Some(&rest[..rest.find('"')?])
}

fn preload_hint(playlist: &str) -> Option<&str> {
    let hint = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"));
    hint.and_then(quoted_uri)
}

fn assert_playlist(reply: &Reply, cache: &str) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), PLAYLIST_TYPE);
    assert_eq!(reply.header("cache-control"), cache);
    assert_eq!(reply.header("set-cookie"), "");
    assert!(reply.text().starts_with("#EXTM3U\n"), "{}", reply.text());
}

#[tokio::test]
async fn malformed_playlist_queries_are_400() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, FIRST_MSN);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(3_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    for query in [
        "_HLS_msn=x",
        "_HLS_msn=+11",
        "_HLS_part=1",
        "_HLS_msn=11&_HLS_part=-1",
        "_HLS_skip=NO",
        "_HLS_msn=11&_HLS_msn=12",
    ] {
        let reply = edge.get(&format!("{}?{query}", url("video.m3u8"))).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.header("cache-control"), "no-cache", "{query}");
    }
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test(start_paused = true)]
async fn a_blocking_reload_waits_for_its_part_and_ends_at_it() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, FIRST_MSN);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(3_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let plain = edge.get(&url("video.m3u8")).await;
    assert_playlist(&plain, "no-cache");
    let next = next_part_in_segment(&mut publisher, |events| apply(&channel, events));
    let blocking = format!(
        "{}?_HLS_msn={}&_HLS_part={}",
        url("video.m3u8"),
        FIRST_MSN + next.seq,
        next.index
    );
    let mut request = Box::pin(edge.open(&blocking));
    let early = timeout(STILL_PENDING, &mut request).await;
    assert!(early.is_err(), "answered before {} existed", next.name);

    apply(&channel, next.events);
    let reply = crate::http::read(request.await).await;
    assert_playlist(&reply, "public, max-age=60");
    let text = reply.text();
    ferrocast_testkit::ll_conformance::check(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(part_uris(text).last(), Some(&next.name.as_str()), "{text}");
    let hint = preload_hint(text).expect("a preload hint");
    assert_ne!(hint, next.name, "{text}");

    // More parts arrive: the same blocking URL still answers the same bytes (what a CDN
    // keeps, and what every other edge answers), and a plain load moves on.
    apply(&channel, publisher.advance(1_000));
    let again = edge.get(&blocking).await;
    assert_eq!(again.body, reply.body);
    let newer = edge.get(&url("video.m3u8")).await;
    assert_playlist(&newer, "no-cache");
    assert_ne!(part_uris(newer.text()).last(), Some(&next.name.as_str()));
    // The audio playlist answers the same request too.
    let audio = format!(
        "{}?_HLS_msn={}&_HLS_part={}",
        url("audio.m3u8"),
        FIRST_MSN + next.seq,
        next.index
    );
    assert_playlist(&edge.get(&audio).await, "public, max-age=60");
    // A delta update is a playlist too.
    let delta = format!("{blocking}&_HLS_skip=YES");
    assert_playlist(&edge.get(&delta).await, "public, max-age=60");
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test(start_paused = true)]
async fn a_blocking_reload_is_503_after_three_target_durations() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, FIRST_MSN);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(3_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let next = next_part_in_segment(&mut publisher, |events| apply(&channel, events));
    let blocking = format!(
        "{}?_HLS_msn={}&_HLS_part={}",
        url("video.m3u8"),
        FIRST_MSN + next.seq,
        next.index
    );
    let asked = Instant::now();
    let reply = edge.get(&blocking).await;
    let waited = asked.elapsed();
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), "no-cache");
    assert!(waited >= Duration::from_secs(6), "{waited:?}");
    assert!(waited < Duration::from_secs(7), "{waited:?}");
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn every_served_playlist_conforms_as_the_stream_goes_on() {
    let backends = Backends::new();
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, FIRST_MSN);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(1_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    let mut video = Sequence::new();
    let mut audio = Sequence::new();
    // 20 s of media a part at a time, each state loaded as a player reloads it.
    for _ in 0..60 {
        apply(&channel, publisher.advance(334));
        for (track, sequence) in [("video", &mut video), ("audio", &mut audio)] {
            let reply = edge.get(&url(&format!("{track}.m3u8"))).await;
            assert_playlist(&reply, "no-cache");
            let facts = sequence.push(reply.text());
            facts.unwrap_or_else(|e| panic!("{track}: {e}\n{}", reply.text()));
            let delta = edge.get(&url(&format!("{track}.m3u8?_HLS_skip=YES"))).await;
            assert_playlist(&delta, "no-cache");
            assert!(delta.body.len() <= reply.body.len(), "{}", delta.text());
        }
    }
    assert_eq!(video.reloads(), 60);
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn multivariant_playlists_and_the_mpd() {
    let backends = Backends::new();
    // The MPEG-TS rendition of the same stream, as the index lists it (generation 1).
    backends
        .list_segments(&[bytes::Bytes::from_static(&[0x47; 188])])
        .await;
    let channel = backends.part_log();
    let mut publisher = Publisher::new(EPOCH, FIRST_MSN);
    apply(&channel, vec![publisher.start()]);
    apply(&channel, publisher.advance(5_000));
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let ll = edge.get(&url("index.m3u8")).await;
    assert_playlist(&ll, "public, max-age=1");
    assert!(ll.text().contains("#EXT-X-STREAM-INF:"), "{}", ll.text());
    assert!(ll.text().contains("video.m3u8"), "{}", ll.text());
    assert!(!ll.text().contains("/hls/"), "{}", ll.text());

    let both = edge.get(&url("multivariant.m3u8")).await;
    assert_playlist(&both, "public, max-age=1");
    let ts = format!("../../hls/{PLAYBACK_ID}/media-1.m3u8");
    assert!(both.text().contains(&ts), "{}", both.text());
    // The TS variant's URI resolves to the TS playlist the edge serves.
    assert_eq!(edge.get("/hls/pb-1/media-1.m3u8").await.status, 200);

    let mpd = edge.get(&url("manifest.mpd")).await;
    assert_eq!(mpd.status, 200);
    assert_eq!(mpd.header("content-type"), "application/dash+xml");
    assert!(mpd.text().contains("<MPD"), "{}", mpd.text());

    for file in ["index.m3u8", "manifest.mpd", "video.m3u8", "nothing.m3u8"] {
        let unknown = edge.get(&format!("/ll/pb-unknown/{file}")).await;
        assert_eq!(unknown.status, 404, "{file}");
    }
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn a_stream_without_a_log_is_not_found() {
    let backends = Backends::new();
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    for file in [
        "index.m3u8",
        "multivariant.m3u8",
        "manifest.mpd",
        "video.m3u8",
    ] {
        let reply = edge.get(&url(file)).await;
        assert_eq!(reply.status, 404, "{file}");
        assert_eq!(reply.header("cache-control"), "no-cache", "{file}");
    }
    edge.stop(ANSWER_WITHIN).await;
}
