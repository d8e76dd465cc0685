//! The origin's publish sessions against an object store and an index that fail on demand:
//! outages cost latency, not segments; bounds drop the oldest with a discontinuity; the
//! reconnect window keeps the playlist open; a started session always ends.
//!
//! Time is tokio's paused clock: the synthetic encoder's 2 s GOPs and the store's timeouts
//! advance it, so a 15 s outage takes milliseconds and the order of events is fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

#[path = "uploads/cmaf.rs"]
mod cmaf;
#[path = "uploads/recordings.rs"]
mod recordings;
mod support;

use std::sync::Arc;
use std::time::Duration;

use ferrocast_base::Epoch;
use ferrocast_live::LiveSource;
use ferrocast_origin::OriginConfig;
use ferrocast_store::AppendFault;
use support::{Encoder, GOP, Harness, discontinuities, stream_id};

/// About 100 KiB per 2 s segment.
const FRAME_BYTES: usize = 1_600;

fn config() -> OriginConfig {
    let mut config = OriginConfig::default();
    // Keep every segment listed, so the test sees the whole stream.
    config.hls.retain = 1_000;
    config.hls.window = 1_000;
    config
}

#[tokio::test(start_paused = true)]
async fn a_15_s_store_outage_loses_no_segment() {
    store_outage_loses_no_segment(8).await;
}

#[tokio::test(start_paused = true)]
async fn a_60_s_store_outage_loses_no_segment() {
    store_outage_loses_no_segment(30).await;
}

/// The store is halted for `gops` GOPs of 2 s (plus the GOP in progress).
async fn store_outage_loses_no_segment(gops: usize) {
    let origin = Harness::new(config());
    let mut session = origin.start(1).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut session);
    for _ in 0..5 {
        encoder.gop(&mut session).await;
    }
    origin.objects.halt();
    for _ in 0..gops {
        encoder.gop(&mut session).await;
    }
    // Nothing was listed during the outage: object before index.
    let listed_in_outage = origin.state().await.segments.len();
    assert!(listed_in_outage <= 5, "listed {listed_in_outage}");
    let held = origin.deps.buffers.held_bytes();
    assert!(held > (gops - 1) as u64 * 60 * FRAME_BYTES as u64, "{held}");
    origin.objects.resume();
    for _ in 0..5 {
        encoder.gop(&mut session).await;
    }
    session.finish();
    origin.wound_up().await;

    let state = origin.state().await;
    // A segment per GOP: cut at each keyframe after the first, the last one at the end.
    assert_eq!(state.segments.len(), 10 + gops);
    assert_eq!(discontinuities(&state), Vec::<u64>::new());
    assert_eq!(origin.missing_objects().await, Vec::<u64>::new());
    assert!(
        state.ended,
        "the playlist ends when the reconnect window closes"
    );
    assert_eq!(origin.deps.buffers.held_bytes(), 0);
    assert_eq!(*origin.control.released.lock().unwrap(), vec![Epoch(1)]);
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_drops_the_oldest_with_a_discontinuity() {
    let mut config = config();
    // Room for about three segments.
    config.hls.buffer_bytes_per_stream = 350 * 1024;
    let origin = Harness::new(config);
    let mut session = origin.start(1).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut session);
    for _ in 0..3 {
        encoder.gop(&mut session).await;
    }
    origin.objects.halt();
    for _ in 0..8 {
        encoder.gop(&mut session).await;
    }
    assert!(origin.deps.buffers.held_bytes() <= 350 * 1024);
    origin.objects.resume();
    for _ in 0..3 {
        encoder.gop(&mut session).await;
    }
    session.finish();
    origin.wound_up().await;

    let state = origin.state().await;
    let produced = 14;
    let listed = state.segments.len();
    assert!(
        (3..produced).contains(&listed),
        "some segments dropped: {listed} listed"
    );
    // One hole in the media, marked where it is; the msns themselves stay contiguous.
    let holes = discontinuities(&state);
    assert_eq!(holes.len(), 1, "{holes:?}");
    // The oldest went: what follows the hole is the newest media, to the end.
    let after_hole = state.segments.iter().skip_while(|s| !s.discontinuity);
    let newest_pdt: Vec<i64> = after_hole.map(|s| s.program_date_time_ms).collect();
    assert!(newest_pdt.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(origin.deps.buffers.held_bytes(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_index_outage_catches_up_in_order() {
    let origin = Harness::new(config());
    let mut session = origin.start(1).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut session);
    for _ in 0..3 {
        encoder.gop(&mut session).await;
    }
    origin.index.set_append_fault(AppendFault::Down);
    for _ in 0..8 {
        encoder.gop(&mut session).await;
    }
    assert!(origin.state().await.segments.len() <= 3);
    // Appends are applied again but their answers are lost: a retry must not be a rewind,
    // and no object may be deleted for it.
    origin.index.set_append_fault(AppendFault::LostReply);
    encoder.gop(&mut session).await;
    origin.index.set_append_fault(AppendFault::None);
    for _ in 0..3 {
        encoder.gop(&mut session).await;
    }
    session.finish();
    origin.wound_up().await;

    let state = origin.state().await;
    assert_eq!(state.segments.len(), 15);
    assert_eq!(discontinuities(&state), Vec::<u64>::new());
    assert_eq!(origin.missing_objects().await, Vec::<u64>::new());
    assert!(state.ended);
}

#[tokio::test(start_paused = true)]
async fn a_reconnect_within_the_window_continues_the_hub_and_the_playlist() {
    let origin = Harness::new(config());
    let mut first = origin.start(1).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut first);
    let (hub, mut viewer) = origin.deps.hubs.subscribe(&stream_id()).await.unwrap();
    for _ in 0..3 {
        encoder.gop(&mut first).await;
    }
    first.finish();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !origin.state().await.ended,
        "no ENDLIST while the window is open"
    );

    let mut second = origin.start(2).await;
    let (same_hub, _) = origin.deps.hubs.subscribe(&stream_id()).await.unwrap();
    assert!(Arc::ptr_eq(&hub, &same_hub), "viewers stay on the same hub");
    let newest_before = hub.newest_timestamp_ms();
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut second);
    encoder.gop(&mut second).await;
    // The first session's window closes while the second runs: nothing is ended.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!hub.is_ended());
    assert!(!origin.state().await.ended);

    // The viewer sees the second session after the first, timestamps never going back.
    let mut timestamps = Vec::new();
    while let Ok(batch) = viewer.live.try_recv_batch() {
        timestamps.extend(batch.frames().iter().map(|frame| frame.timestamp_ms));
    }
    assert!(timestamps.windows(2).all(|pair| pair[0] <= pair[1]));
    assert!(timestamps.iter().any(|ts| *ts > newest_before));

    second.finish();
    origin.wound_up().await;
    let state = origin.state().await;
    assert!(state.ended && hub.is_ended());
    assert_eq!(
        discontinuities(&state),
        vec![3],
        "the second session starts one"
    );
}

#[tokio::test(start_paused = true)]
async fn a_newer_session_takes_the_older_over_without_ending_anything() {
    let origin = Harness::new(config());
    let mut first = origin.start(1).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut first);
    encoder.gop(&mut first).await;
    let taken_over = first.taken_over();
    assert!(!taken_over.is_cancelled());

    let second = origin.start(2).await;
    assert!(
        taken_over.is_cancelled(),
        "the older connection is told to end"
    );
    first.finish();
    tokio::time::sleep(GOP * 40).await;
    let (hub, _) = origin.deps.hubs.subscribe(&stream_id()).await.unwrap();
    assert!(!hub.is_ended());
    assert!(!origin.state().await.ended);
    assert_eq!(*origin.control.released.lock().unwrap(), vec![Epoch(1)]);
    assert_eq!(origin.deps.publishing.reports()[0].epoch, Epoch(2));
    drop(second);
    origin.wound_up().await;
    assert!(origin.state().await.ended);
}

#[tokio::test(start_paused = true)]
async fn a_started_session_that_is_dropped_still_ends() {
    // What happens when the `accept` write fails after the session started: the session is
    // dropped on the error path instead of finished.
    let origin = Harness::new(config());
    let session = origin.start(1).await;
    assert_eq!(origin.deps.publishing.len(), 1);
    drop(session);
    assert_eq!(
        origin.deps.publishing.len(),
        0,
        "the stream is no longer live here"
    );
    origin.wound_up().await;
    assert_eq!(*origin.control.released.lock().unwrap(), vec![Epoch(1)]);
    assert!(origin.state().await.ended);
    assert!(origin.deps.hubs.get(&stream_id()).is_none());
}

#[tokio::test(start_paused = true)]
async fn shutdown_cuts_the_window_short_without_ending_the_playlist() {
    let origin = Harness::new(config());
    let mut session = origin.start(1).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut session);
    encoder.gop(&mut session).await;
    encoder.gop(&mut session).await;
    session.finish();
    origin.shutdown.cancel();
    origin.wound_up().await;
    let state = origin.state().await;
    assert_eq!(state.segments.len(), 2, "the last segment is still stored");
    assert!(!state.ended, "another origin continues the stream");
}

#[tokio::test(start_paused = true)]
async fn a_session_fenced_out_by_another_origin_ends() {
    let origin = Harness::new(config());
    let mut session = origin.start(1).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut session);
    encoder.gop(&mut session).await;
    // Another origin took the stream over under epoch 2.
    origin
        .index
        .inner()
        .open_session(&stream_id(), Epoch(2))
        .await
        .unwrap();
    let taken_over = session.taken_over();
    encoder.gop(&mut session).await;
    encoder.gop(&mut session).await;
    assert!(
        taken_over.is_cancelled(),
        "the zombie's connection is ended"
    );
    session.finish();
    origin.wound_up().await;
    let state = origin.state().await;
    assert!(
        !state.ended,
        "the fenced session does not end the new owner's playlist"
    );
    assert!(state.segments.iter().all(|s| s.epoch == Epoch(1)) && state.segments.len() <= 1);
}
