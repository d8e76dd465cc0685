//! Progress bars on stderr: the run's clock and one line per role, refreshed from the
//! counters. Hidden when stderr is not a terminal or with `--quiet`.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::{HlsStats, LlStats, PlayStats, PublishStats, Stats, get};

/// Which roles run, so that only their lines are shown.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// Publishers.
    pub publishers: usize,
    /// HTTP-FLV viewers.
    pub flv: usize,
    /// HLS viewers.
    pub hls: usize,
    /// RTMP players.
    pub rtmp: usize,
    /// LL-HLS viewers.
    pub ll: usize,
}

struct Line {
    bar: ProgressBar,
    count: usize,
}

/// The bars; a no-op when hidden.
pub struct Progress {
    clock: Option<ProgressBar>,
    publish: Option<Line>,
    flv: Option<Line>,
    hls: Option<Line>,
    rtmp: Option<Line>,
    ll: Option<Line>,
}

impl Progress {
    /// Bars for `roles` over a run of `duration`, drawn only if `visible`.
    pub fn new(visible: bool, duration: Duration, roles: Roles) -> Self {
        if !visible {
            return Self {
                clock: None,
                publish: None,
                flv: None,
                hls: None,
                rtmp: None,
                ll: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let clock_style = ProgressStyle::with_template("{prefix:>10.bold} {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let clock = multi.add(ProgressBar::new(duration.as_millis() as u64));
        clock.set_style(clock_style.progress_chars("=> "));
        clock.set_prefix("time");
        let line_style = ProgressStyle::with_template("{prefix:>10.bold} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let line = |name: &str, count: usize| {
            (count > 0).then(|| {
                let bar = multi.add(ProgressBar::new(1));
                bar.set_style(line_style.clone());
                bar.set_prefix(name.to_owned());
                Line { bar, count }
            })
        };
        Self {
            publish: line("publish", roles.publishers),
            flv: line("http-flv", roles.flv),
            hls: line("hls", roles.hls),
            rtmp: line("rtmp-play", roles.rtmp),
            ll: line("ll-hls", roles.ll),
            clock: Some(clock),
        }
    }

    /// Redraws from the counters, `elapsed` into the run.
    pub fn tick(&self, stats: &Stats, elapsed: Duration) {
        let Some(clock) = &self.clock else {
            return;
        };
        clock.set_position(elapsed.as_millis() as u64);
        clock.set_message(format!("{:.0} s", elapsed.as_secs_f64()));
        if let Some(line) = &self.publish {
            line.bar
                .set_message(publish_line(&stats.publish, line, elapsed));
        }
        if let Some(line) = &self.flv {
            line.bar.set_message(play_line(&stats.flv, line, elapsed));
        }
        if let Some(line) = &self.hls {
            line.bar.set_message(hls_line(&stats.hls, line, elapsed));
        }
        if let Some(line) = &self.rtmp {
            line.bar.set_message(play_line(&stats.rtmp, line, elapsed));
        }
        if let Some(line) = &self.ll {
            line.bar.set_message(ll_line(&stats.ll, line, elapsed));
        }
    }

    /// Leaves the last state on screen.
    pub fn finish(&self) {
        let lines = [&self.publish, &self.flv, &self.hls, &self.rtmp, &self.ll];
        for bar in self
            .clock
            .iter()
            .chain(lines.into_iter().flatten().map(|line| &line.bar))
        {
            bar.abandon();
        }
    }
}

/// Megabits per second, averaged since the start (HLS arrives in bursts).
fn rate(bytes: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return 0.0;
    }
    bytes as f64 * 8.0 / seconds / 1e6
}

fn publish_line(stats: &PublishStats, line: &Line, elapsed: Duration) -> String {
    format!(
        "{}/{} live · {} video frames · {:.1} Mb/s out · {} errors",
        get(&stats.publishing),
        line.count,
        get(&stats.video_frames),
        rate(get(&stats.bytes_out), elapsed),
        stats.errors.total(),
    )
}

fn play_line(stats: &PlayStats, line: &Line, elapsed: Duration) -> String {
    format!(
        "{}/{} receiving · {} video frames · {:.1} Mb/s in · {} late · {} stalls · {} errors",
        get(&stats.receiving),
        line.count,
        get(&stats.video_frames),
        rate(get(&stats.bytes_in), elapsed),
        get(&stats.late),
        get(&stats.stalls),
        stats.errors.total(),
    )
}

fn hls_line(stats: &HlsStats, line: &Line, elapsed: Duration) -> String {
    format!(
        "{}/{} receiving · {} segments · {:.1} Mb/s in · {} stalls · {} errors",
        get(&stats.receiving),
        line.count,
        get(&stats.segments),
        rate(get(&stats.bytes_in), elapsed),
        get(&stats.stalls),
        stats.errors.total(),
    )
}

fn ll_line(stats: &LlStats, line: &Line, elapsed: Duration) -> String {
    format!(
        "{}/{} receiving · {} parts · {:.1} Mb/s in · {} stalls · {} errors",
        get(&stats.receiving),
        line.count,
        get(&stats.parts),
        rate(get(&stats.bytes_in), elapsed),
        get(&stats.stalls),
        stats.errors.total(),
    )
}
