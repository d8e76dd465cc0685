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

/// 404 for unknown or offline streams and missing files.
pub fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found\n")
}
