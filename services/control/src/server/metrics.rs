//! Control metrics (`ferrocast_control_*`): publish decisions, takeovers and restored
//! leases, gRPC and REST calls, Redis failures.

use std::future::Future;
use std::time::Instant;

use axum::extract::Request;
use ferrocast_ops::http_metrics::HttpMetrics;
use metrics::Unit;
use tonic::{Code, Status};

const DECISIONS: &str = "ferrocast_control_publish_decisions_total";
const GRPC_REQUESTS: &str = "ferrocast_control_grpc_requests_total";
const GRPC_DURATION: &str = "ferrocast_control_grpc_request_duration_seconds";
const REDIS_ERRORS: &str = "ferrocast_control_redis_errors_total";
const TAKEOVERS: &str = "ferrocast_control_publish_takeovers_total";
const LEASES_RESTORED: &str = "ferrocast_control_leases_restored_total";
const RECORDINGS_READY: &str = "ferrocast_control_recordings_ready_total";
const RECORDINGS_DELETED: &str = "ferrocast_control_recordings_deleted_total";
const RECORDING_OBJECTS_DELETED: &str = "ferrocast_control_recording_objects_deleted_total";
const REAP_FAILURES: &str = "ferrocast_control_recording_reap_failures_total";

const OUTCOMES: [&str; 6] = [
    "granted",
    "wrong_app",
    "unknown_stream",
    "wrong_key",
    "already_live",
    "unavailable",
];
const METHODS: [&str; 5] = [
    "authorize_publish",
    "end_publish",
    "heartbeat",
    "lookup_stream",
    "get_signing_keys",
];

/// The REST admin API's request metrics.
pub const HTTP: HttpMetrics = HttpMetrics {
    requests: "ferrocast_control_http_requests_total",
    duration: "ferrocast_control_http_request_duration_seconds",
    route_of,
};
const ROUTES: [&str; 11] = [
    "streams",
    "stream",
    "rotate_key",
    "ingest",
    "signing_keys",
    "signing_key",
    "webhooks",
    "webhook",
    "recordings",
    "recording",
    "other",
];

/// Describes every control metric and registers the fixed-label ones at zero.
pub fn describe() {
    metrics::describe_counter!(DECISIONS, "AuthorizePublish answers, by outcome.");
    metrics::describe_counter!(GRPC_REQUESTS, "gRPC calls answered, by method and code.");
    metrics::describe_histogram!(
        GRPC_DURATION,
        Unit::Seconds,
        "gRPC handler time, by method."
    );
    metrics::describe_counter!(REDIS_ERRORS, "Redis calls that failed or timed out.");
    for outcome in OUTCOMES {
        metrics::counter!(DECISIONS, "outcome" => outcome).absolute(0);
    }
    for method in METHODS {
        metrics::counter!(GRPC_REQUESTS, "method" => method, "code" => "ok").absolute(0);
    }
    metrics::describe_counter!(
        TAKEOVERS,
        "Publishes granted by taking over a holder that had no media for takeover_after."
    );
    metrics::describe_counter!(
        LEASES_RESTORED,
        "Lapsed leases restored by their holder's renewal (their epoch was still newest)."
    );
    metrics::describe_counter!(
        RECORDINGS_READY,
        "Recordings announced ready (their playlist ended), by this replica."
    );
    metrics::describe_counter!(
        RECORDINGS_DELETED,
        "Recordings deleted by this replica, by reason (expired, requested)."
    );
    metrics::describe_counter!(
        RECORDING_OBJECTS_DELETED,
        "Objects deleted from the object store with recordings."
    );
    metrics::describe_counter!(
        REAP_FAILURES,
        "Recording deletions that failed (object store or Redis) and will be retried."
    );
    metrics::counter!(RECORDINGS_READY).absolute(0);
    for reason in ["expired", "requested"] {
        metrics::counter!(RECORDINGS_DELETED, "reason" => reason).absolute(0);
    }
    metrics::counter!(RECORDING_OBJECTS_DELETED).absolute(0);
    metrics::counter!(REAP_FAILURES).absolute(0);
    metrics::counter!(REDIS_ERRORS).absolute(0);
    metrics::counter!(TAKEOVERS).absolute(0);
    metrics::counter!(LEASES_RESTORED).absolute(0);
    HTTP.describe(&ROUTES);
    super::webhooks::metrics::describe();
}

/// Runs one gRPC handler, counting and timing it.
pub(super) async fn observed<T>(
    method: &'static str,
    call: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let started = Instant::now();
    let result = call.await;
    let code = match &result {
        Ok(_) => "ok",
        Err(status) => code_label(status.code()),
    };
    metrics::counter!(GRPC_REQUESTS, "method" => method, "code" => code).increment(1);
    metrics::histogram!(GRPC_DURATION, "method" => method).record(started.elapsed().as_secs_f64());
    result
}

/// Counts an AuthorizePublish answer by what it decided.
pub(super) fn publish_decided<T>(answer: &Result<T, Status>) {
    let outcome = match answer {
        Ok(_) => "granted",
        Err(status) => match status.code() {
            Code::InvalidArgument => "wrong_app",
            Code::NotFound => "unknown_stream",
            Code::PermissionDenied => "wrong_key",
            Code::AlreadyExists => "already_live",
            _ => "unavailable",
        },
    };
    metrics::counter!(DECISIONS, "outcome" => outcome).increment(1);
}

/// Counts a takeover of a quiet holder's stream.
pub(crate) fn publish_taken_over() {
    metrics::counter!(TAKEOVERS).increment(1);
}

/// Counts a lapsed lease brought back by its holder's renewal.
pub(crate) fn lease_restored() {
    metrics::counter!(LEASES_RESTORED).increment(1);
}

/// Counts a recording announced ready.
pub(super) fn recording_ready() {
    metrics::counter!(RECORDINGS_READY).increment(1);
}

/// Counts a recording deleted (`expired` or `requested`) with its objects.
pub(super) fn recording_deleted(reason: &'static str, objects: usize) {
    metrics::counter!(RECORDINGS_DELETED, "reason" => reason).increment(1);
    metrics::counter!(RECORDING_OBJECTS_DELETED).increment(objects as u64);
}

/// Counts a recording deletion that failed.
pub(super) fn reap_failed() {
    metrics::counter!(REAP_FAILURES).increment(1);
}

pub(super) fn redis_failed() {
    metrics::counter!(REDIS_ERRORS).increment(1);
}

fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Unavailable => "unavailable",
        Code::Unauthenticated => "unauthenticated",
        Code::Internal => "internal",
        _ => "other",
    }
}

fn route_of(request: &Request) -> &'static str {
    let path = request.uri().path();
    match path.strip_prefix("/v1/") {
        Some("streams") => "streams",
        Some("ingest") => "ingest",
        Some("signing-keys") => "signing_keys",
        Some(rest) if rest.starts_with("signing-keys/") => "signing_key",
        Some("webhooks") => "webhooks",
        Some(rest) if rest.starts_with("webhooks/") => "webhook",
        Some(rest) if rest.starts_with("streams/") && rest.ends_with("/rotate-key") => "rotate_key",
        Some(rest) if rest.starts_with("streams/") && rest.ends_with("/recordings") => "recordings",
        Some(rest) if rest.starts_with("recordings/") => "recording",
        Some(rest) if rest.starts_with("streams/") && !rest["streams/".len()..].contains('/') => {
            "stream"
        }
        _ => "other",
    }
}
