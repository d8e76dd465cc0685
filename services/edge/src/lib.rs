//! The edge: stateless HTTP delivery of HLS (playlists from the index, segments from the
//! object store) and HTTP-FLV (from a live source), behind a CDN.
//!
//! Nothing here survives a restart or needs to: every answer is rebuilt from the index, the
//! object store and the live source, and every edge renders the same bytes for the same state.

mod config;
mod flv;
mod hls;
mod listener;
mod router;

use std::sync::Arc;

use ferrocast_control::StreamDirectory;
use ferrocast_live::LiveSource;
use ferrocast_store::{SegmentCache, SegmentIndex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{EdgeConfig, FlvViewerLimits};

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
}

/// Serves HTTP on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: EdgeConfig,
    listener: TcpListener,
    deps: EdgeDeps,
    shutdown: CancellationToken,
) {
    let write_timeout = config.flv.write_timeout;
    let app = router::build(Arc::new(config), deps);
    let listener = listener::StallCutting::new(listener, write_timeout);
    let serving = axum::serve(listener, app);
    tokio::select! {
        result = serving => {
            if let Err(error) = result {
                tracing::error!(%error, "http server failed");
            }
        }
        () = shutdown.cancelled() => {}
    }
}
