//! An origin served by its real `run` on a loopback listener, over twins: control that knows
//! one stream and its key (`control.rs`), a memory index, a memory object store, in-process
//! hubs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocast_live::{Hubs, PartLogs};
use ferrocast_origin::{BufferBudget, OriginConfig, OriginDeps};
use ferrocast_store::{MemoryIndex, RetryPolicy, SegmentIndex, SegmentRecord, SegmentStore};
use object_store::memory::InMemory;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

use super::control::{APP, OneStreamControl, stream_id};
use super::feed::Feed;
use super::rtmp_client::ANSWER_WITHIN;

/// The settings of these tests: a segment per one-second GOP of [`Feed`], every segment
/// kept listed, and a drain of 300 ms for publishes and 2 s to flush.
pub fn config() -> OriginConfig {
    let mut config = OriginConfig {
        publish_app: APP.into(),
        ..OriginConfig::default()
    };
    config.hls.target_duration = Feed::GOP;
    config.hls.window = 100;
    config.hls.retain = 100;
    config.drain.publish_deadline = Duration::from_millis(300);
    config.drain.flush_deadline = Duration::from_secs(2);
    config
}

/// A running origin and the twins behind it.
pub struct Origin {
    /// Where it listens for RTMP.
    pub addr: SocketAddr,
    /// Control's twin.
    pub control: Arc<OneStreamControl>,
    /// The live hubs.
    pub hubs: Arc<Hubs>,
    index: Arc<MemoryIndex>,
    store: SegmentStore,
    shutdown: CancellationToken,
    running: Option<JoinHandle<()>>,
}

impl Origin {
    /// Starts `ferrocast_origin::run` with `config` on 127.0.0.1 and an ephemeral port.
    pub async fn start(config: OriginConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("the listener's address");
        let control = Arc::new(OneStreamControl::default());
        let index = Arc::new(MemoryIndex::new());
        let store = SegmentStore::new(Arc::new(InMemory::new()), "live", RetryPolicy::default());
        let hubs = Arc::new(Hubs::default());
        let deps = OriginDeps {
            authorizer: control.clone(),
            directory: control.clone(),
            index: index.clone(),
            store: store.clone(),
            hubs: hubs.clone(),
            publishing: Arc::default(),
            buffers: Arc::new(BufferBudget::new(config.hls.buffer_bytes_total)),
            part_logs: Arc::new(PartLogs::new(config.hls.log_config())),
        };
        let shutdown = CancellationToken::new();
        let running = ferrocast_origin::run(config, listener, deps, shutdown.clone());
        Self {
            addr,
            control,
            hubs,
            index,
            store,
            shutdown,
            running: Some(tokio::spawn(running)),
        }
    }

    /// Whether the index has ever heard of the stream (a publish session opened).
    pub async fn stream_known(&self) -> bool {
        let state = self
            .index
            .load(&stream_id())
            .await
            .expect("the memory index");
        state.is_some()
    }

    /// The segments the index lists for the stream.
    pub async fn listed(&self) -> Vec<SegmentRecord> {
        let state = self
            .index
            .load(&stream_id())
            .await
            .expect("the memory index");
        state.map(|state| state.segments).unwrap_or_default()
    }

    /// Waits until at least `count` segments are listed, woken by the index's change
    /// notifications; panics after [`ANSWER_WITHIN`].
    pub async fn wait_listed(&self, count: usize) -> Vec<SegmentRecord> {
        // Subscribed before the first look, so no change between the two is missed.
        let mut changes = self.index.changes();
        let until = Instant::now() + ANSWER_WITHIN;
        loop {
            let listed = self.listed().await;
            if listed.len() >= count {
                return listed;
            }
            match timeout_at(until, changes.recv()).await {
                Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) => panic!("the index stopped announcing changes"),
                Err(_) => panic!("{count} segments not listed in time: {listed:?}"),
            }
        }
    }

    /// The stored object of a listed segment.
    pub async fn object(&self, record: &SegmentRecord) -> Bytes {
        let found = self.store.get(&stream_id(), record.epoch, record.seq).await;
        found.unwrap_or_else(|error| panic!("segment {} not stored: {error}", record.msn))
    }

    /// Cancels the shutdown token and waits for `run` to return: how long it took. Panics
    /// if it takes longer than `limit`.
    pub async fn stop(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        let running = self.running.take().expect("the origin is stopped once");
        let returned = timeout(limit, running).await;
        returned
            .unwrap_or_else(|_| panic!("run still running {limit:?} after the shutdown"))
            .expect("run does not panic");
        started.elapsed()
    }
}
