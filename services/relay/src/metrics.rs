//! Relay metrics: the origin's side of the relay (`ferrocast_origin_relay_*`) and the edge's
//! (`ferrocast_edge_relay_*`). Gauges are counts kept here and set when scraped.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrocast_ops::LiveCount;

use crate::RelayError;

const ORIGIN_SUBSCRIPTIONS: &str = "ferrocast_origin_relay_subscriptions";
const ORIGIN_EGRESS_BYTES: &str = "ferrocast_origin_relay_egress_bytes_total";
const ORIGIN_FRAMES_DROPPED: &str = "ferrocast_origin_relay_frames_dropped_total";
const ORIGIN_PART_SUBSCRIPTIONS: &str = "ferrocast_origin_relay_part_subscriptions";
const ORIGIN_PART_LAGGED: &str = "ferrocast_origin_relay_part_subscribers_lagged_total";
const EDGE_PART_LOGS: &str = "ferrocast_edge_relay_part_logs";
const EDGE_PARTS_RECEIVED: &str = "ferrocast_edge_relay_parts_received_total";
const EDGE_PART_RESUBSCRIBES: &str = "ferrocast_edge_relay_part_resubscribes_total";
const EDGE_PART_LAG: &str = "ferrocast_edge_relay_part_lag_seconds";
const EDGE_SUBSCRIPTIONS: &str = "ferrocast_edge_relay_subscriptions";
const EDGE_LAG: &str = "ferrocast_edge_relay_lag_seconds";
const EDGE_FAILURES: &str = "ferrocast_edge_relay_failures_total";
const FAILURE_KINDS: [&str; 3] = ["lookup", "connect", "stream"];

/// Edges subscribed at this origin now.
pub(crate) static SERVED_SUBSCRIPTIONS: LiveCount = LiveCount::new();
/// Upstream pulls this edge runs now.
pub(crate) static PULLS: LiveCount = LiveCount::new();
/// Edges subscribed to part logs here now.
pub(crate) static SERVED_PART_SUBSCRIPTIONS: LiveCount = LiveCount::new();
/// Part logs this edge mirrors now.
pub(crate) static PART_MIRRORS: LiveCount = LiveCount::new();

/// Describes the origin-side metrics and registers them at zero.
pub fn describe_origin() {
    metrics::describe_gauge!(
        ORIGIN_SUBSCRIPTIONS,
        "Edges subscribed to live streams here."
    );
    metrics::describe_counter!(
        ORIGIN_EGRESS_BYTES,
        metrics::Unit::Bytes,
        "FLV tag bytes sent to edges."
    );
    metrics::describe_counter!(
        ORIGIN_FRAMES_DROPPED,
        "Frames an edge subscription skipped after falling behind."
    );
    metrics::describe_gauge!(
        ORIGIN_PART_SUBSCRIPTIONS,
        "Edges subscribed to part logs (LL-HLS) here."
    );
    metrics::describe_counter!(
        ORIGIN_PART_LAGGED,
        "Part-log subscriptions ended because the edge fell a whole ring behind."
    );
    metrics::counter!(ORIGIN_EGRESS_BYTES).absolute(0);
    metrics::counter!(ORIGIN_FRAMES_DROPPED).absolute(0);
    metrics::counter!(ORIGIN_PART_LAGGED).absolute(0);
}

/// Sets the origin-side gauges; call at scrape time.
pub fn collect_origin() {
    let count = SERVED_SUBSCRIPTIONS.get();
    metrics::gauge!(ORIGIN_SUBSCRIPTIONS).set(count as f64);
    let parts = SERVED_PART_SUBSCRIPTIONS.get();
    metrics::gauge!(ORIGIN_PART_SUBSCRIPTIONS).set(parts as f64);
}

/// Describes the edge-side metrics and registers them at zero.
pub fn describe_edge() {
    metrics::describe_gauge!(
        EDGE_SUBSCRIPTIONS,
        "Upstream relay subscriptions, one per watched stream."
    );
    metrics::describe_histogram!(
        EDGE_LAG,
        metrics::Unit::Seconds,
        "Time from the origin sending a frame to this edge receiving it."
    );
    metrics::describe_counter!(EDGE_FAILURES, "Relay upstream failures by kind.");
    metrics::describe_gauge!(EDGE_PART_LOGS, "Part logs (LL-HLS) mirrored from origins.");
    metrics::describe_counter!(
        EDGE_PARTS_RECEIVED,
        "CMAF parts received from origins' part logs, replays included."
    );
    metrics::describe_counter!(
        EDGE_PART_RESUBSCRIBES,
        "Part-log subscriptions lost and resubscribed (the log was cut off meanwhile)."
    );
    metrics::describe_histogram!(
        EDGE_PART_LAG,
        metrics::Unit::Seconds,
        "Time from the origin sending a part-log event to this edge receiving it."
    );
    metrics::counter!(EDGE_PARTS_RECEIVED).absolute(0);
    metrics::counter!(EDGE_PART_RESUBSCRIBES).absolute(0);
    for kind in FAILURE_KINDS {
        metrics::counter!(EDGE_FAILURES, "kind" => kind).absolute(0);
    }
}

/// Sets the edge-side gauges; call at scrape time.
pub fn collect_edge() {
    metrics::gauge!(EDGE_SUBSCRIPTIONS).set(PULLS.get() as f64);
    metrics::gauge!(EDGE_PART_LOGS).set(PART_MIRRORS.get() as f64);
}

pub(crate) fn part_subscriber_lagged() {
    metrics::counter!(ORIGIN_PART_LAGGED).increment(1);
}

/// The edge's part-log lag histogram; each mirror holds a handle.
pub(crate) fn part_lag() -> metrics::Histogram {
    metrics::histogram!(EDGE_PART_LAG)
}

/// The edge's received-parts counter; each mirror holds a handle.
pub(crate) fn parts_received() -> metrics::Counter {
    metrics::counter!(EDGE_PARTS_RECEIVED)
}

pub(crate) fn part_resubscribed() {
    metrics::counter!(EDGE_PART_RESUBSCRIBES).increment(1);
}

/// The origin's relay egress counter; each subscription holds a handle, so a frame costs one
/// atomic add instead of a registry lookup.
pub(crate) fn edge_egress() -> metrics::Counter {
    metrics::counter!(ORIGIN_EGRESS_BYTES)
}

pub(crate) fn dropped_for_edge(frames: u64) {
    metrics::counter!(ORIGIN_FRAMES_DROPPED).increment(frames);
}

/// The edge's relay lag histogram; each pull holds a handle.
pub(crate) fn relay_lag() -> metrics::Histogram {
    metrics::histogram!(EDGE_LAG)
}

/// Records the lag of a frame stamped `sent_at_unix_us` (0: an origin that does not stamp).
pub(crate) fn record_lag(lag: &metrics::Histogram, sent_at_unix_us: u64) {
    if sent_at_unix_us == 0 {
        return;
    }
    let lag_us = unix_micros().saturating_sub(sent_at_unix_us);
    lag.record(lag_us as f64 / 1e6);
}

/// Counts an upstream failure; an offline stream or a shutdown is not one.
pub(crate) fn upstream_failed(error: &RelayError) {
    let kind = match error {
        RelayError::Owners(_) => "lookup",
        RelayError::InvalidUrl { .. }
        | RelayError::Timeout { .. }
        | RelayError::Connect { .. }
        | RelayError::Subscribe { .. } => "connect",
        RelayError::InvalidFrame(_) | RelayError::InvalidLogMessage(_) => "stream",
        _ => return,
    };
    metrics::counter!(EDGE_FAILURES, "kind" => kind).increment(1);
}

/// A relay stream broke after it started.
pub(crate) fn stream_broke() {
    metrics::counter!(EDGE_FAILURES, "kind" => "stream").increment(1);
}

/// Wall-clock now in Unix microseconds.
pub(crate) fn unix_micros() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_micros()).unwrap_or(u64::MAX)
}
