//! S3 faults: the object store hangs (SIGSTOP) for 15 s and for 60 s. The origin holds
//! finished segments in memory (64 MiB per stream ≈ 200 s at 2.5 Mb/s) and retries, so nothing
//! is lost; during the 60 s outage the bytes it holds are read from its `/metrics`.

use std::time::{Duration, Instant};

use super::{LiveStream, measured};
use crate::support::cluster::LocalCluster;
use crate::support::faults::{Paused, metric_samples};

/// How often the origin's buffer gauges are read during the outage.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// The origin's gauge of the bytes its upload buffers hold.
fn bytes_held(ops_url: &str) -> Option<f64> {
    let samples = metric_samples(ops_url, "ferrocast_origin_upload_buffer_bytes", |name| {
        name == "ferrocast_origin_upload_buffer_bytes"
    });
    samples.first().map(|(_, value)| *value)
}

fn s3_pause_loses_nothing(pause: Duration) {
    let what = format!("S3 SIGSTOP {} s", pause.as_secs());
    let mut live = LiveStream::start(LocalCluster::start(), 1, 3);
    let before = live.hls.report().newest_msn.expect("an msn");
    let ops = live.cluster.var("ORIGIN_OPS_1").to_owned();
    let paused = Paused::pause(live.cluster.var("S3_PID"));
    let mut most_held: Option<f64> = None;
    while paused.since().elapsed() < pause {
        // The wait is the fault's length; the samples are read while it lasts.
        std::thread::sleep(SAMPLE_EVERY.min(pause.saturating_sub(paused.since().elapsed())));
        if let Some(held) = bytes_held(&ops) {
            measured(
                &format!(
                    "{what} -> origin bytes held at {:?}",
                    paused.since().elapsed()
                ),
                held,
            );
            most_held = Some(most_held.map_or(held, |most| most.max(held)));
        }
    }
    let held_for = paused.resume();
    let resumed_at = Instant::now();
    measured(&format!("{what} -> origin bytes held, peak"), most_held);

    let wanted = before + held_for.as_secs().div_ceil(2) + 2;
    live.hls.wait_for_msn(wanted, Duration::from_secs(90));
    measured(
        &format!("{what} -> playlist caught up after resume"),
        resumed_at.elapsed(),
    );
    let (hls, flv) = live.stop_viewers();
    measured(&format!("{what} -> HLS longest stall"), hls.longest_stall);
    measured(
        &format!("{what} -> segments lost (msn holes)"),
        &hls.msn_holes,
    );
    hls.assert_nothing_lost(&what);
    assert_eq!(
        flv.closed, None,
        "{what}: the FLV viewer keeps its connection: {flv:#?}"
    );
    if pause >= Duration::from_secs(60) {
        assert!(
            most_held.is_some_and(|held| held > 0.0),
            "the origin exposes the bytes it holds"
        );
    }
}

#[test]
fn s3_paused_for_15s_loses_nothing() {
    let _one_at_a_time = crate::serial();
    s3_pause_loses_nothing(Duration::from_secs(15));
}

#[test]
fn s3_paused_for_60s_loses_nothing_and_shows_the_bytes_held() {
    let _one_at_a_time = crate::serial();
    s3_pause_loses_nothing(Duration::from_secs(60));
}
