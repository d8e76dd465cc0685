//! The origin: RTMP ingest, publish authorization, live fan-out and HLS packaging.
//!
//! Each RTMP connection runs in its own task. An accepted publish feeds the stream's live
//! [`Hub`](ferrocast_live::Hub) (HTTP-FLV, relay, RTMP play) and a pure HLS packager whose
//! segments an uploader stores and then indexes, in that order, and a CMAF packager whose
//! parts go to the stream's part log (served to edges by the relay) and whose segments are
//! stored beside the TS ones. An accepted play sends the
//! hub's frames as RTMP chunks serialized once and shared by every player.

mod admission;
mod config;
mod connection;
mod ending;
mod ingest_rate;
mod metadata;
pub mod metrics;
mod per_address;
mod play;
pub mod publish;
mod uploader;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use ferrocast_control_client::{PublishAuthorizer, StreamDirectory};
use ferrocast_live::{Hubs, PartLogs};
use ferrocast_store::{SegmentIndex, SegmentStore};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::admission::Admission;
use ferrocast_ops::accept::Backoff;
use ferrocast_ops::throttle::Throttle;

pub use config::{HlsConfig, OriginConfig, ProxyProtocol, RtmpServerConfig};
pub use ingest_rate::IngestRates;
pub use publish::{PublishReport, PublishStats, Publishing};
pub use uploader::BufferBudget;

/// What an origin talks to.
#[derive(Clone)]
pub struct OriginDeps {
    /// Decides who may publish.
    pub authorizer: Arc<dyn PublishAuthorizer>,
    /// Resolves the playback ids RTMP players ask for.
    pub directory: Arc<dyn StreamDirectory>,
    /// Where segments are listed.
    pub index: Arc<dyn SegmentIndex>,
    /// Where segment objects go.
    pub store: SegmentStore,
    /// The live hubs viewers subscribe to.
    pub hubs: Arc<Hubs>,
    /// The publishes running here, for heartbeats.
    pub publishing: Arc<Publishing>,
    /// Bytes of finished segments the whole process may hold while they wait to be stored
    /// and listed (`hls.buffer_bytes_total`), shared by every stream.
    pub buffers: Arc<BufferBudget>,
    /// The streams' part logs (ADR 16), which the relay serves to edges; made with
    /// [`HlsConfig::log_config`].
    pub part_logs: Arc<PartLogs>,
}

/// Serves RTMP ingest on `listener` until `shutdown` is cancelled, then drains: running
/// publishes continue up to `config.drain.publish_deadline`, are then closed, and get
/// `config.drain.flush_deadline` to store their last segment. Returns when every connection
/// has ended or the deadlines have passed.
///
/// The listener stays open while draining, so that an encoder that still reaches this origin
/// is told why it may not publish (an `onStatus` naming the drain) instead of seeing its
/// connection refused; the drain does not wait for those connections.
pub async fn run(
    config: OriginConfig,
    listener: TcpListener,
    deps: OriginDeps,
    shutdown: CancellationToken,
) {
    let config = Arc::new(config);
    let connections = TaskTracker::new();
    let close_publishes = CancellationToken::new();
    let stop_accepting = CancellationToken::new();
    let tasks = Tasks {
        connections: &connections,
        close_publishes: &close_publishes,
        stop_accepting: &stop_accepting,
    };
    let accepting = accept(&config, listener, &deps, &shutdown, tasks);
    let draining = async {
        shutdown.cancelled().await;
        connections.close();
        drain(&config, &deps, &connections, &close_publishes).await;
        stop_accepting.cancel();
    };
    tokio::join!(accepting, draining);
}

/// What the accept loop hands its connections, and what stops it.
#[derive(Clone, Copy)]
struct Tasks<'a> {
    /// Connections accepted before the drain: the drain waits for them.
    connections: &'a TaskTracker,
    /// Cancelled at the publish deadline of the drain.
    close_publishes: &'a CancellationToken,
    /// Cancelled when the drain is over.
    stop_accepting: &'a CancellationToken,
}

/// At most one "limit reached" line per this.
const LIMIT_LOG_INTERVAL: Duration = Duration::from_secs(10);

async fn accept(
    config: &Arc<OriginConfig>,
    listener: TcpListener,
    deps: &OriginDeps,
    shutdown: &CancellationToken,
    tasks: Tasks<'_>,
) {
    let slots = Arc::new(Semaphore::new(config.rtmp.max_connections));
    let admission = Arc::new(Admission::new(&config.rtmp));
    let mut backoff = Backoff::new("rtmp");
    let mut limit_log = Throttle::new(LIMIT_LOG_INTERVAL);
    loop {
        let accepted = tokio::select! {
            () = tasks.stop_accepting.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (mut socket, peer) = match accepted {
            Ok(pair) => {
                backoff.succeeded();
                pair
            }
            Err(error) => {
                let delay = backoff.record_failure(&error);
                tokio::select! {
                    () = tasks.stop_accepting.cancelled() => return,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        // The server merges its own writes; Nagle would only hold back the replies and a
        // player's first frames behind the peer's delayed acknowledgement (~40 ms).
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%peer, %error, "setting TCP_NODELAY failed");
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::connection_refused_at_limit();
            if let Some(refused) = limit_log.record(Instant::now()) {
                tracing::warn!(%peer, limit = config.rtmp.max_connections, refused, "rtmp connection refused: limit reached");
            }
            continue;
        };
        let (config, deps, admission) = (config.clone(), deps.clone(), admission.clone());
        let (draining, close) = (shutdown.clone(), tasks.close_publishes.clone());
        let serve = async move {
            // Boxed, as the steps of a connection are: its task holds only what it needs for
            // the rest of its life.
            let Some(admitted) = Box::pin(admission.admit(&mut socket, peer)).await else {
                return;
            };
            let stop = connection::Stop { draining, close };
            let serving = connection::serve(socket, admitted.client, &config, &deps, &stop);
            if admitted.proxied {
                // `peer` of the connection's span is the client; `via` is the load balancer.
                serving
                    .instrument(tracing::info_span!("proxied", via = %peer))
                    .await;
            } else {
                serving.await;
            }
            drop(admitted);
            drop(slot);
        };
        if shutdown.is_cancelled() {
            // Accepted while draining: a publish is refused at once, so the drain need not
            // wait for it.
            tokio::spawn(serve);
        } else {
            tasks.connections.spawn(serve);
        }
    }
}

async fn drain(
    config: &OriginConfig,
    deps: &OriginDeps,
    connections: &TaskTracker,
    close_publishes: &CancellationToken,
) {
    let publishes = deps.publishing.len();
    let publish_deadline = config.drain.publish_deadline;
    tracing::info!(publishes, connections = connections.len(), deadline = ?publish_deadline, "draining rtmp ingest");
    let flush_deadline = config.drain.flush_deadline;
    if timeout(publish_deadline, connections.wait()).await.is_err() {
        let closing = deps.publishing.len();
        metrics::drain_closed(closing);
        tracing::info!(
            publishes = closing,
            "drain deadline reached; closing publishes"
        );
        close_publishes.cancel();
        if timeout(flush_deadline, connections.wait()).await.is_err() {
            tracing::warn!(connections = connections.len(), deadline = ?flush_deadline, "flush deadline passed; leaving connections");
        }
    }
    // Ended publishes store their last segments; their reconnect windows are cut short.
    let endings = deps.publishing.endings();
    endings.close();
    if timeout(flush_deadline, endings.wait()).await.is_err() {
        tracing::warn!(uploads = endings.len(), deadline = ?flush_deadline, "flush deadline passed; leaving segment uploads");
    } else {
        tracing::info!("rtmp ingest drained");
    }
}
