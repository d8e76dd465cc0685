//! Connection metrics of every server started with [`super::serve`], labelled `listener`:
//! open connections, connections refused at the cap, and connections closed by a timeout.

use std::sync::Mutex;

use crate::LiveCount;

use super::Closed;

const OPEN: &str = "ferrocast_listener_connections";
const REFUSED: &str = "ferrocast_listener_connections_refused_total";
const TIMEOUTS: &str = "ferrocast_listener_timeouts_total";

/// Open-connection counts of every server, set on their gauge at scrape time (a gauge not
/// set for a while leaves the exposition; see [`crate::recorder::GAUGE_IDLE_TIMEOUT`]).
/// One entry per listener name, made once and kept for the life of the process.
static OPEN_COUNTS: Mutex<Vec<(&'static str, &'static LiveCount)>> = Mutex::new(Vec::new());

/// Describes the connection metrics.
pub fn describe() {
    crate::accept::describe();
    metrics::describe_gauge!(OPEN, "Connections open now, by listener.");
    metrics::describe_counter!(
        REFUSED,
        "Connections closed as soon as accepted because the listener's cap was reached."
    );
    metrics::describe_counter!(
        TIMEOUTS,
        "Connections closed for sending no complete request headers in time (kind=header) or for idling between requests (kind=idle)."
    );
}

/// Sets the open-connection gauges; the ops server calls it before every render.
pub(crate) fn collect() {
    let counts = OPEN_COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    for (listener, count) in counts.iter() {
        metrics::gauge!(OPEN, "listener" => *listener).set(count.get() as f64);
    }
}

/// The handles one server records with.
#[derive(Clone)]
pub(crate) struct Counters {
    pub open: &'static LiveCount,
    pub refused: metrics::Counter,
    header_timeouts: metrics::Counter,
    idle_timeouts: metrics::Counter,
}

impl Counters {
    /// Registers the server named `listener`, its counters at zero.
    pub fn new(listener: &'static str) -> Self {
        let open = {
            let mut counts = OPEN_COUNTS.lock().unwrap_or_else(|e| e.into_inner());
            match counts.iter().find(|(name, _)| *name == listener) {
                Some((_, count)) => *count,
                None => {
                    let count: &'static LiveCount = Box::leak(Box::new(LiveCount::new()));
                    counts.push((listener, count));
                    count
                }
            }
        };
        let timeouts = |kind: &'static str| {
            let counter = metrics::counter!(TIMEOUTS, "listener" => listener, "kind" => kind);
            counter.increment(0);
            counter
        };
        let refused = metrics::counter!(REFUSED, "listener" => listener);
        refused.increment(0);
        Self {
            open,
            refused,
            header_timeouts: timeouts("header"),
            idle_timeouts: timeouts("idle"),
        }
    }

    /// Counts how a connection ended.
    pub fn closed(&self, closed: Closed) {
        match closed {
            Closed::HeaderTimeout => self.header_timeouts.increment(1),
            Closed::IdleTimeout => self.idle_timeouts.increment(1),
            Closed::Done | Closed::Failed | Closed::Drained => {}
        }
    }
}
