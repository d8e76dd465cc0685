//! The error responses every handler sends: plain text, never cached, so a CDN does not pin a
//! passing failure.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How long a client should wait before asking again after a 503: the directory's cache and
/// control's restart are in seconds.
const RETRY_AFTER_S: &str = "2";

/// A plain-text error with no caching, so a CDN does not pin a transient failure.
pub fn error(status: StatusCode, message: &'static str) -> Response {
    let headers = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    (status, headers, message).into_response()
}

/// 503 with `Retry-After`, uncached: a passing backend failure.
pub fn unavailable(message: &'static str) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
    response
}

/// 404 for unknown or offline streams and missing files.
pub fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found\n")
}
