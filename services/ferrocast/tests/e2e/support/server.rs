//! `ferrocast dev` for these tests: the testkit's server, started with this package's binary,
//! its data under the target's scratch directory.

use std::time::{Duration, Instant};

use ferrocast_testkit::DevCommand;
pub use ferrocast_testkit::DevServer;

/// How these tests start `ferrocast dev`: `dev().start()`, `dev().start_with(&[…])`.
pub fn dev() -> DevCommand {
    DevCommand::new(env!("CARGO_BIN_EXE_ferrocast"), env!("CARGO_TARGET_TMPDIR"))
}

/// Segment objects the server wrote to disk.
pub fn segment_files(server: &DevServer) -> Vec<std::path::PathBuf> {
    super::files_under(&server.segments_dir())
}

/// The value of one series on the ops port's `/metrics` (0 when absent).
pub fn metric(server: &DevServer, series: &str) -> f64 {
    let text = super::http::get(&format!("{}/metrics", server.ops_url)).text();
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `series` reads 0, at most `limit`; how long that took.
pub fn until_metric_is_zero(server: &DevServer, series: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let value = metric(server, series);
        if value == 0.0 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{series} still {value} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
