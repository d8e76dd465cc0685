//! One log line per interval for events that can come by the thousand a second (failed
//! accepts, refused connections): the first event is logged at once, the rest are counted and
//! reported with the next line that is due, so a flood costs one line per interval.

use std::time::Duration;

use tokio::time::Instant;

/// Decides when a repeated event is logged, and how many it stands for.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    last_line: Option<Instant>,
    unreported: u64,
}

impl Throttle {
    /// At most one line per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_line: None,
            unreported: 0,
        }
    }

    /// Records one event at `now`. `Some(n)` when a line is due: it stands for `n` events,
    /// this one and those not reported since the last line.
    pub fn record(&mut self, now: Instant) -> Option<u64> {
        self.unreported += 1;
        let due = self
            .last_line
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last_line = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_costs_one_line_per_interval_and_loses_no_count() {
        let start = Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(10));
        let mut lines = Vec::new();
        // 1,000 events 25 ms apart: 25 s of flood.
        for step in 0..1000u32 {
            let now = start + Duration::from_millis(25) * step;
            if let Some(count) = throttle.record(now) {
                lines.push(count);
            }
        }
        assert_eq!(lines, vec![1, 400, 400]);
        // The 199 events after the last line are reported by the next one.
        let later = start + Duration::from_secs(60);
        assert_eq!(throttle.record(later), Some(200));
    }
}
