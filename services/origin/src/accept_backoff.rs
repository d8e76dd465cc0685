//! What the RTMP accept loop does when `accept` fails, usually because the process is out of
//! file descriptors (EMFILE) or the system is (ENFILE, ENOBUFS): wait a growing, capped delay
//! instead of spinning on an error that repeats until a connection closes, count each error,
//! and log them at most once per interval with a count.
//!
//! Private to the origin until the shared helper in `ferrocast_ops` lands; see ADR 8.

use std::time::{Duration, Instant};

use crate::log_throttle::LogThrottle;
use crate::metrics;

/// The delay after the first error of a run.
const FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest delay: a descriptor freed is used within this.
const MAX_DELAY: Duration = Duration::from_secs(1);
/// At most one log line per this.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Backoff state of one accept loop.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    delay: Duration,
    log: LogThrottle,
}

impl AcceptBackoff {
    pub(crate) const fn new() -> Self {
        Self {
            delay: Duration::ZERO,
            log: LogThrottle::new(LOG_INTERVAL),
        }
    }

    /// An accept succeeded: the next error starts from the shortest delay again.
    pub(crate) fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }

    /// Counts and logs (rate-limited) an accept error; returns how long to wait before the
    /// next accept.
    pub(crate) fn failed(&mut self, error: &std::io::Error, now: Instant) -> Duration {
        metrics::accept_failed();
        self.delay = next_delay(self.delay);
        if let Some(errors) = self.log.record(now) {
            tracing::warn!(%error, errors, retry_in = ?self.delay, "rtmp accept failing");
        }
        self.delay
    }
}

fn next_delay(delay: Duration) -> Duration {
    if delay.is_zero() {
        FIRST_DELAY
    } else {
        (delay * 2).min(MAX_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_the_cap_and_restarts_after_a_success() {
        let mut backoff = AcceptBackoff::new();
        let error = std::io::Error::from_raw_os_error(24); // EMFILE
        let now = Instant::now();
        let delays: Vec<_> = (0..10).map(|_| backoff.failed(&error, now)).collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(delays[1], FIRST_DELAY * 2);
        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(delays[9], MAX_DELAY);
        backoff.succeeded();
        assert_eq!(backoff.failed(&error, now), FIRST_DELAY);
    }
}
