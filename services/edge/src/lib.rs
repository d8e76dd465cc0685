//! The edge: stateless HTTP delivery of HLS (playlists from the index, segments from the
//! object store) and HTTP-FLV (from a live source), behind a CDN.
//!
//! Nothing here survives a restart or needs to: every answer is rebuilt from the index, the
//! object store and the live source, and every edge renders the same bytes for the same state.

mod config;
mod flv;
mod hls;
mod listener;
pub mod metrics;
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

/// Serves HTTP on `listener` until `shutdown` is cancelled, then stops accepting and lets
/// in-flight requests finish for `config.request_drain_deadline`; HTTP-FLV viewers still
/// connected then are closed.
pub async fn run(
    config: EdgeConfig,
    listener: TcpListener,
    deps: EdgeDeps,
    shutdown: CancellationToken,
) {
    let write_timeout = config.flv.write_timeout;
    let deadline = config.request_drain_deadline;
    let app = router::build(Arc::new(config), deps);
    let listener = listener::StallCutting::new(listener, write_timeout);
    let serving =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let drain_deadline = async {
        shutdown.cancelled().await;
        tracing::info!(deadline = ?deadline, "draining http");
        tokio::time::sleep(deadline).await;
    };
    tokio::select! {
        result = serving => match result {
            Ok(()) => tracing::info!("http drained"),
            Err(error) => tracing::error!(%error, "http server failed"),
        },
        () = drain_deadline => {
            tracing::info!(flv_viewers = metrics::FLV_VIEWERS.get(), "drain deadline reached; closing remaining connections");
        }
    }
}
