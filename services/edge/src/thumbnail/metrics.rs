//! Thumbnail metrics (`ferrocast_edge_thumbnail_*`): decodes and their time, cache hits,
//! requests that waited on another's decode, and refusals by reason.

use std::time::Duration;

use metrics::Unit;

use super::worker::Refusal;

const DECODES: &str = "ferrocast_edge_thumbnail_decodes_total";
const DECODE_TIME: &str = "ferrocast_edge_thumbnail_decode_seconds";
const CACHE_HITS: &str = "ferrocast_edge_thumbnail_cache_hits_total";
const WAITS: &str = "ferrocast_edge_thumbnail_waits_total";
const REFUSED: &str = "ferrocast_edge_thumbnail_refused_total";

/// Describes the thumbnail metrics and registers them at zero.
pub(crate) fn describe() {
    metrics::describe_counter!(
        DECODES,
        "Keyframes decoded into thumbnails, by outcome (ok, failed)."
    );
    metrics::describe_histogram!(
        DECODE_TIME,
        Unit::Seconds,
        "Time of one thumbnail on the worker thread: decode, scale and JPEG encode."
    );
    metrics::describe_counter!(CACHE_HITS, "Thumbnail requests served from memory.");
    metrics::describe_counter!(
        WAITS,
        "Thumbnail requests that waited for a decode another request started (single flight)."
    );
    metrics::describe_counter!(
        REFUSED,
        "Thumbnail decodes refused with 503, by reason (queue: edge.thumbnails.max_queued, rate: edge.thumbnails.max_decodes_per_second)."
    );
    for outcome in ["ok", "failed"] {
        metrics::counter!(DECODES, "outcome" => outcome).absolute(0);
    }
    for reason in [Refusal::QueueFull, Refusal::Rate] {
        metrics::counter!(REFUSED, "reason" => label(reason)).absolute(0);
    }
    metrics::counter!(CACHE_HITS).absolute(0);
    metrics::counter!(WAITS).absolute(0);
}

fn label(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::QueueFull => "queue",
        Refusal::Rate => "rate",
    }
}

/// Counts one decode and records its time.
pub(crate) fn decoded(elapsed: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::counter!(DECODES, "outcome" => outcome).increment(1);
    metrics::histogram!(DECODE_TIME).record(elapsed.as_secs_f64());
}

/// Counts a request answered from the cache.
pub(crate) fn cache_hit() {
    metrics::counter!(CACHE_HITS).increment(1);
}

/// Counts a request that joined a decode in flight.
pub(crate) fn waited() {
    metrics::counter!(WAITS).increment(1);
}

/// Counts a refused decode.
pub(crate) fn refused(refusal: Refusal) {
    metrics::counter!(REFUSED, "reason" => label(refusal)).increment(1);
}
