//! Shared helpers: the server under test, media fixtures and clients, HTTP, the
//! hostile-input kit (an attacker's RTMP client, a victim stream, the target it runs on), the
//! fault-injection kit (signals by PID, HLS and HTTP-FLV viewers that measure, OBS), and the
//! origin's clock of LL-HLS parts.

pub mod attack;
pub mod cluster;
pub mod faults;
pub mod flv_watch;
pub mod hls;
pub mod hls_watch;
pub mod http;
pub mod media;
pub mod obs;
pub mod part_clock;
pub mod server;
pub mod target;
pub mod victim;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Polls `condition` every 100 ms until it holds or `deadline` passes. This waits for an
/// event the test caused (a segment being written); it never re-runs an assertion.
pub fn wait_for<T>(what: &str, deadline: Duration, mut condition: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every file below `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

pub use ferrocast_testkit::stdout_lines;
