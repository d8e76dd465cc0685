//! HLS: playlists rendered from the index, segments from the object store, and the statuses
//! a player and a CDN act on (404 for what does not exist, 503 with `Retry-After` for what
//! cannot be known right now).

use std::sync::Arc;

use bytes::Bytes;
use ferrocast_edge::EdgeConfig;

use crate::support::{Backends, EPOCH, Edge, PLAYBACK_ID, Unreachable};

/// Three distinct segment objects of a few TS packets each.
fn objects() -> Vec<Bytes> {
    (0..3u8)
        .map(|n| Bytes::from(vec![0x47 ^ n; 188 * (n as usize + 2)]))
        .collect()
}

/// The URI lines of a playlist.
fn uris(playlist: &str) -> Vec<&str> {
    let lines = playlist.lines().filter(|line| !line.is_empty());
    lines.filter(|line| !line.starts_with('#')).collect()
}

#[tokio::test]
async fn playlists_list_the_indexed_segments_and_segments_are_the_stored_bytes() {
    let backends = Backends::new();
    let objects = objects();
    backends.list_segments(&objects).await;
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;

    let index = edge.get(&format!("/hls/{PLAYBACK_ID}/index.m3u8")).await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        "application/vnd.apple.mpegurl"
    );
    assert!(index.text().starts_with("#EXTM3U\n"), "{}", index.text());
    assert!(index.text().contains("#EXT-X-STREAM-INF:BANDWIDTH="));
    // The variant is the current generation's media playlist, as a player follows it.
    let variant = uris(index.text());
    assert_eq!(variant, [format!("media-{EPOCH}.m3u8")]);

    let media = edge
        .get(&format!("/hls/{PLAYBACK_ID}/{}", variant[0]))
        .await;
    assert_eq!(media.status, 200);
    let text = media.text();
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    for tag in ["#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0"] {
        assert!(text.lines().any(|line| line == tag), "no {tag}: {text}");
    }
    let durations = text.lines().filter(|line| *line == "#EXTINF:2.000,");
    assert_eq!(durations.count(), 3, "{text}");
    assert!(!text.contains("#EXT-X-ENDLIST"), "a live playlist: {text}");
    let segments = uris(text);
    assert_eq!(segments, ["0.ts", "1.ts", "2.ts"]);

    for (uri, stored) in segments.iter().zip(&objects) {
        let segment = edge.get(&format!("/hls/{PLAYBACK_ID}/{uri}")).await;
        assert_eq!(segment.status, 200, "{uri}");
        assert_eq!(segment.header("content-type"), "video/mp2t");
        assert_eq!(segment.body, stored, "{uri}");
    }
    let beyond = edge.get(&format!("/hls/{PLAYBACK_ID}/3.ts")).await;
    assert_eq!(beyond.status, 404, "a segment that is not listed");
    edge.stop(crate::support::ANSWER_WITHIN).await;
}

#[tokio::test]
async fn an_unknown_playback_id_is_not_found() {
    let backends = Backends::new();
    backends.list_segments(&objects()).await;
    let _live = backends.go_live();
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    for path in [
        "/hls/pb-unknown/index.m3u8",
        "/hls/pb-unknown/media-1.m3u8",
        "/hls/pb-unknown/0.ts",
        "/live/pb-unknown.flv",
    ] {
        let reply = edge.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("retry-after"), "", "{path}");
    }
    // The known id answers on the same edge, so the 404s are about the id.
    let known = edge.get(&format!("/hls/{PLAYBACK_ID}/index.m3u8")).await;
    assert_eq!(known.status, 200);
    edge.stop(crate::support::ANSWER_WITHIN).await;
}

#[tokio::test]
async fn an_unreachable_directory_or_index_is_503_with_retry_after() {
    let unreachable = Arc::new(Unreachable);
    let no_directory = Backends {
        directory: unreachable.clone(),
        ..Backends::new()
    };
    let no_index = Backends {
        index: unreachable,
        ..Backends::new()
    };
    let cases = [
        (&no_directory, format!("/hls/{PLAYBACK_ID}/index.m3u8")),
        (&no_directory, format!("/live/{PLAYBACK_ID}.flv")),
        (&no_index, format!("/hls/{PLAYBACK_ID}/index.m3u8")),
        (&no_index, format!("/hls/{PLAYBACK_ID}/media-1.m3u8")),
    ];
    for (backends, path) in cases {
        let mut edge = Edge::start(EdgeConfig::default(), backends).await;
        let reply = edge.get(&path).await;
        assert_eq!(reply.status, 503, "{path}");
        assert!(!reply.header("retry-after").is_empty(), "{path}: {reply:?}");
        assert_eq!(reply.header("cache-control"), "no-cache", "{path}");
        edge.stop(crate::support::ANSWER_WITHIN).await;
    }
}
