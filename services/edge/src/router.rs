//! Routes and CORS: which handler serves which path.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, header};
use axum::routing::get;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

use crate::state::Edge;

/// The edge's HTTP routes.
pub fn build(edge: Arc<Edge>) -> Router {
    let watch = crate::watch::Watch::load(&edge.config.watch);
    let home = edge.deps.home.clone();
    let cors = cors();
    // axum refuses `{id}.flv` (and `{id}.jpg`) as a route, so the whole segment is captured and split later.
    let routes = Router::new()
        .route("/hls/{playback_id}/{file}", get(crate::hls::serve))
        .route("/live/{file}", get(crate::flv::serve))
        .route("/thumbnail/{file}", get(crate::thumbnail::serve))
        .route("/ll/{playback_id}/{file}", get(crate::ll::serve))
        .route(
            "/ll/{playback_id}/{epoch}/{file}",
            get(crate::ll::serve_object),
        )
        .route(
            "/vod/{playback_id}/{recording_id}/{file}",
            get(crate::vod::serve),
        )
        .route("/watch/{playback_id}", watch.page_route())
        .route("/watch/assets/{file}", watch.assets_route());
    let routes = match home {
        Some(playback_id) => routes.route("/", crate::watch::home_route(&playback_id)),
        None => routes,
    };
    let routes = routes.layer(cors);
    crate::metrics::HTTP.wrap(routes).with_state(edge)
}

/// How long a browser may reuse a preflight answer: Chromium's cap (Firefox allows a day).
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(7200);

/// CORS for players on any page: any origin, never credentials (no cookies anywhere), the
/// request headers a player adds (`Authorization` for a token, `Range`) echoed back in the
/// preflight, and `Content-Range` readable by scripts that fetch byte ranges.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        // Echoing varies the answer by the request's headers, which the layer's `Vary` says.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::CONTENT_LENGTH, header::CONTENT_RANGE])
        .max_age(PREFLIGHT_MAX_AGE)
}
