//! Redis faults: the index server hangs (SIGSTOP) for 15 s and for 60 s, and a Sentinel
//! failover replaces the primary. Nothing may be lost: the origin keeps finished segments
//! until they are listed, appends are idempotent, edges serve the last playlist they know.

use std::time::{Duration, Instant};

use super::{LiveStream, measured};
use crate::support::cluster::LocalCluster;
use crate::support::faults::{Paused, signal};

/// Segments of the clip's GOP (2 s): how many a pause of `pause` holds back.
fn segments_in(pause: Duration) -> u64 {
    pause.as_secs().div_ceil(2)
}

/// Pauses `pid_var` for `pause` under a live stream, then checks that every segment made
/// during the pause is listed afterwards and nothing was lost.
pub fn pause_loses_nothing(what: &str, pid_var: &str, pause: Duration) -> LiveStream {
    let mut live = LiveStream::start(LocalCluster::start(), 1, 3);
    let before = live.hls.report().newest_msn.expect("an msn");
    let paused = Paused::pause(live.cluster.var(pid_var));
    std::thread::sleep(pause); // the fault itself, not a synchronisation
    let held = paused.resume();
    let resumed_at = Instant::now();

    let caught_up = live
        .hls
        .wait_for_msn(before + segments_in(held) + 2, Duration::from_secs(60));
    measured(
        &format!("{what} -> playlist caught up after resume"),
        resumed_at.elapsed(),
    );
    measured(
        &format!("{what} -> msns listed since the pause"),
        caught_up.newest_msn.map(|m| m - before),
    );
    let (hls, flv) = live.stop_viewers();
    measured(&format!("{what} -> HLS longest stall"), hls.longest_stall);
    measured(&format!("{what} -> HTTP-FLV longest gap"), flv.longest_gap);
    measured(
        &format!("{what} -> segments lost (msn holes)"),
        &hls.msn_holes,
    );
    hls.assert_nothing_lost(what);
    assert_eq!(
        flv.closed, None,
        "{what}: the FLV viewer keeps its connection: {flv:#?}"
    );
    live
}

#[test]
fn redis_paused_for_15s_loses_nothing() {
    let _one_at_a_time = crate::serial();
    pause_loses_nothing("Redis SIGSTOP 15 s", "REDIS_PID", Duration::from_secs(15));
}

#[test]
fn redis_paused_for_60s_loses_nothing() {
    let _one_at_a_time = crate::serial();
    pause_loses_nothing("Redis SIGSTOP 60 s", "REDIS_PID", Duration::from_secs(60));
}

#[test]
fn sentinel_failover_of_the_redis_primary_loses_nothing() {
    let _one_at_a_time = crate::serial();
    let cluster = LocalCluster::start_with(&[("LOCAL_CLUSTER_SENTINEL", "1")]);
    let mut live = LiveStream::start(cluster, 1, 3);
    let before = live.hls.report().newest_msn.expect("an msn");
    let killed_at = Instant::now();
    signal(live.cluster.var("REDIS_PID"), "KILL");

    // Sentinels notice after 1 s (down-after-milliseconds) and promote the replica.
    let caught_up = live.hls.wait_for_msn(before + 6, Duration::from_secs(60));
    measured(
        "Sentinel failover -> 6 more segments listed after",
        killed_at.elapsed(),
    );
    measured("Sentinel failover -> newest msn", caught_up.newest_msn);
    let (hls, flv) = live.stop_viewers();
    measured("Sentinel failover -> HLS longest stall", hls.longest_stall);
    measured("Sentinel failover -> HTTP-FLV longest gap", flv.longest_gap);
    hls.assert_nothing_lost("Sentinel failover");
    assert_eq!(
        flv.closed, None,
        "the FLV viewer keeps its connection: {flv:#?}"
    );
}
