//! Edge settings.

use std::time::Duration;

use ferrocast_ops::http::ConnectionLimits;
use serde::{Deserialize, Serialize};

/// How HTTP-FLV viewers are bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlvViewerLimits {
    /// A viewer this far behind live skips to the next keyframe.
    #[serde(with = "humantime_serde")]
    pub max_lag: Duration,
    /// A viewer that has to skip this many times within `skip_window` is cut.
    pub max_skips: usize,
    /// The window for `max_skips`.
    #[serde(with = "humantime_serde")]
    pub skip_window: Duration,
    /// A socket write that makes no progress for this long cuts the connection.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
}

impl Default for FlvViewerLimits {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_secs(5),
            max_skips: 3,
            skip_window: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything an edge needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// Segments listed in a playlist.
    pub hls_window: usize,
    /// Lower bound of `EXT-X-TARGETDURATION`, seconds (the packager's target duration).
    pub hls_min_target_duration_s: u64,
    /// HTTP-FLV viewer bounds.
    pub flv: FlvViewerLimits,
    /// Header-read and idle timeouts and the connection cap of the HTTP port.
    pub http: ConnectionLimits,
    /// After shutdown starts, how long in-flight requests may finish; HTTP-FLV viewers still
    /// connected then are closed.
    #[serde(with = "humantime_serde")]
    pub request_drain_deadline: Duration,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            hls_window: 6,
            hls_min_target_duration_s: 2,
            flv: FlvViewerLimits::default(),
            http: ConnectionLimits::default(),
            request_drain_deadline: Duration::from_secs(10),
        }
    }
}
