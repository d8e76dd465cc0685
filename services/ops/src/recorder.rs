//! The process-wide Prometheus recorder, and the collectors that set gauges at scrape time.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

/// Upper bounds of every `_seconds` histogram.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A gauge not set for this long leaves the exposition: how per-stream series of ended
/// streams go away. Every gauge is set by a [`Collector`] at each scrape, so live ones never
/// age out.
pub const GAUGE_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Sets gauges from live state just before `/metrics` renders.
pub type Collector = Arc<dyn Fn() + Send + Sync>;

/// Installs the global recorder. Fails if one is installed already.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    PrometheusBuilder::new()
        .set_buckets(SECONDS_BUCKETS)?
        .idle_timeout(MetricKindMask::GAUGE, Some(GAUGE_IDLE_TIMEOUT))
        .install_recorder()
}
