//! Rate-limited logging of events that can come in floods (accept errors, refused
//! connections): at most one line per interval, carrying how many events it stands for.

use std::time::{Duration, Instant};

/// Decides which events of a kind get a log line.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    interval: Duration,
    last_line: Option<Instant>,
    unlogged: u64,
}

impl LogThrottle {
    /// At most one line per `interval`.
    pub(crate) const fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_line: None,
            unlogged: 0,
        }
    }

    /// Counts one event at `now`. Returns `Some(events)` when a line is due: the events since
    /// the last line, this one included. The first event of a quiet period is logged at once.
    pub(crate) fn record(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        let due = self
            .last_line
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last_line = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_of_what_it_stands_for() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut throttle = LogThrottle::new(Duration::from_secs(10));
        assert_eq!(throttle.record(at(0)), Some(1), "the first event is logged");
        let within: Vec<_> = (1..=500).map(|i| throttle.record(at(i * 10))).collect();
        assert!(
            within.iter().all(Option::is_none),
            "a flood within the interval is held"
        );
        assert_eq!(
            throttle.record(at(10_000)),
            Some(501),
            "then one line counts them all"
        );
        assert_eq!(throttle.record(at(10_001)), None);
        assert_eq!(throttle.record(at(60_000)), Some(2));
    }
}
