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
    let edge = Arc::new(Edge { config, deps });
    // Players are served from other origins (web pages, CDNs), and no credentials are involved.
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
    ]);
    let watch = crate::watch::Watch::load(&crate::watch::WatchConfig::default());
    // axum refuses `{id}.flv` as a route, so the whole segment is captured and split later.
    let routes = Router::new()
        .route("/hls/{playback_id}/{file}", get(crate::hls::serve))
        .route("/live/{file}", get(crate::flv::serve))
        .route("/watch/{playback_id}", watch.page_route())
        .route("/watch/assets/{file}", watch.assets_route())
        .layer(cors);
    crate::metrics::HTTP.wrap(routes).with_state(edge)
}
