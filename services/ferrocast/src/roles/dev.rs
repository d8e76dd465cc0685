//! `ferrocast dev`: every role in one process on embedded defaults — the segment index in a
//! redb file and control in memory, a local directory as the object store, in-process live hubs, the gRPC relay over
//! loopback between its origin and its edge — through the same traits the cluster implements.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use ferrocast_control::{LocalControl, StreamRecord, credentials};
use ferrocast_edge::{ConnectionLimits, EdgeConfig, EdgeDeps, FlvViewerLimits};
use ferrocast_live::{HubLimits, Hubs};
use ferrocast_ops::Collector;
use ferrocast_origin::metrics::Collector as OriginCollector;
use ferrocast_origin::{
    BufferBudget, DrainConfig, HlsConfig, OriginConfig, OriginDeps, Publishing, RtmpServerConfig,
};
use ferrocast_store::{
    DEFAULT_SEGMENT_CACHE_BYTES, DiskIndex, RetryPolicy, SegmentCache, SegmentIndex, SegmentStore,
};
use object_store::local::LocalFileSystem;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::dev_relay::LoopbackRelay;
use super::heartbeat;
use super::ops::{MetricsConfig, Ops, connection_share};
use super::url_host;

/// The segment index's file in the data directory.
const INDEX_FILE: &str = "index.redb";

/// How often `dev` renews its own leases: as often as an origin heartbeats by default.
const LOCAL_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
use ferrocast_relay::RelayConfig;

/// Settings of `ferrocast dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevConfig {
    /// RTMP ingest address.
    pub rtmp_listen: SocketAddr,
    /// HTTP (HLS, HTTP-FLV) address.
    pub http_listen: SocketAddr,
    /// Where the dev stream and segments are kept.
    pub data_dir: PathBuf,
    /// Host name printed in URLs; defaults to the listen address (127.0.0.1 for 0.0.0.0).
    pub public_host: String,
    /// RTMP application for publishing.
    pub publish_app: String,
    /// RTMP connection limit and RTMP play writes.
    pub rtmp: RtmpServerConfig,
    /// HLS packaging.
    pub hls: HlsConfig,
    /// How long after a publish ends its viewers stay connected and its playlist stays open
    /// for the encoder to come back; `EXT-X-ENDLIST` is written when it closes.
    #[serde(with = "humantime_serde")]
    pub reconnect_window: Duration,
    /// HTTP-FLV viewer bounds.
    pub flv: FlvViewerLimits,
    /// Header-read and idle timeouts and the connection cap of the HTTP port.
    pub http: ConnectionLimits,
    /// Ops endpoints: `/metrics`, `/healthz`, `/readyz`, `/drain`.
    pub ops_listen: SocketAddr,
    /// What SIGTERM does to publishes and requests.
    pub drain: DevDrain,
    /// Per-stream metric series.
    pub metrics: MetricsConfig,
}

/// The drain of `dev`: the origin's deadlines and the edge's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevDrain {
    /// How long running publishes may continue; then they are closed.
    #[serde(with = "humantime_serde")]
    pub publish_deadline: Duration,
    /// How long closed publishes have to store their last segment.
    #[serde(with = "humantime_serde")]
    pub flush_deadline: Duration,
    /// How long HTTP requests in flight may finish; HTTP-FLV viewers are closed then.
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
}

impl Default for DevDrain {
    fn default() -> Self {
        let origin = DrainConfig::default();
        Self {
            publish_deadline: origin.publish_deadline,
            flush_deadline: origin.flush_deadline,
            request_deadline: Duration::from_secs(10),
        }
    }
}

impl Default for DevConfig {
    fn default() -> Self {
        Self {
            rtmp_listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            http_listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            data_dir: PathBuf::from("ferrocast-data"),
            public_host: String::new(),
            publish_app: "live".into(),
            rtmp: RtmpServerConfig {
                // `dev` serves one machine's tools, and its load tests open thousands of RTMP
                // players from 127.0.0.1: no per-address cap unless one is asked for.
                max_connections_per_ip: 0,
                ..RtmpServerConfig::default()
            },
            hls: HlsConfig::default(),
            reconnect_window: OriginConfig::default().reconnect_window,
            flv: FlvViewerLimits::default(),
            http: ConnectionLimits::default(),
            ops_listen: SocketAddr::from(([0, 0, 0, 0], 9090)),
            drain: DevDrain::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// The dev stream as kept in the data directory. The key is kept in clear here, and only
/// here, because `dev` prints it on every start; the control plane itself holds the hash.
#[derive(Debug, Serialize, Deserialize)]
struct DevStream {
    id: String,
    playback_id: String,
    stream_key: String,
    created_at_ms: i64,
}

/// Runs `dev` until `shutdown` is cancelled, then drains it.
pub async fn run(config: DevConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let stream = load_or_create_stream(&config.data_dir)?;
    let control = Arc::new(LocalControl::new(config.publish_app.clone()));
    control.insert(StreamRecord {
        id: stream.id.clone(),
        playback_id: stream.playback_id.clone(),
        key_sha256: credentials::key_hash_hex(&stream.stream_key),
        name: "dev".into(),
        created_at_ms: stream.created_at_ms,
    });

    let store = SegmentStore::new(
        segment_directory(&config.data_dir)?,
        "",
        RetryPolicy::default(),
    );
    let index_path = config.data_dir.join(INDEX_FILE);
    let index = Arc::new(
        DiskIndex::open(&index_path)
            .with_context(|| format!("opening the index {}", index_path.display()))?,
    );
    // Epochs continue above the newest one that ever wrote, so a restart reuses no object
    // name and the index fences nothing it should not.
    if let Some(state) = index.load(&stream.id).await.context("reading the index")? {
        control.raise_epoch_floor(&stream.id, state.epoch);
    }
    let hubs = Arc::new(Hubs::new(HubLimits::default()));
    let publishing: Arc<Publishing> = Arc::default();
    let segments = Arc::new(SegmentCache::new(
        store.clone(),
        DEFAULT_SEGMENT_CACHE_BYTES,
    ));
    let ops = start_ops(&config, &publishing, &segments, &shutdown).await?;

    let rtmp = TcpListener::bind(config.rtmp_listen)
        .await
        .with_context(|| format!("binding rtmp {}", config.rtmp_listen))?;
    let http = TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("binding http {}", config.http_listen))?;
    print_urls(
        &config,
        &stream,
        rtmp.local_addr()?,
        http.local_addr()?,
        ops.addr,
    );

    // RTMP and HTTP share the process's descriptors: each gets half of what the reserve leaves.
    let share = connection_share(2);
    let mut rtmp_server = config.rtmp.clone();
    rtmp_server.max_connections =
        ferrocast_ops::fd::fit_cap("rtmp.max_connections", rtmp_server.max_connections, share);
    let mut http_limits = config.http.clone();
    http_limits.max_connections =
        ferrocast_ops::fd::fit_cap("http.max_connections", http_limits.max_connections, share);
    let origin_config = OriginConfig {
        publish_app: config.publish_app.clone(),
        rtmp_server,
        hls: config.hls.clone(),
        drain: DrainConfig {
            publish_deadline: config.drain.publish_deadline,
            flush_deadline: config.drain.flush_deadline,
        },
        reconnect_window: config.reconnect_window,
        ..OriginConfig::default()
    };
    let origin_deps = OriginDeps {
        authorizer: control.clone(),
        directory: control.clone(),
        index: index.clone(),
        store: store.clone(),
        hubs: hubs.clone(),
        publishing: publishing.clone(),
        buffers: Arc::new(BufferBudget::new(config.hls.buffer_bytes_total)),
    };
    let edge_config = EdgeConfig {
        hls_window: config.hls.window,
        hls_min_target_duration_s: config.hls.target_duration.as_secs().max(1),
        flv: config.flv.clone(),
        http: http_limits,
        request_drain_deadline: config.drain.request_deadline,
    };
    // HTTP-FLV reads through the relay, as on a cluster edge; RTMP play stays on the hubs.
    let relay = LoopbackRelay::bind().await?;
    // A stream whose hub ended (the window closed) is not coming back on this one origin.
    let relay_config = RelayConfig {
        resubscribe_for: config.reconnect_window,
        ..RelayConfig::default()
    };
    let live = Arc::new(relay.source(hubs.clone(), relay_config)?);
    let edge_deps = EdgeDeps {
        directory: control.clone(),
        index,
        segments,
        live: live.clone(),
    };
    // The relay outlives the ingest's drain, so the edge receives the streams' ends.
    let ingest_done = CancellationToken::new();
    let ingest_shutdown = shutdown.clone();
    let ingest = async {
        ferrocast_origin::run(origin_config, rtmp, origin_deps, ingest_shutdown).await;
        ingest_done.cancel();
    };
    let beats = heartbeat::run_local(
        control.clone(),
        publishing.clone(),
        LOCAL_HEARTBEAT_INTERVAL,
        ingest_done.clone(),
    );
    ops.health.set_ready();
    let ((), (), relayed, ()) = tokio::join!(
        ingest,
        ferrocast_edge::run(edge_config, http, edge_deps, shutdown),
        relay.serve(hubs, ingest_done.clone()),
        beats,
    );
    drop(live);
    ops.stop().await;
    relayed?;
    tracing::info!("dev stopped");
    Ok(())
}

async fn start_ops(
    config: &DevConfig,
    publishing: &Arc<Publishing>,
    segments: &Arc<SegmentCache>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Ops> {
    ferrocast_origin::metrics::describe();
    ferrocast_edge::metrics::describe();
    ferrocast_relay::metrics::describe_origin();
    ferrocast_relay::metrics::describe_edge();
    let origin = OriginCollector::new(publishing.clone(), config.metrics.per_stream_limit);
    let cache = segments.clone();
    let collectors: Vec<Collector> = vec![
        Arc::new(move || origin.collect()),
        Arc::new(move || ferrocast_edge::metrics::collect(&cache)),
        Arc::new(ferrocast_relay::metrics::collect_origin),
        Arc::new(ferrocast_relay::metrics::collect_edge),
    ];
    Ops::start(config.ops_listen, "dev", collectors, shutdown).await
}

fn load_or_create_stream(data_dir: &Path) -> anyhow::Result<DevStream> {
    let path = data_dir.join("stream.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()));
    }
    let id = credentials::new_stream_id();
    let stream = DevStream {
        stream_key: credentials::new_stream_key(&id),
        playback_id: credentials::new_playback_id(),
        id,
        created_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64,
    };
    write_private(&path, &serde_json::to_string_pretty(&stream)?)?;
    Ok(stream)
}

/// The segment directory. It is kept across restarts: the index on disk still lists its
/// objects, and epochs keep growing, so no object name is written twice.
fn segment_directory(data_dir: &Path) -> anyhow::Result<Arc<LocalFileSystem>> {
    let dir = data_dir.join("segments");
    std::fs::create_dir_all(&dir)?;
    let store = LocalFileSystem::new_with_prefix(&dir)
        .with_context(|| format!("opening {}", dir.display()))?;
    Ok(Arc::new(store))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn print_urls(
    config: &DevConfig,
    stream: &DevStream,
    rtmp: SocketAddr,
    http: SocketAddr,
    ops: SocketAddr,
) {
    let host = |addr: SocketAddr| {
        if config.public_host.is_empty() {
            url_host(addr)
        } else {
            config.public_host.clone()
        }
    };
    let server = format!(
        "rtmp://{}:{}/{}",
        host(rtmp),
        rtmp.port(),
        config.publish_app
    );
    let web = format!("http://{}:{}", host(http), http.port());
    let key = &stream.stream_key;
    let playback = &stream.playback_id;
    println!("RTMP publish URL: {server}/{key}");
    println!("OBS server: {server}");
    println!("OBS stream key: {key}");
    println!("HLS: {web}/hls/{playback}/index.m3u8");
    println!("HTTP-FLV: {web}/live/{playback}.flv");
    println!("Metrics: http://{}:{}/metrics", host(ops), ops.port());
}
