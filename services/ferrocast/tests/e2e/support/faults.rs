//! Faults by signal, always by PID: a crash (SIGKILL), a hang (SIGSTOP until SIGCONT, the
//! process keeps its sockets open and answers nothing), and reading a gauge from `/metrics`
//! while it happens.

use std::process::Command;
use std::time::{Duration, Instant};

use super::http::try_get;

/// Sends `signal` (`KILL`, `STOP`, `CONT`, `TERM`, `INT`) to `pid`; panics when it fails.
pub fn signal(pid: &str, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// A process held with SIGSTOP; SIGCONT on [`Paused::resume`] or on drop, so a failing test
/// never leaves a stopped server behind (a stopped process does not act on SIGTERM).
pub struct Paused {
    pid: String,
    since: Instant,
    resumed: bool,
}

impl Paused {
    /// Stops `pid` now.
    pub fn pause(pid: &str) -> Self {
        signal(pid, "STOP");
        Self {
            pid: pid.to_owned(),
            since: Instant::now(),
            resumed: false,
        }
    }

    /// When the pause began.
    pub fn since(&self) -> Instant {
        self.since
    }

    /// Continues the process; returns how long it was stopped.
    pub fn resume(mut self) -> Duration {
        signal(&self.pid, "CONT");
        self.resumed = true;
        self.since.elapsed()
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if !self.resumed {
            let _ = Command::new("kill").args(["-CONT", &self.pid]).status();
        }
    }
}

/// Every sample of `/metrics` at `ops_url` whose name starts with `prefix` and satisfies
/// `wanted`, as `(line without the value, value)`. Empty when the scrape fails.
pub fn metric_samples(
    ops_url: &str,
    prefix: &str,
    wanted: impl Fn(&str) -> bool,
) -> Vec<(String, f64)> {
    let Ok(response) = try_get(&format!("{ops_url}/metrics"), Duration::from_secs(5)) else {
        return Vec::new();
    };
    response
        .text()
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            if !wanted(name) {
                return None;
            }
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}
