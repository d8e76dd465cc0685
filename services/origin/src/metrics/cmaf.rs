//! The origin's CMAF metrics (`ferrocast_origin_cmaf_*`, the part log's errors): the objects
//! the low-latency lane stores, and how the recorded listing waits for them.

use std::time::Duration;

use metrics::Unit;

const CMAF_OBJECTS_STORED: &str = "ferrocast_origin_cmaf_objects_stored_total";
const CMAF_PUT_FAILURES: &str = "ferrocast_origin_cmaf_put_failures_total";
const CMAF_OBJECTS_DROPPED: &str = "ferrocast_origin_cmaf_objects_dropped_total";
const CMAF_SETTLE_TIMEOUTS: &str = "ferrocast_origin_cmaf_settle_timeouts_total";
const CMAF_UPLOAD_BYTES: &str = "ferrocast_origin_cmaf_upload_bytes_total";
const CMAF_UPLOAD_DURATION: &str = "ferrocast_origin_cmaf_upload_duration_seconds";
const PART_LOG_ERRORS: &str = "ferrocast_origin_part_log_errors_total";
const CMAF_KINDS: [&str; 2] = ["segment", "init"];

/// Describes the CMAF metrics and registers the label-free and fixed-label ones at zero.
pub(super) fn describe() {
    metrics::describe_counter!(
        CMAF_OBJECTS_STORED,
        "CMAF objects stored, by kind: a track's segment, or an init segment."
    );
    metrics::describe_counter!(
        CMAF_PUT_FAILURES,
        "Failed CMAF object PUT tries, by kind (each is retried)."
    );
    metrics::describe_counter!(
        CMAF_OBJECTS_DROPPED,
        "CMAF objects dropped before they were stored: a buffer bound, a taken name, or a \
         newer session."
    );
    metrics::describe_counter!(
        CMAF_SETTLE_TIMEOUTS,
        "Recorded segments listed before their CMAF objects were stored or dropped (after 1 s): \
         the recording's CMAF playlists leave them out."
    );
    metrics::describe_counter!(
        CMAF_UPLOAD_BYTES,
        Unit::Bytes,
        "Bytes of CMAF objects stored."
    );
    metrics::describe_histogram!(
        CMAF_UPLOAD_DURATION,
        Unit::Seconds,
        "CMAF object PUT time, the store's own retries included."
    );
    metrics::describe_counter!(
        PART_LOG_ERRORS,
        "Packager events a stream's part log refused (a bug: see the origin's error log)."
    );
    for name in [
        CMAF_OBJECTS_DROPPED,
        CMAF_SETTLE_TIMEOUTS,
        CMAF_UPLOAD_BYTES,
        PART_LOG_ERRORS,
    ] {
        metrics::counter!(name).absolute(0);
    }
    for kind in CMAF_KINDS {
        metrics::counter!(CMAF_OBJECTS_STORED, "kind" => kind).absolute(0);
        metrics::counter!(CMAF_PUT_FAILURES, "kind" => kind).absolute(0);
    }
}

/// `kind` is `segment` or `init`.
pub(crate) fn cmaf_object_stored(kind: &'static str, took: Duration, bytes: usize) {
    metrics::histogram!(CMAF_UPLOAD_DURATION).record(took.as_secs_f64());
    metrics::counter!(CMAF_OBJECTS_STORED, "kind" => kind).increment(1);
    metrics::counter!(CMAF_UPLOAD_BYTES).increment(bytes as u64);
}

/// `kind` is `segment` or `init`.
pub(crate) fn cmaf_object_failed(kind: &'static str) {
    metrics::counter!(CMAF_PUT_FAILURES, "kind" => kind).increment(1);
}

pub(crate) fn cmaf_objects_dropped(objects: usize) {
    if objects > 0 {
        metrics::counter!(CMAF_OBJECTS_DROPPED).increment(objects as u64);
    }
}

pub(crate) fn cmaf_settle_timed_out() {
    metrics::counter!(CMAF_SETTLE_TIMEOUTS).increment(1);
}

pub(crate) fn part_log_error() {
    metrics::counter!(PART_LOG_ERRORS).increment(1);
}
