//! What players and CDNs expect of HTTP delivery (ADR 17): segments answer byte ranges, and
//! the CORS preflight lets a player on another page send `Authorization` and `Range`.

use bytes::Bytes;
use ferrocast_edge::EdgeConfig;

use crate::support::{ANSWER_WITHIN, Backends, Edge, PLAYBACK_ID};

/// One segment object of 1,000 bytes, all different.
async fn one_segment() -> (Backends, Bytes) {
    let backends = Backends::new();
    let object = Bytes::from((0..1000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    backends.list_segments(std::slice::from_ref(&object)).await;
    (backends, object)
}

#[tokio::test]
async fn segments_answer_single_byte_ranges_and_refuse_unsatisfiable_ones() {
    let (backends, object) = one_segment().await;
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    let path = format!("/hls/{PLAYBACK_ID}/0.ts");

    let whole = edge.get(&path).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert_eq!(whole.body, object);

    let cases = [
        ("bytes=0-99", 0..100, "bytes 0-99/1000"),
        ("bytes=900-", 900..1000, "bytes 900-999/1000"),
        ("bytes=-10", 990..1000, "bytes 990-999/1000"),
        ("bytes=500-5000", 500..1000, "bytes 500-999/1000"),
    ];
    for (range, bytes, content_range) in cases {
        let part = edge.send("GET", &path, &[("range", range)]).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(part.header("content-range"), content_range, "{range}");
        assert_eq!(part.header("content-length"), bytes.len().to_string());
        assert_eq!(part.header("accept-ranges"), "bytes");
        assert_eq!(part.header("content-type"), "video/mp2t");
        assert_eq!(part.body, object.slice(bytes), "{range}");
    }

    let beyond = edge.send("GET", &path, &[("range", "bytes=1000-")]).await;
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), "bytes */1000");
    assert!(beyond.body.is_empty());

    // Several ranges: the whole object, as RFC 9110 allows.
    let several = edge
        .send("GET", &path, &[("range", "bytes=0-9,20-29")])
        .await;
    assert_eq!(several.status, 200);
    assert_eq!(several.body, object);
    edge.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn the_preflight_allows_what_a_player_sends_and_answers_expose_content_range() {
    let (backends, _) = one_segment().await;
    let mut edge = Edge::start(EdgeConfig::default(), &backends).await;
    let path = format!("/hls/{PLAYBACK_ID}/0.ts");

    let preflight = edge
        .send(
            "OPTIONS",
            &path,
            &[
                ("origin", "https://player.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization,range"),
            ],
        )
        .await;
    assert!(preflight.status.is_success(), "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        "authorization,range"
    );
    let methods = preflight.header("access-control-allow-methods");
    for method in ["GET", "HEAD", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    assert_eq!(preflight.header("access-control-max-age"), "7200");
    assert!(
        preflight
            .header("access-control-allow-credentials")
            .is_empty()
    );
    assert!(
        preflight
            .header("vary")
            .contains("access-control-request-headers")
    );

    let ranged = edge
        .send(
            "GET",
            &path,
            &[("origin", "https://player.example"), ("range", "bytes=0-9")],
        )
        .await;
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.header("access-control-allow-origin"), "*");
    let exposed = ranged
        .header("access-control-expose-headers")
        .to_ascii_lowercase();
    for name in ["content-length", "content-range"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    edge.stop(ANSWER_WITHIN).await;
}
