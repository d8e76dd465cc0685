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

/// Asks both edges for the playlists of [`ASKED`] at `query` (`_HLS_msn`, `_HLS_part`),
/// checks each answer into its edge's `series`, and checks that both edges answered the same
/// bytes and that each delta update skips and is smaller than its full playlist. Returns the
/// texts, the video answer's facts and when each edge answered it (Unix µs).
fn ask_part(
    edges: &[String; 2],
    query: &str,
    series: &mut [[Sequence; 4]; 2],
) -> ([String; 4], Facts, [u64; 2]) {
    let mut texts: [String; 4] = Default::default();
    let mut timed = None;
    for (at, (file, extra)) in ASKED.iter().enumerate() {
        let path = format!("{file}?{query}{extra}");
        let [(one, one_at), (two, two_at)] = on_both(edges, &path);
        assert_eq!((one.status, two.status), (200, 200), "{path}");
        let text = one.text();
        assert_eq!(text, two.text(), "{path}: the edges' playlists differ");
        let mut facts = None;
        for (edge, answer) in [&one, &two].into_iter().enumerate() {
            let pushed = series[edge][at].push(&answer.text());
            facts = Some(pushed.unwrap_or_else(|e| panic!("edge {}: {e}\n{text}", edge + 1)));
        }
        let facts = facts.unwrap();
        if !extra.is_empty() {
            assert!(
                facts.skipped_segments > 0,
                "{path}: nothing skipped\n{text}"
            );
            let full = &texts[at - 2];
            assert!(
                text.len() < full.len(),
                "{path}: {} >= {} bytes",
                text.len(),
                full.len()
            );
        }
        if at == 0 {
            timed = Some((facts, [one_at, two_at]));
        }
        texts[at] = text;
    }
    let (facts, answered) = timed.unwrap();
    (texts, facts, answered)
}

/// How promptly both edges answered the timed blocking reloads.
#[derive(Default)]
struct Timing {
    /// Per edge: answer time minus the time the part existed, µs.
    delays: [Vec<i64>; 2],
    /// Requests asked before their part existed: held by the edges.
    blocked: usize,
    /// The largest gap between the two edges' answers to one request, µs.
    spread_us: u64,
}

impl Timing {
    /// Checks and records one blocking answer, `answered` by each edge (Unix µs), to a request
    /// `asked` at (Unix µs): each within the part's duration plus [`MARGIN_US`] after the
    /// part existed at the origin.
    fn record(&mut self, clock: &PartClock, asked: u64, facts: &Facts, answered: [u64; 2]) {
        let (_, seq, index, duration_us) = last_part(facts);
        let exists = clock.sent_at(seq, index);
        self.blocked += usize::from(asked < exists);
        self.spread_us = self.spread_us.max(answered[0].abs_diff(answered[1]));
        let limit = duration_us as i64 + MARGIN_US;
        for (edge, at) in answered.iter().enumerate() {
            let delay = *at as i64 - exists as i64;
            assert!(
                delay <= limit,
                "edge {}: part {seq}.{index} answered {delay} µs after it existed (limit {limit})",
                edge + 1
            );
            self.delays[edge].push(delay);
        }
    }

    /// Checks that most requests waited (else nothing blocked), and prints the figures.
    fn report(&self) {
        let asked = self.delays[0].len();
        assert!(
            self.blocked >= asked / 2,
            "only {} of {asked} requests waited for their part",
            self.blocked
        );
        for (edge, delays) in self.delays.iter().enumerate() {
            let (p50, max) = p50_max_ms(delays);
            eprintln!(
                "measured: edge {}: blocking answer after the part existed: p50 {p50:.1} ms, \
                 max {max:.1} ms ({asked} parts, {} asked before the part existed)",
                edge + 1,
                self.blocked
            );
        }
        eprintln!(
            "measured: the two edges answered at most {:.1} ms apart",
            self.spread_us as f64 / 1_000.0
        );
    }
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
        eprintln!(
            "measured: hls.js through {edge}: {} parts loaded, latency {} s",
            result["parts"], result["latency"]
        );
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
    let mut timing = Timing::default();
    let mut next = next_part(&plain);
    let mut previous: Option<(String, [String; 4])> = None;
    for _ in 0..PARTS {
        let query = format!("_HLS_msn={}&_HLS_part={}", next.0, next.1);
        let asked = unix_us();
        let (texts, facts, answered) = ask_part(&edges, &query, &mut series);
        // A newer part exists now: the last part's URLs still answer the bytes they did, on
        // either edge (what a CDN in front of both keeps).
        if let Some((query, before)) = previous.take() {
            for ((file, extra), before) in ASKED.iter().zip(&before) {
                let path = format!("{file}?{query}{extra}");
                for (answer, _) in on_both(&edges, &path) {
                    assert_eq!(&answer.text(), before, "{path} changed");
                }
            }
        }
        previous = Some((query, texts));

        let (msn, _, _, _) = last_part(&facts);
        let listed = (msn, facts.segments.last().unwrap().parts.len() as u64 - 1);
        // Ends at the part asked for (or at the next segment's first, when the one asked
        // for is past the end of its segment).
        assert!(
            listed == next || (listed == (next.0 + 1, 0)),
            "{next:?} answered with {listed:?}"
        );
        timing.record(&clock, asked, &facts, answered);
        // What a player fetches next: the same part from either edge.
        let uri = &facts.segments.last().unwrap().parts.last().unwrap().uri;
        let [(one, _), (two, _)] = on_both(&edges, uri);
        assert_eq!((one.status, two.status), (200, 200), "{uri}");
        assert!(one.body == two.body, "{uri}: the edges' parts differ");
        next = next_part(&facts);
    }
    timing.report();
    eprintln!("measured: test ran {:?}", started.elapsed());
    drop(clock);
    let mut publisher = publisher;
    let _ = publisher.kill();
    let _ = publisher.wait();
}
