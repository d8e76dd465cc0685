//! Routes and CORS: which handler serves which path.

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::get;
use tower_http::cors::{Any, CorsLayer};

use crate::state::Edge;
use crate::{EdgeConfig, EdgeDeps};

/// The edge's HTTP routes.
pub fn build(config: Arc<EdgeConfig>, deps: EdgeDeps) -> Router {
    let edge = Arc::new(Edge::new(config, deps));
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
        .route("/ll/{playback_id}/{file}", get(crate::ll::serve))
        .route(
            "/ll/{playback_id}/{epoch}/{file}",
            get(crate::ll::serve_object),
        )
        .layer(cors);
    crate::metrics::HTTP.wrap(routes).with_state(edge)
}
