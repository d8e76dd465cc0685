//! Control faults: control is killed (SIGKILL), stays down for 30 s and is started again with
//! the same settings. Origins keep publishing, edges keep serving the streams they know.

use std::time::{Duration, Instant};

use super::{LiveStream, measured};
use crate::support::cluster::LocalCluster;
use crate::support::faults::signal;
use crate::support::hls_watch::HlsWatcher;
use crate::support::http::get;

/// How long control stays down.
const DOWN_FOR: Duration = Duration::from_secs(30);

#[test]
fn control_down_for_30s_keeps_the_stream_playing_on_both_edges() {
    let _one_at_a_time = crate::serial();
    let mut live = LiveStream::start(LocalCluster::start(), 1, 3);
    let mut edge_2_hls = HlsWatcher::start(&live.playlist_url(2));
    let before = live.hls.report().newest_msn.expect("an msn");
    edge_2_hls.wait_for_msn(before, Duration::from_secs(20));

    signal(live.cluster.var("CONTROL_PID"), "KILL");
    let killed_at = Instant::now();
    // Both edges keep advancing while control is down.
    let during = before + DOWN_FOR.as_secs() / 2 - 3;
    live.hls
        .wait_for_msn(during, DOWN_FOR + Duration::from_secs(10));
    edge_2_hls.wait_for_msn(during, Duration::from_secs(10));
    // A playback id the edge has not seen cannot be checked now: "unavailable", not "no such
    // stream". The live one still resolves from the edge's cache.
    let edge = live.cluster.var("EDGE_URL_1").to_owned();
    let unknown = get(&format!("{edge}/hls/nosuchplayback/index.m3u8"));
    assert_eq!(unknown.status, 503, "control down: unknown ids answer 503");
    assert_eq!(get(&live.playlist_url(1)).status, 200);
    std::thread::sleep(DOWN_FOR.saturating_sub(killed_at.elapsed())); // the outage itself
    live.cluster.restart_control();
    let restarted_at = Instant::now();

    let after = live.hls.report().newest_msn.expect("an msn") + 3;
    live.hls.wait_for_msn(after, Duration::from_secs(30));
    edge_2_hls.wait_for_msn(after, Duration::from_secs(30));
    measured(
        "control restart -> 3 more segments on both edges",
        restarted_at.elapsed(),
    );
    let unknown = get(&format!("{edge}/hls/nosuchplayback/index.m3u8"));
    assert_eq!(
        unknown.status, 404,
        "control back: an unknown id is 404 again"
    );
    let (hls, flv) = live.stop_viewers();
    let hls_2 = edge_2_hls.stop();
    measured(
        "control down 30 s -> edge 1 HLS longest stall",
        hls.longest_stall,
    );
    measured(
        "control down 30 s -> edge 2 HLS longest stall",
        hls_2.longest_stall,
    );
    measured(
        "control down 30 s -> edge 2 HTTP-FLV longest gap",
        flv.longest_gap,
    );
    hls.assert_nothing_lost("control down, edge 1");
    hls_2.assert_nothing_lost("control down, edge 2");
    assert_eq!(
        flv.closed, None,
        "the FLV viewer keeps its connection: {flv:#?}"
    );
    assert!(
        flv.longest_gap <= Duration::from_secs(3),
        "FLV gap: {flv:#?}"
    );
    assert!(
        live.publisher.try_wait().expect("poll ffmpeg").is_none(),
        "the publisher stays connected"
    );
}
