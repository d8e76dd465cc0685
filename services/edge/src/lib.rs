//! The edge: stateless HTTP delivery of HLS (playlists from the index, segments from the
//! object store), recordings as VOD (`vod`), LL-HLS, DASH and the multivariant playlists (from
//! each stream's part log, mirrored from its origin: [`ll`]), HTTP-FLV (from a live source) and
//! thumbnails (a JPEG of a live stream's newest keyframe), behind a CDN. A signed stream's
//! requests need a playback token, verified here with keys polled from control ([`auth`]).
//!
//! Nothing here survives a restart or needs to: every answer is rebuilt from the index, the
//! object store and the live source, and every edge renders the same bytes for the same state.

pub mod auth;
mod config;
mod dvr;
mod flv;
mod flv_direct;
mod hls;
pub mod ll;
pub mod metrics;
mod object;
pub mod parts;
mod reply;
mod router;
mod state;
mod thumbnail;
mod vod;
mod vod_cmaf;
pub mod watch;

use std::sync::Arc;

use ferrocast_base::PlaybackId;
use ferrocast_control_client::StreamDirectory;
use ferrocast_live::{LiveSource, PartSource};
use ferrocast_ops::http::{ServerOptions, Shutdown};
use ferrocast_store::{SegmentCache, SegmentIndex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{EdgeConfig, LlHlsConfig, SignedPlaybackConfig};
pub use ferrocast_ops::http::ConnectionLimits;
pub use thumbnail::{ThumbnailConfig, ThumbnailQuery};

/// What an edge reads from.
#[derive(Clone)]
pub struct EdgeDeps {
    /// Playback id → stream id.
    pub directory: Arc<dyn StreamDirectory>,
    /// Segment lists.
    pub index: Arc<dyn SegmentIndex>,
    /// Segment objects, through a read-through cache with single-flight.
    pub segments: Arc<SegmentCache>,
    /// Live frames for HTTP-FLV.
    pub live: Arc<dyn LiveSource>,
    /// Each stream's part log (LL-HLS, DASH, the multivariant playlists): the relay mirror
    /// (`ferrocast_relay::RelayParts`) in the roles, [`parts::LocalParts`] in the tests.
    pub parts: Arc<dyn PartSource>,
    /// A stream whose watch page `GET /` redirects to: `dev`'s one stream; `None` elsewhere.
    pub home: Option<PlaybackId>,
}

/// Serves HTTP on `listener` until `shutdown` is cancelled, then stops accepting and lets
/// in-flight requests finish for `config.drain.request_deadline`; HTTP-FLV viewers still
/// connected then are closed. Connections are bounded by `config.http` (header-read and idle
/// timeouts, a cap); a viewer that stops reading is cut by `config.write_timeout`.
pub async fn run(
    config: EdgeConfig,
    listener: TcpListener,
    deps: EdgeDeps,
    shutdown: CancellationToken,
) {
    let options = ServerOptions {
        name: "http",
        limits: config.http.clone(),
        write_timeout: config.write_timeout,
        spare_descriptor: false,
    };
    let shutdown = Shutdown {
        token: shutdown,
        drain_deadline: config.drain.request_deadline,
    };
    // The signing keys are polled for as long as the edge serves (its drain included).
    let keys = Arc::new(auth::KeyRing::default());
    let served = CancellationToken::new();
    let refresh = auth::keys::refresh(
        keys.clone(),
        deps.directory.clone(),
        config.signed_playback.keys_refresh,
        served.clone(),
    );
    let edge = Arc::new(state::Edge::new(Arc::new(config), deps, keys));
    let app = router::build(edge.clone());
    // A connection whose first request is for HTTP-FLV is served outside hyper, so that a
    // fan-out lane can write to its socket (ADR 25).
    let direct_flv: Arc<dyn ferrocast_ops::http::Takeover> =
        Arc::new(flv_direct::DirectFlv::new(edge));
    let serve = async {
        ferrocast_ops::http::serve_taking_over(listener, app, Some(direct_flv), options, shutdown)
            .await;
        served.cancel();
    };
    tokio::join!(serve, refresh);
}

/// Now, Unix milliseconds (what the index's times are in).
pub(crate) fn unix_millis() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
