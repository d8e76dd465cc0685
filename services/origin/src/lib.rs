//! The origin: RTMP ingest, publish authorization, live fan-out and HLS packaging.
//!
//! Each RTMP connection runs in its own task. An accepted publish feeds the stream's live
//! [`Hub`](ferrocast_live::Hub) (HTTP-FLV, relay) and a pure HLS packager whose segments an
//! uploader stores and then indexes, in that order.

mod config;
mod connection;
mod metadata;
mod publish;
mod publishing;
mod uploader;

use std::sync::Arc;

use ferrocast_control::PublishAuthorizer;
use ferrocast_live::Hubs;
use ferrocast_store::{SegmentIndex, SegmentStore};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use config::{HlsConfig, OriginConfig};
pub use publishing::{PublishReport, Publishing};

/// What an origin talks to.
#[derive(Clone)]
pub struct OriginDeps {
    /// Decides who may publish.
    pub authorizer: Arc<dyn PublishAuthorizer>,
    /// Where segments are listed.
    pub index: Arc<dyn SegmentIndex>,
    /// Where segment objects go.
    pub store: SegmentStore,
    /// The live hubs viewers subscribe to.
    pub hubs: Arc<Hubs>,
    /// The publishes running here, for heartbeats.
    pub publishing: Arc<Publishing>,
}

/// Serves RTMP ingest on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: OriginConfig,
    listener: TcpListener,
    deps: OriginDeps,
    shutdown: CancellationToken,
) {
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Usually EMFILE; back off briefly instead of spinning.
                tracing::warn!(%error, "rtmp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = config.max_connections, "rtmp connection refused: limit reached");
            continue;
        };
        let (config, deps) = (config.clone(), deps.clone());
        tokio::spawn(async move {
            connection::serve(socket, peer, &config, &deps).await;
            drop(slot);
        });
    }
}
