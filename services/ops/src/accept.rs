//! What an accept loop does when `accept` fails: count it, log it rate-limited, and wait a
//! growing delay before trying again.
//!
//! Running out of file descriptors (EMFILE, ENFILE) or kernel memory makes every `accept`
//! fail at once until something closes; retrying at a fixed short interval fills the log and
//! burns a core for nothing. An error that concerns only the connection being accepted (it
//! was reset or aborted while queued) is counted but needs no wait.
//!
//! ```ignore
//! let mut backoff = Backoff::new("rtmp");
//! loop {
//!     match listener.accept().await {
//!         Ok((socket, peer)) => { backoff.succeeded(); /* serve it */ }
//!         Err(error) => backoff.failed(&error).await,
//!     }
//! }
//! ```

use std::io;
use std::time::Duration;

use tokio::time::Instant;

use crate::throttle::Throttle;

/// Counter of failed accepts, labelled `listener`.
pub const ACCEPT_ERRORS: &str = "ferrocast_listener_accept_errors_total";
/// The first wait after a failed accept.
pub const FIRST_DELAY: Duration = Duration::from_millis(10);
/// The longest wait; reached after seven failures in a row.
pub const MAX_DELAY: Duration = Duration::from_secs(1);
/// At most one "accept failed" line per listener per this interval.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Describes the accept-error counter; call once at start, with the metrics of the role.
pub fn describe() {
    metrics::describe_counter!(
        ACCEPT_ERRORS,
        "Failed accepts, by listener (EMFILE: out of file descriptors)."
    );
}

/// The failure state of one accept loop.
#[derive(Debug)]
pub struct Backoff {
    listener: &'static str,
    next_delay: Duration,
    log: Throttle,
    errors: metrics::Counter,
}

impl Backoff {
    /// The backoff of the listener named `listener` in logs and in the `listener` label; the
    /// counter is registered at zero.
    pub fn new(listener: &'static str) -> Self {
        let errors = metrics::counter!(ACCEPT_ERRORS, "listener" => listener);
        errors.increment(0);
        Self {
            listener,
            next_delay: FIRST_DELAY,
            log: Throttle::new(LOG_INTERVAL),
            errors,
        }
    }

    /// Counts `error`, logs it (one line per [`LOG_INTERVAL`], with the number of failures it
    /// stands for) and returns how long to wait before the next `accept`: nothing for an
    /// error of the one queued connection, else a delay doubling from [`FIRST_DELAY`] to
    /// [`MAX_DELAY`].
    pub fn record_failure(&mut self, error: &io::Error) -> Duration {
        self.note(error, Instant::now()).0
    }

    /// The delay, and whether a line was logged.
    fn note(&mut self, error: &io::Error, now: Instant) -> (Duration, bool) {
        self.errors.increment(1);
        let line = self.log.record(now);
        if let Some(failures) = line {
            tracing::warn!(listener = self.listener, %error, failures, "accept failed");
        }
        if concerns_one_connection(error) {
            return (Duration::ZERO, line.is_some());
        }
        let delay = self.next_delay;
        self.next_delay = (delay * 2).min(MAX_DELAY);
        (delay, line.is_some())
    }

    /// [`Backoff::record_failure`], then the wait.
    pub async fn failed(&mut self, error: &io::Error) {
        let delay = self.record_failure(error);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// Resets the delay after an `accept` that worked.
    pub fn succeeded(&mut self) {
        self.next_delay = FIRST_DELAY;
    }
}

/// Whether `error` is about the queued connection only, not the listener or the process.
fn concerns_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Whether `error` says the process or the system ran out of file descriptors.
pub fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(libc::EMFILE)
    }

    #[test]
    fn delays_double_up_to_the_cap_and_reset_on_success() {
        let mut backoff = Backoff::new("test");
        let delays: Vec<u64> = (0..9)
            .map(|_| backoff.record_failure(&emfile()).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.record_failure(&emfile()), FIRST_DELAY);
    }

    #[test]
    fn a_reset_connection_costs_no_wait() {
        let mut backoff = Backoff::new("test");
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(backoff.record_failure(&reset), Duration::ZERO);
        assert_eq!(backoff.record_failure(&emfile()), FIRST_DELAY);
    }

    #[test]
    fn descriptor_exhaustion_is_recognised() {
        assert!(is_out_of_descriptors(&emfile()));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!is_out_of_descriptors(&io::Error::from(
            io::ErrorKind::ConnectionReset
        )));
    }

    #[tokio::test(start_paused = true)]
    async fn a_minute_of_emfile_is_about_seventy_tries_and_seven_log_lines() {
        let mut backoff = Backoff::new("test");
        let start = Instant::now();
        let mut tries = 0;
        let mut lines = 0;
        while start.elapsed() < Duration::from_secs(60) {
            tries += 1;
            let (delay, logged) = backoff.note(&emfile(), Instant::now());
            lines += u32::from(logged);
            tokio::time::sleep(delay).await;
        }
        // 10 ms … 640 ms add up to 1.27 s, then one try a second.
        assert!((60..=66).contains(&tries), "{tries} tries");
        assert_eq!(lines, 6, "one line per 10 s");
    }
}
