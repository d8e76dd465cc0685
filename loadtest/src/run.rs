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
use crate::{hls_viewer, ll_viewer, player, publisher};

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
        ll_viewers: plan.ll.len(),
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
    let total = plan.flv.len() + plan.hls.len() + plan.rtmp.len() + plan.ll.len();
    let longest = plan
        .flv
        .len()
        .max(plan.hls.len())
        .max(plan.rtmp.len())
        .max(plan.ll.len());
    let mut ramp = Ramp {
        viewers: JoinSet::new(),
        launched: 0,
        total,
        length: plan.ramp,
        start: tokio::time::Instant::now(),
        stop: stop.clone(),
    };
    let io = plan.io_timeout;
    // Interleave the kinds so that the ramp spreads each of them evenly.
    for index in 0..longest {
        if let Some(target) = plan.flv.get(index) {
            let source = player::Source::Flv(target.clone());
            let viewer = player::run(ramp.launched, source, io, stats.flv.clone(), stop.clone());
            ramp.launch(viewer).await;
        }
        if let Some(target) = plan.hls.get(index) {
            let viewer = hls_viewer::run(
                ramp.launched,
                target.clone(),
                io,
                stats.hls.clone(),
                stop.clone(),
            );
            ramp.launch(viewer).await;
        }
        if let Some(target) = plan.ll.get(index) {
            let viewer = ll_viewer::run(
                ramp.launched,
                target.clone(),
                io,
                stats.ll.clone(),
                stop.clone(),
            );
            ramp.launch(viewer).await;
        }
        if let Some(target) = plan.rtmp.get(index) {
            let source = player::Source::Rtmp(target.clone());
            let viewer = player::run(ramp.launched, source, io, stats.rtmp.clone(), stop.clone());
            ramp.launch(viewer).await;
        }
        if stop.is_cancelled() {
            break;
        }
    }
    while ramp.viewers.join_next().await.is_some() {}
}

/// Viewer starts spread evenly over the ramp's length.
struct Ramp {
    viewers: JoinSet<()>,
    /// Viewers spawned so far; the next one's index.
    launched: usize,
    total: usize,
    length: Duration,
    start: tokio::time::Instant,
    stop: CancellationToken,
}

impl Ramp {
    /// Waits for the next viewer's slot in the ramp, then spawns it (not once the run is
    /// stopping).
    async fn launch(&mut self, viewer: impl std::future::Future<Output = ()> + Send + 'static) {
        let slot = self
            .length
            .mul_f64(self.launched as f64 / self.total.max(1) as f64);
        tokio::select! {
            () = tokio::time::sleep_until(self.start + slot) => {}
            () = self.stop.cancelled() => return,
        }
        self.viewers.spawn(viewer);
        self.launched += 1;
    }
}
