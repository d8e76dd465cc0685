//! When to try a failed delivery again: exponential backoff with jitter, and when to give up.

use std::time::Duration;

/// The retry policy of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
    /// An event older than this is given up instead of retried.
    pub max_age: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this long.
    RetryIn(Duration),
    /// The event is too old: drop it (counted).
    GiveUp,
}

impl Backoff {
    /// After the `failures`-th failure (1 for the first) of an event queued `age` ago:
    /// `initial * 2^(failures-1)`, capped at `max`, of which the upper half is jitter
    /// (`jitter` in `[0, 1)`), so replicas retrying many targets do not move in step. Gives
    /// up once the retry would land past `max_age`.
    pub fn after(&self, failures: u32, age: Duration, jitter: f64) -> Next {
        let doubling = failures.saturating_sub(1).min(32);
        let full = self
            .initial
            .saturating_mul(1_u32 << doubling.min(31))
            .min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        let wait = full / 2 + (full / 2).mul_f64(jitter);
        if age.saturating_add(wait) > self.max_age {
            return Next::GiveUp;
        }
        Next::RetryIn(wait.max(Duration::from_millis(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(600),
        max_age: Duration::from_secs(24 * 3600),
    };

    fn wait(failures: u32, jitter: f64) -> Duration {
        match POLICY.after(failures, Duration::ZERO, jitter) {
            Next::RetryIn(wait) => wait,
            Next::GiveUp => panic!("gave up"),
        }
    }

    #[test]
    fn doubles_with_jitter_in_the_upper_half_up_to_the_cap() {
        assert_eq!(wait(1, 0.0), Duration::from_millis(500));
        assert!(wait(1, 0.999_999) < Duration::from_secs(1));
        assert_eq!(wait(2, 0.0), Duration::from_secs(1));
        assert_eq!(wait(4, 0.5), Duration::from_secs(6));
        assert_eq!(wait(11, 0.0), Duration::from_secs(300)); // 1024 s capped at 600
        assert_eq!(wait(u32::MAX, 1.0), Duration::from_secs(600));
        for failures in 1..40 {
            assert!(wait(failures, 0.3) <= wait(failures + 1, 0.3));
        }
    }

    #[test]
    fn gives_up_past_the_age_limit() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(POLICY.after(3, day, 0.0), Next::GiveUp);
        assert_eq!(
            POLICY.after(1, day - Duration::from_secs(10), 0.0),
            Next::RetryIn(Duration::from_millis(500))
        );
    }
}
