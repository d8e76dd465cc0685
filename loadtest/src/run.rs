//! One run: publishers first, viewers once the publishers are live (spread over the ramp),
//! everything stopped at the deadline or on Ctrl-C, then the summary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::gate::Gate;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::stats::{Stats, unix_micros};
use crate::summary::{self, RunConfig, Summary};
use crate::{hls_viewer, player, publisher};

/// How long tasks get to record their last numbers after the stop.
const GRACE: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(250);

/// Runs the plan to its end and summarizes it.
pub async fn run(plan: Plan, progress: Progress) -> Summary {
    let config = RunConfig {
        duration_s: plan.duration.as_secs_f64(),
        threads: plan.threads,
        publishers: plan.publishers.len(),
        flv_viewers: plan.flv.len(),
        hls_viewers: plan.hls.len(),
        rtmp_players: plan.rtmp.len(),
    };
    let stats = Arc::new(Stats::new());
    let stop = CancellationToken::new();
    let started_at_unix_ms = unix_micros() / 1000;
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + plan.duration);
    tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            stop.cancel();
        }
    });

    let gate = Arc::new(Gate::new(plan.publishers.len()));
    let mut tasks = JoinSet::new();
    for publisher in plan.publishers.iter().cloned() {
        let stats = stats.publish.clone();
        tasks.spawn(publisher::run(publisher, stats, stop.clone(), gate.clone()));
    }
    let has_publishers = !plan.publishers.is_empty();
    tasks.spawn(launch_viewers(
        plan,
        has_publishers,
        stats.clone(),
        gate,
        stop.clone(),
    ));

    let mut ticker = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = ticker.tick() => progress.tick(&stats, started.elapsed()),
            () = stop.cancelled() => break,
        }
    }
    let drained = tokio::time::timeout(GRACE, async { while tasks.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tasks.abort_all();
    }
    let elapsed = started.elapsed();
    progress.tick(&stats, elapsed);
    progress.finish();
    summary::build(&stats, config, started_at_unix_ms, elapsed.as_secs_f64())
}

/// Starts every viewer, evenly over the ramp, after the publishers are live; then waits for
/// them all to finish.
async fn launch_viewers(
    plan: Plan,
    has_publishers: bool,
    stats: Arc<Stats>,
    gate: Arc<Gate>,
    stop: CancellationToken,
) {
    if has_publishers {
        let ready = async {
            gate.wait().await;
            tokio::time::sleep(plan.viewer_delay).await;
        };
        tokio::select! {
            () = ready => {}
            () = stop.cancelled() => return,
        }
    }
    let total = plan.flv.len() + plan.hls.len() + plan.rtmp.len();
    let longest = plan.flv.len().max(plan.hls.len()).max(plan.rtmp.len());
    let start = tokio::time::Instant::now();
    let mut viewers = JoinSet::new();
    let mut launched = 0usize;
    let io = plan.io_timeout;
    // Interleave the kinds so that the ramp spreads each of them evenly.
    for index in 0..longest {
        if let Some(target) = plan.flv.get(index) {
            let source = player::Source::Flv(target.clone());
            let viewer = player::run(launched, source, io, stats.flv.clone(), stop.clone());
            launched += pace(
                &mut viewers,
                viewer,
                launched,
                total,
                plan.ramp,
                start,
                &stop,
            )
            .await;
        }
        if let Some(target) = plan.hls.get(index) {
            let viewer = hls_viewer::run(
                launched,
                target.clone(),
                io,
                stats.hls.clone(),
                stop.clone(),
            );
            launched += pace(
                &mut viewers,
                viewer,
                launched,
                total,
                plan.ramp,
                start,
                &stop,
            )
            .await;
        }
        if let Some(target) = plan.rtmp.get(index) {
            let source = player::Source::Rtmp(target.clone());
            let viewer = player::run(launched, source, io, stats.rtmp.clone(), stop.clone());
            launched += pace(
                &mut viewers,
                viewer,
                launched,
                total,
                plan.ramp,
                start,
                &stop,
            )
            .await;
        }
        if stop.is_cancelled() {
            break;
        }
    }
    while viewers.join_next().await.is_some() {}
}

/// Waits for viewer number `index`'s slot in the ramp, then spawns it; returns 1 if it was
/// spawned (0 once the run is stopping).
async fn pace(
    viewers: &mut JoinSet<()>,
    viewer: impl std::future::Future<Output = ()> + Send + 'static,
    index: usize,
    total: usize,
    ramp: Duration,
    start: tokio::time::Instant,
    stop: &CancellationToken,
) -> usize {
    let slot = ramp.mul_f64(index as f64 / total.max(1) as f64);
    tokio::select! {
        () = tokio::time::sleep_until(start + slot) => {}
        () = stop.cancelled() => return 0,
    }
    viewers.spawn(viewer);
    1
}
