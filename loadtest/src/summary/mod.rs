//! The JSON summary of a run (schema in `loadtest/README.md`), built from [`Stats`] at the end.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::errors::{ErrorKind, Errors};
use crate::stats::Stats;

mod ll;
mod roles;

pub use ll::LlSummary;
use ll::ll;
pub use roles::{HlsSummary, PlaySummary, PublishSummary};
use roles::{hls, play, publish};

/// Version of the summary layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Percentiles of a distribution, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    /// Number of samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

/// Percentiles of a histogram of microseconds; `None` when it is empty.
pub fn percentiles(histogram: &Histogram<u64>) -> Option<Percentiles> {
    if histogram.is_empty() {
        return None;
    }
    let ms = |us: u64| round3(us as f64 / 1000.0);
    // hdrhistogram reports the highest value equivalent to the recorded one (within 1%).
    let at = |quantile: f64| ms(histogram.value_at_quantile(quantile));
    Some(Percentiles {
        count: histogram.len(),
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: ms(histogram.max()),
        mean_ms: round3(histogram.mean() / 1000.0),
    })
}

pub(crate) fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

pub(crate) fn per_second(bytes: u64, elapsed_s: f64) -> f64 {
    if elapsed_s <= 0.0 {
        return 0.0;
    }
    (bytes as f64 / elapsed_s).round()
}

/// The whole summary.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Wall-clock start, Unix milliseconds.
    pub started_at_unix_ms: u64,
    /// Seconds from start to the end of the run.
    pub elapsed_s: f64,
    /// What was asked for.
    pub config: RunConfig,
    /// RTMP publishers.
    pub publishers: PublishSummary,
    /// HTTP-FLV viewers.
    pub flv: PlaySummary,
    /// RTMP players.
    pub rtmp: PlaySummary,
    /// HLS viewers.
    pub hls: HlsSummary,
    /// LL-HLS viewers.
    pub ll: LlSummary,
    /// Bytes received per second, all connections (viewers and publishers).
    pub bytes_in_per_s: f64,
    /// Bytes sent per second, all publishers.
    pub bytes_out_per_s: f64,
    /// Failures of every role.
    pub errors_total: u64,
}

/// The run's parameters.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// Requested duration, seconds.
    pub duration_s: f64,
    /// Runtime worker threads.
    pub threads: usize,
    /// Publishers started.
    pub publishers: usize,
    /// HTTP-FLV viewers started.
    pub flv_viewers: usize,
    /// HLS viewers started.
    pub hls_viewers: usize,
    /// RTMP players started.
    pub rtmp_players: usize,
    /// LL-HLS viewers started.
    pub ll_viewers: usize,
}

/// Errors of one role.
#[derive(Debug, Serialize)]
pub struct ErrorSummary {
    /// Count by kind (every kind listed, zeros included).
    pub by_kind: BTreeMap<&'static str, u64>,
    /// The first message of each kind that occurred.
    pub first: BTreeMap<&'static str, String>,
    /// Sum of `by_kind`.
    pub total: u64,
}

pub(crate) fn errors(errors: &Errors) -> ErrorSummary {
    ErrorSummary {
        by_kind: ErrorKind::ALL
            .iter()
            .map(|&kind| (kind.name(), errors.count(kind)))
            .collect(),
        first: errors
            .first_messages()
            .into_iter()
            .map(|(kind, message)| (kind.name(), message))
            .collect(),
        total: errors.total(),
    }
}

/// Builds the summary of a finished run.
pub fn build(stats: &Stats, config: RunConfig, started_at_unix_ms: u64, elapsed_s: f64) -> Summary {
    let publishers = publish(&stats.publish, config.publishers, elapsed_s);
    let flv = play(&stats.flv, config.flv_viewers, elapsed_s);
    let rtmp = play(&stats.rtmp, config.rtmp_players, elapsed_s);
    let hls = hls(&stats.hls, config.hls_viewers, elapsed_s);
    let ll = ll(&stats.ll, config.ll_viewers, elapsed_s);
    let bytes_in = flv.bytes_in + rtmp.bytes_in + hls.bytes_in + ll.bytes_in + publishers.bytes_in;
    let errors_total = publishers.errors.total
        + flv.errors.total
        + rtmp.errors.total
        + hls.errors.total
        + ll.errors.total;
    Summary {
        schema_version: SCHEMA_VERSION,
        started_at_unix_ms,
        elapsed_s: round3(elapsed_s),
        bytes_in_per_s: per_second(bytes_in, elapsed_s),
        bytes_out_per_s: publishers.bytes_out_per_s,
        config,
        publishers,
        flv,
        rtmp,
        hls,
        ll,
        errors_total,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn percentiles_of_one_to_a_thousand_ms() {
        let mut histogram = new_histogram();
        for ms in 1..=1000u64 {
            histogram.record(ms * 1000).unwrap();
        }
        let p = percentiles(&histogram).unwrap();
        assert_eq!(p.count, 1000);
        // Two significant digits: within 1% of the exact order statistic.
        for (got, exact) in [(p.p50_ms, 500.0), (p.p95_ms, 950.0), (p.p99_ms, 990.0)] {
            assert!((got - exact).abs() <= exact * 0.01, "{got} vs {exact}");
        }
        assert!((p.max_ms - 1000.0).abs() <= 10.0, "{}", p.max_ms);
        assert!((p.mean_ms - 500.5).abs() <= 5.0, "{}", p.mean_ms);
    }

    #[test]
    fn percentiles_of_a_skewed_distribution() {
        let mut histogram = new_histogram();
        histogram.record_n(2_000, 98).unwrap();
        histogram.record_n(900_000, 2).unwrap();
        let p = percentiles(&histogram).unwrap();
        assert!((p.p50_ms - 2.0).abs() < 0.05, "{}", p.p50_ms);
        assert!((p.p95_ms - 2.0).abs() < 0.05, "{}", p.p95_ms);
        assert!((p.p99_ms - 900.0).abs() < 9.0, "{}", p.p99_ms);
    }

    #[test]
    fn no_samples_means_null() {
        assert_eq!(percentiles(&new_histogram()), None);
        let summary = build(
            &Stats::new(),
            RunConfig {
                duration_s: 1.0,
                threads: 1,
                publishers: 0,
                flv_viewers: 0,
                hls_viewers: 0,
                rtmp_players: 0,
                ll_viewers: 0,
            },
            0,
            1.0,
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert!(json["hls"]["latency_ms"].is_null());
        assert!(json["ll"]["part_latency_ms"].is_null());
        assert_eq!(json["ll"]["min_parts_per_viewer"], 0);
        assert_eq!(json["flv"]["min_video_frames_per_viewer"], 0);
        assert_eq!(json["flv"]["errors"]["by_kind"]["timeout"], 0);
        assert_eq!(json["schema_version"], SCHEMA_VERSION);
    }
}
