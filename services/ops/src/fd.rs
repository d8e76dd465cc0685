//! File descriptors: the open-file limit (raised at start), the share of it that connections
//! may take, and a spare descriptor that lets the ops port answer when the rest are gone.
//!
//! Every socket is a descriptor. When a flood of idle connections takes them all, `accept`
//! fails on every listener, the ops port included, and `/healthz` goes silent. So each
//! listener's connection cap is kept below the limit minus [`RESERVE`], which stays free for
//! the ops port, backends (Redis, S3, control, relays) and files; and the ops listener holds a
//! [`Spare`] it gives up to accept one connection if descriptors still run out.

use std::fs::File;
use std::io;

/// Descriptors never given to client connections, at most half the limit.
pub const RESERVE: u64 = 128;

/// The open-file limit before and after [`raise_open_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit the process started with.
    pub before: u64,
    /// The soft limit in force now.
    pub now: u64,
    /// The hard limit, the most the soft one can be raised to without privileges.
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit: the usual soft default (1024) is far
/// below what a server with thousands of viewers needs, and the hard one is the
/// administrator's real ceiling.
#[cfg(unix)]
pub fn raise_open_file_limit() -> io::Result<OpenFileLimit> {
    let (before, hard) = rlimit::Resource::NOFILE.get()?;
    let now = rlimit::increase_nofile_limit(hard)?;
    Ok(OpenFileLimit { before, now, hard })
}

/// Without `RLIMIT_NOFILE` there is nothing to raise.
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> io::Result<OpenFileLimit> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The soft open-file limit in force, `None` where there is none or it cannot be read.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let (soft, _) = rlimit::Resource::NOFILE.get().ok()?;
        (soft != rlimit::INFINITY).then_some(soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// How many client connections, all listeners together, a process with `limit` open files
/// can hold and still keep [`RESERVE`] (at most half the limit) free. `None`: no limit.
pub fn connection_budget(limit: Option<u64>) -> Option<usize> {
    let limit = limit?;
    let reserve = RESERVE.min(limit / 2);
    Some(usize::try_from(limit - reserve).unwrap_or(usize::MAX))
}

/// `configured` lowered to `budget` when there is one, with a log line naming `setting` when
/// it was lowered.
pub fn fit_cap(setting: &str, configured: usize, budget: Option<usize>) -> usize {
    let Some(budget) = budget else {
        return configured;
    };
    if configured <= budget {
        return configured;
    }
    tracing::warn!(
        setting,
        configured,
        effective = budget,
        reserve = RESERVE,
        "connection cap lowered to fit the open-file limit"
    );
    budget
}

/// One descriptor held in reserve (`/dev/null`), closed to make room for exactly one
/// `accept` when the process is out of descriptors, and taken back afterwards.
#[derive(Debug)]
pub struct Spare(Option<File>);

impl Spare {
    /// Opens the spare descriptor; without one (no `/dev/null`) it does nothing.
    pub fn open() -> Self {
        Self(File::open("/dev/null").ok())
    }

    /// Whether the descriptor is held.
    pub fn is_held(&self) -> bool {
        self.0.is_some()
    }

    /// Closes the descriptor, freeing one slot; `false` if it was not held.
    pub fn release(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// Takes a descriptor back if it is not held and one is free.
    pub fn refill(&mut self) {
        if self.0.is_none() {
            self.0 = File::open("/dev/null").ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_the_reserve_or_half_a_small_limit() {
        assert_eq!(connection_budget(Some(65_536)), Some(65_408));
        assert_eq!(connection_budget(Some(1_024)), Some(896));
        assert_eq!(connection_budget(Some(200)), Some(100));
        assert_eq!(connection_budget(None), None);
    }

    #[test]
    fn a_cap_is_only_ever_lowered() {
        assert_eq!(fit_cap("x", 10_000, Some(896)), 896);
        assert_eq!(fit_cap("x", 500, Some(896)), 500);
        assert_eq!(fit_cap("x", 10_000, None), 10_000);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_limit_is_raised_to_the_hard_one() {
        let limit = raise_open_file_limit().unwrap();
        assert_eq!(limit.now, limit.hard);
        assert!(limit.now >= limit.before);
        assert_eq!(open_file_limit(), Some(limit.now));
    }

    #[test]
    #[cfg(unix)]
    fn the_spare_is_released_and_refilled() {
        let mut spare = Spare::open();
        assert!(spare.is_held());
        assert!(spare.release());
        assert!(!spare.release());
        spare.refill();
        assert!(spare.is_held());
    }
}
