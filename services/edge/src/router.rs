//! Routes, shared handler state, CORS and the response helpers used by every handler.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{Any, CorsLayer};

use crate::{EdgeConfig, EdgeDeps};

/// State shared by the handlers.
pub struct Edge {
    /// Settings.
    pub config: Arc<EdgeConfig>,
    /// Backends.
    pub deps: EdgeDeps,
}

/// The edge's HTTP routes.
pub fn build(config: Arc<EdgeConfig>, deps: EdgeDeps) -> Router {
    let edge = Arc::new(Edge { config, deps });
    // Players are served from other origins (web pages, CDNs), and no credentials are involved.
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
    ]);
    // axum refuses `{id}.flv` as a route, so the whole segment is captured and split later.
    let routes = Router::new()
        .route("/hls/{playback_id}/{file}", get(crate::hls::serve))
        .route("/live/{file}", get(crate::flv::serve))
        .layer(cors);
    crate::metrics::HTTP.wrap(routes).with_state(edge)
}

/// A plain-text error with no caching, so a CDN does not pin a transient failure.
pub fn error(status: StatusCode, message: &'static str) -> Response {
    let headers = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    (status, headers, message).into_response()
}

/// How long a client should wait before asking again after a 503: the directory's cache and
/// control's restart are in seconds.
const RETRY_AFTER_S: &str = "2";

/// The stream id of `playback_id`, or the response to send instead: 404 when the directory
/// says no such stream exists, 503 with `Retry-After` when it cannot tell (control unreachable
/// and the id not cached), so players and CDNs retry instead of giving up.
pub async fn resolve(edge: &Edge, playback_id: &str) -> Result<String, Response> {
    match edge.deps.directory.resolve_playback(playback_id).await {
        Ok(Some(stream_id)) => Ok(stream_id),
        Ok(None) => Err(not_found()),
        Err(failure) => {
            tracing::warn!(playback_id, error = %failure, "stream directory unavailable");
            Err(unavailable("stream directory unavailable\n"))
        }
    }
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
