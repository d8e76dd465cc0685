//! Webhook metrics (`ferrocast_control_webhook_*`): events queued, attempts and their
//! outcomes, deliveries, give-ups, drops, and the queue's length and oldest age.

use std::time::Duration;

use metrics::Unit;

use super::event::EventKind;

const EVENTS: &str = "ferrocast_control_webhook_events_total";
const ATTEMPTS: &str = "ferrocast_control_webhook_attempts_total";
const ATTEMPT_DURATION: &str = "ferrocast_control_webhook_attempt_duration_seconds";
const DELIVERIES: &str = "ferrocast_control_webhook_deliveries_total";
const FAILURES: &str = "ferrocast_control_webhook_failures_total";
const DROPPED: &str = "ferrocast_control_webhook_dropped_total";
const QUEUE_ERRORS: &str = "ferrocast_control_webhook_queue_errors_total";
const QUEUED: &str = "ferrocast_control_webhook_queued_events";
const OLDEST: &str = "ferrocast_control_webhook_oldest_event_age_seconds";

/// How one attempt ended (the `outcome` label of attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx.
    Delivered,
    /// Another status.
    Status,
    /// No answer within `attempt_timeout`.
    Timeout,
    /// Connecting or sending failed.
    Network,
    /// No replica-local or stored target has the claimed id.
    UnknownTarget,
}

impl Attempt {
    const ALL: [Attempt; 5] = [
        Attempt::Delivered,
        Attempt::Status,
        Attempt::Timeout,
        Attempt::Network,
        Attempt::UnknownTarget,
    ];

    fn label(self) -> &'static str {
        match self {
            Attempt::Delivered => "delivered",
            Attempt::Status => "status",
            Attempt::Timeout => "timeout",
            Attempt::Network => "network",
            Attempt::UnknownTarget => "unknown_target",
        }
    }
}

/// Describes every webhook metric and registers the fixed-label ones at zero.
pub fn describe() {
    metrics::describe_counter!(EVENTS, "Webhook events queued (once per id), by type.");
    metrics::describe_counter!(ATTEMPTS, "Webhook delivery attempts, by outcome.");
    metrics::describe_histogram!(
        ATTEMPT_DURATION,
        Unit::Seconds,
        "Time of one webhook delivery attempt."
    );
    metrics::describe_counter!(
        DELIVERIES,
        "Webhook events finished per target: delivered, or given up after max_age."
    );
    metrics::describe_counter!(FAILURES, "Webhook attempts that failed (will be retried).");
    metrics::describe_counter!(
        DROPPED,
        "Webhook events dropped, oldest first, from a target's full queue (max_queue)."
    );
    metrics::describe_counter!(
        QUEUE_ERRORS,
        "Webhook events that could not be queued (Redis failed)."
    );
    metrics::describe_gauge!(QUEUED, "Webhook events waiting, over all targets.");
    metrics::describe_gauge!(
        OLDEST,
        Unit::Seconds,
        "Age of the oldest webhook event waiting (0 when none)."
    );
    for kind in EventKind::ALL {
        metrics::counter!(EVENTS, "type" => kind.as_str()).absolute(0);
    }
    for attempt in Attempt::ALL {
        metrics::counter!(ATTEMPTS, "outcome" => attempt.label()).absolute(0);
    }
    for outcome in ["delivered", "gave_up"] {
        metrics::counter!(DELIVERIES, "outcome" => outcome).absolute(0);
    }
    metrics::counter!(FAILURES).absolute(0);
    metrics::counter!(DROPPED).absolute(0);
    metrics::counter!(QUEUE_ERRORS).absolute(0);
}

/// Counts an event queued.
pub fn queued(kind: &str, count: u64) {
    if count > 0 {
        metrics::counter!(EVENTS, "type" => type_label(kind)).increment(count);
    }
}

/// Counts events dropped from full queues.
pub fn dropped(count: u64) {
    if count > 0 {
        metrics::counter!(DROPPED).increment(count);
    }
}

/// Counts an event that could not be queued.
pub fn queue_failed() {
    metrics::counter!(QUEUE_ERRORS).increment(1);
}

/// Counts and times one attempt.
pub fn attempted(attempt: Attempt, took: Duration) {
    metrics::counter!(ATTEMPTS, "outcome" => attempt.label()).increment(1);
    metrics::histogram!(ATTEMPT_DURATION).record(took.as_secs_f64());
    if attempt != Attempt::Delivered {
        metrics::counter!(FAILURES).increment(1);
    }
}

/// Counts an event finished for a target.
pub fn finished(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "gave_up" };
    metrics::counter!(DELIVERIES, "outcome" => outcome).increment(1);
}

/// Sets the queue gauges.
pub fn queue(events: u64, oldest_age: Duration) {
    metrics::gauge!(QUEUED).set(events as f64);
    metrics::gauge!(OLDEST).set(oldest_age.as_secs_f64());
}

/// A bounded label: a known type, else `other`.
fn type_label(kind: &str) -> &'static str {
    EventKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .find(|name| *name == kind)
        .unwrap_or("other")
}
