//! Process metrics under the Prometheus client-library names (`process_*`), read from
//! `/proc/self` on Linux, so stock dashboards and alerts work unchanged. Elsewhere they are
//! left out.

use std::fmt::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Kernel clock ticks per second of `/proc/<pid>/stat` times: USER_HZ, fixed at 100 in the
/// Linux ABI for every mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

static STARTED: OnceLock<f64> = OnceLock::new();

/// Remembers the start time; call once early in `main`.
pub fn mark_start() {
    STARTED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    });
}

/// Appends the process metrics in Prometheus text format. They are rendered here rather
/// than recorded because CPU seconds are fractional and the `metrics` counters are integers.
pub fn render(out: &mut String) {
    let mut family = |name: &str, kind: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
            );
        }
    };
    family(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time in seconds.",
        cpu_seconds(),
    );
    family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident set size in bytes.",
        resident_bytes().map(|b| b as f64),
    );
    family(
        "process_open_fds",
        "gauge",
        "Open file descriptors.",
        open_fds().map(|n| n as f64),
    );
    family(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors (the soft limit).",
        crate::fd::open_file_limit().map(|n| n as f64),
    );
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time in Unix seconds.",
        STARTED.get().copied(),
    );
}

/// User + system CPU seconds from `/proc/self/stat` (fields 14 and 15).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields resume after its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn renders_every_family() {
        mark_start();
        let mut text = String::new();
        render(&mut text);
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        assert!(resident_bytes().is_some_and(|bytes| bytes > 1024 * 1024));
        assert!(open_fds().is_some_and(|count| count >= 3));
        assert!(cpu_seconds().is_some());
    }
}
