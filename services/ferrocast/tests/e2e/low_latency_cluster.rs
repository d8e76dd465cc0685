//! LL-HLS through both edges of the local cluster (control, two origins, two edges, a real
//! redis-server and s3s-fs), published by ffmpeg at 30 fps with a 2 s GOP: hls.js in
//! low-latency mode plays through each edge in headless Chromium, and a player's blocking
//! reloads, asked of both edges at once, are answered promptly and with the same bytes.
//!
//! **When a part exists.** The origin-side time: the wall-clock stamp the owning origin puts
//! on the video part when its relay sends it to a third subscriber, this test's
//! [`PartClock`]. The origin puts a part in its log and then wakes every subscriber, the two
//! edges' mirrors and the clock alike, so this is the earliest moment any edge could have
//! it, and it is measured by neither edge (the earliest edge answer would make one edge's
//! delay zero by construction). Everything runs on one host, so the stamp and the test's
//! answer times read the same clock. A request asked after its part existed counts from the
//! part's stamp too, so its wait before being asked counts against it.

use std::time::{Duration, Instant};

use ferrocast_proto::auth::Role;
use ferrocast_testkit::ll_conformance::{self, Facts, Sequence};

use crate::cluster_auth::credential;
use crate::low_latency_browser::{number, plays};
use crate::support::cluster::LocalCluster;
use crate::support::http::{Response, get};
use crate::support::media::publish_clip;
use crate::support::part_clock::{PartClock, unix_us};
use crate::support::wait_for;

/// Consecutive parts asked for with blocking reloads: ten seconds, five segment ends.
const PARTS: usize = 30;
/// The allowance on top of the part's duration, microseconds.
const MARGIN_US: i64 = 150_000;
/// Asked for each part of both edges, in this order: the timed blocking reload first, then the
/// audio playlist and both delta updates for the same `_HLS_msn`/`_HLS_part`.
const ASKED: [(&str, &str); 4] = [
    ("video.m3u8", ""),
    ("audio.m3u8", ""),
    ("video.m3u8", "&_HLS_skip=YES"),
    ("audio.m3u8", "&_HLS_skip=YES"),
];

/// Checks one fetched playlist on its own.
fn conforms(text: &str) -> Facts {
    ll_conformance::check(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A `200` playlist from `url` once `condition` holds for it; each one fetched is checked.
fn wait_playlist(url: &str, what: &str, condition: impl Fn(&str) -> bool) -> String {
    wait_for(what, Duration::from_secs(40), || {
        let response = get(url);
        if response.status != 200 {
            return None;
        }
        let text = response.text();
        conforms(&text);
        condition(&text).then_some(text)
    })
}

/// The `(_HLS_msn, _HLS_part)` of the part after the last one `facts` lists.
fn next_part(facts: &Facts) -> (u64, u64) {
    let last = facts.segments.last().expect("a listed segment");
    match last.uri {
        Some(_) => (last.msn + 1, 0),
        None => (last.msn, last.parts.len() as u64),
    }
}

/// `(msn, seq, index, duration µs)` of the last listed part; `seq` and `index` from its
/// name, `{epoch}/{seq}.{index}.{track}.m4s`.
fn last_part(facts: &Facts) -> (u64, u64, u32, u64) {
    let segment = facts.segments.last().expect("a listed segment");
    let part = segment.parts.last().expect("a listed part");
    let file = part.uri.rsplit('/').next().unwrap();
    let mut fields = file.split('.');
    let seq = fields.next().unwrap().parse().unwrap();
    let index = fields.next().unwrap().parse().unwrap();
    (segment.msn, seq, index, part.duration_us)
}

/// `GET` of `path` on both edges at once: each answer and when it was read, Unix µs.
fn on_both(edges: &[String; 2], path: &str) -> [(Response, u64); 2] {
    std::thread::scope(|scope| {
        let asking = edges.each_ref().map(|edge| {
            let url = format!("{edge}/{path}");
            scope.spawn(move || {
                let response = get(&url);
                (response, unix_us())
            })
        });
        asking.map(|handle| handle.join().unwrap())
    })
}

/// (p50, max) of `delays`, milliseconds.
fn p50_max_ms(delays: &[i64]) -> (f64, f64) {
    let mut sorted = delays.to_vec();
    sorted.sort_unstable();
    let ms = |us: i64| us as f64 / 1_000.0;
    (ms(sorted[sorted.len() / 2]), ms(sorted[sorted.len() - 1]))
}

#[test]
fn ll_hls_through_both_edges_plays_answers_blocking_reloads_promptly_and_identically() {
    let started = Instant::now();
    // The publisher leaves as the cluster stops: its origin then waits out its whole flush
    // deadline (10 s by default) before it exits, which this test has no use for.
    let cluster = LocalCluster::start_with(&[("ORIGIN_DRAIN_FLUSH_DEADLINE", "1s")]);
    let (stream_id, playback_id, key) = cluster.create_stream("low latency cluster");
    let edges =
        ["EDGE_URL_1", "EDGE_URL_2"].map(|e| format!("{}/ll/{playback_id}", cluster.var(e)));
    let publisher = publish_clip(&format!("{}/{key}", cluster.var("ORIGIN_RTMP_1")), -1);
    // Only edge 1 is asked until its player runs: edge 2 joins the stream mid-segment.
    wait_playlist(&format!("{}/video.m3u8", edges[0]), "a segment", |text| {
        text.contains("#EXTINF")
    });

    for edge in &edges {
        let result = plays("hls-ll", &format!("{edge}/index.m3u8"), &["--seconds", "3"]);
        assert!(number(&result, "advanced") >= 3.0, "{edge}: {result}");
        assert!(
            number(&result, "parts") >= 1.0,
            "{edge}: no part loaded: {result}"
        );
        assert_eq!(result["videoWidth"], 1280, "{edge}: {result}");
    }

    let observer = credential(cluster.var("CLUSTER_SECRET"), Role::Edge, "edge-part-clock");
    let clock = PartClock::start(cluster.var("ORIGIN_RELAY_1"), observer, &stream_id);
    // Deltas are compared once the window is longer than CAN-SKIP-UNTIL (12 s here).
    wait_playlist(
        &format!("{}/video.m3u8?_HLS_skip=YES", edges[0]),
        "a delta update that skips",
        |text| text.contains("#EXT-X-SKIP:"),
    );
    let plain = conforms(&get(&format!("{}/video.m3u8", edges[0])).text());

    let mut series: [[Sequence; 4]; 2] = Default::default();
    let mut delays: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
    let (mut blocked, mut spread_us) = (0, 0u64);
    let mut next = next_part(&plain);
    for _ in 0..PARTS {
        let query = format!("_HLS_msn={}&_HLS_part={}", next.0, next.1);
        let asked = unix_us();
        let mut sizes = [0usize; 4];
        let mut timed = None;
        for (at, (file, extra)) in ASKED.iter().enumerate() {
            let [(one, one_at), (two, two_at)] = on_both(&edges, &format!("{file}?{query}{extra}"));
            assert_eq!(
                (one.status, two.status),
                (200, 200),
                "{file}?{query}{extra}"
            );
            assert_eq!(
                one.text(),
                two.text(),
                "{file}?{query}{extra}: the edges' playlists differ"
            );
            let mut facts = None;
            for (edge, sequence) in series.iter_mut().enumerate() {
                let text = [&one, &two][edge].text();
                let pushed = sequence[at].push(&text);
                facts = Some(pushed.unwrap_or_else(|e| panic!("edge {}: {e}\n{text}", edge + 1)));
            }
            let facts = facts.unwrap();
            sizes[at] = one.body.len();
            if !extra.is_empty() {
                assert!(facts.skipped_segments > 0, "{}", one.text());
            }
            if at == 0 {
                timed = Some((facts, [one_at, two_at]));
            }
        }
        assert!(
            sizes[2] < sizes[0],
            "video delta {} >= full {}",
            sizes[2],
            sizes[0]
        );
        assert!(
            sizes[3] < sizes[1],
            "audio delta {} >= full {}",
            sizes[3],
            sizes[1]
        );

        let (facts, answered) = timed.unwrap();
        let (msn, seq, index, duration_us) = last_part(&facts);
        // Ends at the part asked for (or at the next segment's first, when the one asked
        // for is past the end of its segment).
        let listed = (msn, u64::from(index));
        assert!(
            listed == next || (listed == (next.0 + 1, 0)),
            "{next:?} answered with {listed:?}"
        );
        let exists = clock.sent_at(seq, index);
        blocked += usize::from(asked < exists);
        spread_us = spread_us.max(answered[0].abs_diff(answered[1]));
        for (edge, at) in answered.iter().enumerate() {
            let delay = *at as i64 - exists as i64;
            let limit = duration_us as i64 + MARGIN_US;
            assert!(
                delay <= limit,
                "edge {}: part {seq}.{index} answered {delay} µs after it existed (limit {limit})",
                edge + 1
            );
            delays[edge].push(delay);
        }
        // What a player fetches next: the same part from either edge.
        let uri = &facts.segments.last().unwrap().parts.last().unwrap().uri;
        let [(one, _), (two, _)] = on_both(&edges, uri);
        assert_eq!((one.status, two.status), (200, 200), "{uri}");
        assert!(one.body == two.body, "{uri}: the edges' parts differ");
        next = next_part(&facts);
    }
    // Most requests were asked before their part existed: the edges held them.
    assert!(
        blocked >= PARTS / 2,
        "only {blocked} of {PARTS} requests waited"
    );
    for (edge, delays) in delays.iter().enumerate() {
        let (p50, max) = p50_max_ms(delays);
        eprintln!(
            "measured: edge {}: blocking answer after the part existed: p50 {p50:.1} ms, max {max:.1} ms ({} parts, {blocked} asked before the part existed)",
            edge + 1,
            delays.len()
        );
    }
    eprintln!(
        "measured: the two edges' answers at most {:.1} ms apart; test ran {:?}",
        spread_us as f64 / 1_000.0,
        started.elapsed()
    );
    drop(clock);
    let mut publisher = publisher;
    let _ = publisher.kill();
    let _ = publisher.wait();
}
