//! Each publish's ingest bitrate, from its byte count sampled now and at an earlier time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferrocast_base::StreamId;

use crate::PublishReport;

/// The previous byte count of every stream still publishing.
#[derive(Debug, Default)]
pub struct IngestRates {
    previous: HashMap<StreamId, (u64, Instant)>,
}

impl IngestRates {
    /// Bits per second of each report since its previous sample: 0 for a stream seen for the
    /// first time, `None` when its previous sample is younger than `min_window` (that sample
    /// is kept, so the next window is long enough). Streams not in `reports` are forgotten.
    pub fn sample(
        &mut self,
        reports: &[PublishReport],
        now: Instant,
        min_window: Duration,
    ) -> Vec<Option<f64>> {
        let mut next = HashMap::with_capacity(reports.len());
        let rates = reports
            .iter()
            .map(|report| {
                let fresh = (report.bytes_in, now);
                let (rate, kept) = match self.previous.get(&report.stream_id) {
                    None => (Some(0.0), fresh),
                    Some(&(bytes, at)) if now.duration_since(at) < min_window => {
                        (None, (bytes, at))
                    }
                    Some(&(bytes, at)) => {
                        let seconds = now.duration_since(at).as_secs_f64().max(0.001);
                        let bits = report.bytes_in.saturating_sub(bytes) as f64 * 8.0;
                        (Some(bits / seconds), fresh)
                    }
                };
                next.insert(report.stream_id.clone(), kept);
                rate
            })
            .collect();
        self.previous = next;
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stream_id: &str, bytes_in: u64) -> PublishReport {
        PublishReport {
            stream_id: stream_id.into(),
            epoch: ferrocast_base::Epoch(1),
            bytes_in,
            newest_segment_at: Instant::now(),
            media_age: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn rate_over_the_window_and_short_windows_keep_the_old_sample() {
        let mut rates = IngestRates::default();
        let start = Instant::now();
        let window = Duration::from_secs(1);
        assert_eq!(rates.sample(&[report("s", 0)], start, window), [Some(0.0)]);
        let early = start + Duration::from_millis(500);
        assert_eq!(rates.sample(&[report("s", 1000)], early, window), [None]);
        let later = start + Duration::from_secs(2);
        assert_eq!(
            rates.sample(&[report("s", 2000)], later, window),
            [Some(8000.0)]
        );
    }
}
