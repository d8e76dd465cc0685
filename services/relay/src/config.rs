//! Deadlines and limits of the edge side of the relay, and transport settings both sides share.

use std::time::Duration;

use ferrocast_live::HubLimits;
use ferrocast_media::ll::LogConfig;

/// HTTP/2 keep-alive ping interval on relay connections, so that a peer that vanished without
/// closing its socket (power loss, partition) is noticed and its resources freed.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a keep-alive ping may go unanswered before the connection is dropped.
pub(crate) const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How an edge pulls streams from origins.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Deadline for asking the owner registry which origin serves a stream.
    pub resolve_timeout: Duration,
    /// Deadline for the TCP + HTTP/2 connection to an origin.
    pub connect_timeout: Duration,
    /// Deadline for the `Subscribe` call and its first frame.
    pub first_frame_timeout: Duration,
    /// An upstream silent this long is treated as broken (and resubscribed): a live stream
    /// carries frames many times a second, so silence means a stuck connection or origin.
    pub upstream_silence: Duration,
    /// Total time allowed to find the stream again after its upstream failed or its origin
    /// ended it; viewers stay connected meanwhile and the stream ends if this runs out. Must
    /// be at least the origin's `reconnect_window`, or an edge ends a stream whose publisher
    /// is still allowed to come back.
    pub resubscribe_for: Duration,
    /// Stop pulling a stream nobody on this edge has watched for this long.
    pub idle_stop: Duration,
    /// Limits of the local hubs that fan pulled streams out to viewers.
    pub hub_limits: HubLimits,
    /// Settings of the part logs mirrored from origins (`edge.ll_hls.max_window_bytes` is
    /// its byte cap).
    pub part_log: LogConfig,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            resolve_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            first_frame_timeout: Duration::from_secs(5),
            upstream_silence: Duration::from_secs(10),
            resubscribe_for: Duration::from_secs(60),
            idle_stop: Duration::from_secs(30),
            hub_limits: HubLimits::default(),
            part_log: LogConfig::default(),
        }
    }
}

impl RelayConfig {
    /// The longest a viewer waits for an upstream pull to start: every step has its own
    /// deadline, this is the backstop in case a step misbehaves.
    pub(crate) fn start_deadline(&self) -> Duration {
        self.resolve_timeout + self.connect_timeout + self.first_frame_timeout + SLACK
    }

    /// How often a pull looks at its viewer count: often enough that `idle_stop` is honoured
    /// to within a quarter of itself, and at least once a second.
    pub(crate) fn idle_check_period(&self) -> Duration {
        (self.idle_stop / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// Extra time over the sum of the step deadlines, for scheduling delays.
const SLACK: Duration = Duration::from_secs(1);
