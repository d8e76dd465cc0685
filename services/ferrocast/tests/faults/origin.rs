//! Origin faults: a crash with the encoder retrying on the other origin at once (what OBS
//! does behind an L4 balancer), and an encoder reconnecting to the same origin while its old
//! TCP connection is half-open.

use std::time::{Duration, Instant};

use super::{LiveStream, measured, publish_url};
use crate::support::cluster::LocalCluster;
use crate::support::faults::{Paused, signal};
use crate::support::http::get;
use crate::support::media::publish_clip;
use crate::support::wait_for;

/// The admin API's view of a stream: `live`, `origin_id`, `epoch`.
pub fn stream_state(cluster: &LocalCluster, id: &str) -> serde_json::Value {
    let auth = format!("Bearer {}", cluster.var("ADMIN_TOKEN"));
    let response = crate::support::http::request(
        "GET",
        &format!("{}/v1/streams/{id}", cluster.var("ADMIN_URL")),
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).expect("a JSON stream")
}

/// Waits until control has placed the stream under an epoch above `old_epoch` (on `origin`
/// when given); returns how long after `since` that was seen.
fn wait_for_takeover(
    live: &mut LiveStream,
    old_epoch: u64,
    origin: Option<&str>,
    since: Instant,
) -> Duration {
    wait_for(
        "the new publish to be accepted",
        Duration::from_secs(20),
        || {
            if let Some(status) = live.publisher.try_wait().expect("poll ffmpeg") {
                let mut errors = String::new();
                if let Some(mut pipe) = live.publisher.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut errors);
                }
                let after = since.elapsed();
                panic!("the retry was refused after {after:?} ({status}): {errors}");
            }
            let state = stream_state(&live.cluster, &live.id);
            let newer = state["epoch"]
                .as_u64()
                .is_some_and(|epoch| epoch > old_epoch);
            let placed = origin.is_none_or(|origin| state["origin_id"] == origin);
            (state["live"] == true && newer && placed).then(|| since.elapsed())
        },
    )
}

fn current_epoch(live: &LiveStream) -> u64 {
    let state = stream_state(&live.cluster, &live.id);
    state["epoch"].as_u64().expect("an epoch while live")
}

#[test]
fn origin_sigkill_with_the_encoder_retrying_on_the_other_origin_loses_nothing() {
    let _one_at_a_time = crate::serial();
    let mut live = LiveStream::start(LocalCluster::start(), 1, 3);
    let old_epoch = current_epoch(&live);

    let killed_at = Instant::now();
    signal(live.cluster.var("ORIGIN_PID_1"), "KILL");
    live.stop_publisher();
    live.publisher = publish_clip(&publish_url(&live.cluster, 2, &live.key), -1);
    let takeover = wait_for_takeover(&mut live, old_epoch, Some("origin-2"), killed_at);
    measured("origin SIGKILL -> retry on origin-2 accepted", takeover);
    assert!(
        live.publisher.try_wait().expect("poll ffmpeg").is_none(),
        "the retry was refused"
    );

    let hls_resume = live
        .hls
        .wait_advance_after(killed_at, Duration::from_secs(30));
    measured("origin SIGKILL -> HLS playlist advances", hls_resume);
    let resume_msn = live.hls.report().newest_msn.expect("an msn");
    live.hls
        .wait_for_msn(resume_msn + 3, Duration::from_secs(30));
    let (hls, flv) = live.stop_viewers();
    measured("origin SIGKILL -> HTTP-FLV longest gap", flv.longest_gap);
    measured("origin SIGKILL -> HLS longest stall", hls.longest_stall);

    assert!(
        takeover <= Duration::from_secs(2),
        "takeover took {takeover:?}"
    );
    assert!(
        hls_resume <= Duration::from_secs(5),
        "HLS resumed after {hls_resume:?}"
    );
    hls.assert_nothing_lost("origin SIGKILL");
    assert!(
        hls.discontinuities >= 1,
        "one discontinuity at the change: {hls:#?}"
    );
    assert_eq!(
        flv.closed, None,
        "the FLV viewer keeps its connection: {flv:#?}"
    );
    assert!(
        flv.longest_gap <= Duration::from_secs(3),
        "FLV gap: {flv:#?}"
    );
    assert!(
        flv.timestamps_went_back.is_empty(),
        "FLV timestamps: {flv:#?}"
    );
    // The new encoder's codec configuration is byte-identical here (same ffmpeg settings), and
    // the edge does not resend an identical one mid-stream: decoders need no reset.
    assert!(
        flv.video_sequence_headers >= 1,
        "a sequence header: {flv:#?}"
    );
    let playlist = get(&live.playlist_url(2));
    assert_eq!(playlist.status, 200, "edge 2 serves the same URL");
}

#[test]
fn same_origin_reconnect_over_a_half_open_connection_is_accepted_within_2s() {
    let _one_at_a_time = crate::serial();
    let mut live = LiveStream::start(LocalCluster::start(), 1, 2);
    let old_epoch = current_epoch(&live);

    // The old encoder hangs: its TCP connection stays open and sends nothing, as when its
    // network went away without a FIN.
    let old_pid = live.publisher.id().to_string();
    let hung = Paused::pause(&old_pid);
    let old_publisher = std::mem::replace(
        &mut live.publisher,
        publish_clip(&publish_url(&live.cluster, 1, &live.key), -1),
    );
    let accepted = wait_for_takeover(&mut live, old_epoch, Some("origin-1"), hung.since());
    measured(
        "same-origin reconnect over a half-open connection accepted",
        accepted,
    );
    assert!(
        live.publisher.try_wait().expect("poll ffmpeg").is_none(),
        "the reconnect was refused"
    );
    signal(&old_pid, "KILL");
    drop(hung);
    let mut old_publisher = old_publisher;
    let _ = old_publisher.wait();

    let resumed_at = live.hls.report().newest_msn.expect("an msn");
    live.hls
        .wait_for_msn(resumed_at + 3, Duration::from_secs(30));
    let (hls, flv) = live.stop_viewers();
    measured(
        "same-origin reconnect -> HTTP-FLV longest gap",
        flv.longest_gap,
    );
    measured(
        "same-origin reconnect -> HLS longest stall",
        hls.longest_stall,
    );

    assert!(
        accepted <= Duration::from_secs(2),
        "accepted after {accepted:?}"
    );
    hls.assert_nothing_lost("same-origin reconnect");
    assert_eq!(
        flv.closed, None,
        "the FLV viewer keeps its connection: {flv:#?}"
    );
    assert!(
        flv.timestamps_went_back.is_empty(),
        "FLV timestamps: {flv:#?}"
    );
}
