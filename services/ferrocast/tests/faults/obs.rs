//! OBS Studio against `ferrocast dev` (issue 11, item 8): a publish that plays, a 2 s socket
//! cut that OBS rides out by itself, a crash and restart of the server on the same data
//! directory, and a wrong key. Kept to two OBS runs: OBS takes more than one core.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::flv_watch::FlvWatcher;
use crate::support::hls_watch::HlsWatcher;
use crate::support::http::get;
use crate::support::obs::Obs;
use crate::support::server::{dev, segment_files};
use crate::support::wait_for;

/// What OBS logs each time its RTMP connection is up.
const CONNECTED: &str = "Connection to rtmp://";
const SUCCESSFUL: &str = "successful";

/// Cuts every TCP connection to `port` on loopback, as a network blip does (`ss -K`, the
/// kernel resets both ends).
fn cut_connections_to(port: &str) {
    let output = Command::new("ss")
        .args(["-K", "dst", "127.0.0.1", "dport", "=", port])
        .output()
        .expect("run ss");
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        listed.contains(&format!(":{port}")),
        "no connection to cut: {listed}"
    );
}

fn successful_connects(obs: &Obs) -> usize {
    obs.log()
        .lines()
        .filter(|line| line.contains(CONNECTED) && line.contains(SUCCESSFUL))
        .count()
}

fn wait_for_connects(obs: &Obs, count: usize, deadline: Duration) {
    wait_for("OBS to (re)connect", deadline, || {
        (successful_connects(obs) >= count).then_some(())
    });
}

#[test]
fn obs_rides_out_a_socket_cut_and_a_server_restart() {
    let _one_at_a_time = crate::serial();
    let mut server = dev().start();
    let obs = Obs::start(&server.rtmp_server, &server.stream_key);
    let mut hls = HlsWatcher::start(&server.hls_url);
    hls.wait_for_msn(1, Duration::from_secs(60));
    let mut flv = FlvWatcher::start(&server.flv_url);
    flv.wait_for_tags(50, Duration::from_secs(20));
    wait_for_connects(&obs, 1, Duration::from_secs(5));

    // A 2 s blip: the socket is cut, OBS waits its retry delay (2 s) and reconnects.
    let port = server.rtmp_server.rsplit(':').next().expect("a port");
    let port = port.trim_end_matches("/live").to_owned();
    let cut_at = Instant::now();
    cut_connections_to(&port);
    wait_for_connects(&obs, 2, Duration::from_secs(20));
    eprintln!(
        "measured: OBS back after a socket cut: {:?}",
        cut_at.elapsed()
    );
    let resumed = hls.wait_advance_after(cut_at, Duration::from_secs(30));
    eprintln!("measured: OBS socket cut -> HLS advances: {resumed:?}");
    let newest = hls.report().newest_msn.expect("an msn");
    hls.wait_for_msn(newest + 2, Duration::from_secs(30));
    let after_cut = hls.report();
    let flv_after_cut = flv.stop();
    eprintln!(
        "measured: OBS socket cut -> HTTP-FLV longest gap: {:?}",
        flv_after_cut.longest_gap
    );
    after_cut.assert_nothing_lost("OBS socket cut");
    assert_eq!(
        flv_after_cut.closed, None,
        "the FLV viewer plays on: {flv_after_cut:#?}"
    );
    assert!(
        flv_after_cut.timestamps_went_back.is_empty(),
        "{flv_after_cut:#?}"
    );

    // The server crashes and comes back on the same data directory: the same URL continues
    // with a discontinuity and a higher media sequence.
    let before_restart = hls.report();
    let last_msn = before_restart.newest_msn.expect("an msn");
    server.crash_and_restart();
    let restarted_at = Instant::now();
    wait_for_connects(&obs, 3, Duration::from_secs(30));
    hls.wait_for_msn(last_msn + 2, Duration::from_secs(60));
    eprintln!(
        "measured: dev restart -> 2 more segments: {:?}",
        restarted_at.elapsed()
    );
    let after = hls.stop();
    assert!(after.sequence_went_back.is_empty(), "{after:#?}");
    assert!(after.msn_holes.is_empty(), "{after:#?}");
    assert!(after.missing.is_empty(), "{after:#?}");
    assert!(
        after.discontinuities > before_restart.discontinuities,
        "a discontinuity after the restart: {after:#?}"
    );
    assert!(!after.endlist_seen, "{after:#?}");
}

#[test]
fn obs_with_a_wrong_key_is_refused_and_the_key_is_never_logged() {
    let _one_at_a_time = crate::serial();
    let server = dev().start();
    let stream_id = server
        .stream_key
        .split('_')
        .nth(1)
        .expect("sk_<id>_<secret>");
    let wrong_secret = "0123456789abcdef0123456789abcdef";
    let wrong_key = format!("sk_{stream_id}_{wrong_secret}");
    let obs = Obs::start(&server.rtmp_server, &wrong_key);
    let refusal = wait_for("the refusal", Duration::from_secs(30), || {
        let log = server.log();
        let line = log.lines().find(|line| line.contains("publish refused"))?;
        Some(line.to_owned())
    });
    assert!(
        refusal.contains(stream_id),
        "names the stream id: {refusal}"
    );
    let log = server.log();
    assert!(!log.contains(wrong_secret), "the server never logs a key");
    drop(obs);
    assert_eq!(get(&server.hls_url).status, 404);
    assert!(
        segment_files(&server).is_empty(),
        "{:?}",
        segment_files(&server)
    );
}
