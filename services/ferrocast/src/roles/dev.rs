//! `ferrocast dev`: every role in one process on embedded defaults — the segment index in a
//! redb file and control in memory, a local directory as the object store, in-process live hubs, the gRPC relay over
//! loopback between its origin and its edge — through the same traits the cluster implements.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use ferrocast_base::{PlaybackId, StreamId};
use ferrocast_control::{LocalControl, Retention, StreamRecord, credentials};
use ferrocast_edge::{EdgeConfig, EdgeDeps};
use ferrocast_live::{HubLimits, Hubs, PartLogs};
use ferrocast_media::ll::LogConfig;
use ferrocast_ops::Collector;
use ferrocast_origin::metrics::Collector as OriginCollector;
use ferrocast_origin::{BufferBudget, OriginConfig, OriginDeps, Publishing, RtmpServerConfig};
use ferrocast_relay::RelayConfig;
use ferrocast_store::{
    DEFAULT_SEGMENT_CACHE_BYTES, DiskIndex, RetryPolicy, SegmentCache, SegmentIndex, SegmentStore,
};
use object_store::local::LocalFileSystem;
use reqwest::Url;
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

/// Settings of `ferrocast dev`: its process settings, and the origin's and the edge's own
/// configurations, as in the cluster. The edge's playlist shape follows the origin's (see
/// [`edge_config`]), and its relay waits for a stream as long as the origin's
/// `reconnect_window`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevConfig {
    /// RTMP ingest address.
    pub rtmp_listen: SocketAddr,
    /// HTTP (HLS, HTTP-FLV) address.
    pub http_listen: SocketAddr,
    /// Where the dev stream and segments are kept.
    pub data_dir: PathBuf,
    /// Host name printed in URLs; when unset, the listen address (127.0.0.1 for 0.0.0.0).
    pub public_host: Option<String>,
    /// Ops endpoints: `/metrics`, `/healthz`, `/readyz`, `/drain`.
    pub ops_listen: SocketAddr,
    /// Per-stream metric series.
    pub metrics: MetricsConfig,
    /// The ingest, as on `ferrocast origin`; its `drain` gives the publishes' deadlines.
    pub origin: OriginConfig,
    /// The HTTP delivery, as on `ferrocast edge`; its `drain` gives the requests' deadline.
    pub edge: EdgeConfig,
}

impl Default for DevConfig {
    fn default() -> Self {
        Self {
            rtmp_listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            http_listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            data_dir: PathBuf::from("ferrocast-data"),
            public_host: None,
            ops_listen: SocketAddr::from(([0, 0, 0, 0], 9090)),
            metrics: MetricsConfig::default(),
            origin: OriginConfig {
                rtmp: RtmpServerConfig {
                    // `dev` serves one machine's tools, and its load tests open thousands of
                    // RTMP players from 127.0.0.1: no per-address cap unless one is asked for.
                    max_connections_per_ip: 0,
                    ..RtmpServerConfig::default()
                },
                ..OriginConfig::default()
            },
            edge: EdgeConfig::default(),
        }
    }
}

impl DevConfig {
    /// Checks what the types cannot: that `public_host` can be the host of a URL.
    fn validate(&self) -> anyhow::Result<()> {
        let Some(host) = &self.public_host else {
            return Ok(());
        };
        // A bare host is all of a URL's host: a scheme, port or path would be left over.
        let parsed = Url::parse(&format!("http://{host}/")).ok();
        let whole_host = parsed
            .as_ref()
            .and_then(Url::host_str)
            .is_some_and(|parsed| parsed.eq_ignore_ascii_case(host));
        if !whole_host {
            bail!(
                "public_host must be a host name or address, without scheme, port or path: {host:?}"
            );
        }
        Ok(())
    }
}

/// The edge of `dev`: as configured, but with the playlist window and target duration of its
/// one origin, which a cluster's operator keeps equal by hand. A differing `edge.hls_window`
/// or `edge.hls_min_target_duration_s` is reported, not used.
fn edge_config(config: &DevConfig) -> EdgeConfig {
    let hls = &config.origin.hls;
    let mut edge = config.edge.clone();
    let window = hls.window;
    // Rounded up, as the origin writes EXT-X-TARGETDURATION (ADR 17): a 2.5 s target is 3.
    let target_ms = u64::try_from(hls.target_duration.as_millis()).unwrap_or(u64::MAX);
    let min_target_duration_s = ferrocast_media::hls::target_duration_s(target_ms);
    let defaults = EdgeConfig::default();
    let changed = (edge.hls_window != defaults.hls_window && edge.hls_window != window)
        || (edge.hls_min_target_duration_s != defaults.hls_min_target_duration_s
            && edge.hls_min_target_duration_s != min_target_duration_s);
    if changed {
        tracing::warn!(
            window,
            min_target_duration_s,
            "dev: edge.hls_window and edge.hls_min_target_duration_s follow origin.hls; set those instead"
        );
    }
    edge.hls_window = window;
    edge.hls_min_target_duration_s = min_target_duration_s;
    edge
}

/// The dev stream as kept in the data directory. The key is kept in clear here, and only
/// here, because `dev` prints it on every start; the control plane itself holds the hash.
#[derive(Debug, Serialize, Deserialize)]
struct DevStream {
    id: StreamId,
    playback_id: PlaybackId,
    stream_key: String,
    created_at_ms: i64,
}

/// Runs `dev` until `shutdown` is cancelled, then drains it.
pub async fn run(config: DevConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let stream = load_or_create_stream(&config.data_dir)?;
    let control = Arc::new(LocalControl::new(config.origin.publish_app.clone()));
    control.insert(StreamRecord {
        id: stream.id.clone(),
        playback_id: stream.playback_id.clone(),
        key_sha256: credentials::key_hash_hex(&stream.stream_key),
        name: "dev".into(),
        created_at_ms: stream.created_at_ms,
        playback_policy: Default::default(),
        recording_retention: Retention::Off,
        dvr_window: Default::default(),
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
    let hubs = Arc::new(Hubs::new(HubLimits::holding(config.origin.viewers.max_lag)));
    let part_logs = Arc::new(PartLogs::new(config.origin.hls.log_config()));
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
    let (rtmp_addr, http_addr) = (rtmp.local_addr()?, http.local_addr()?);

    // RTMP and HTTP share the process's descriptors: each gets half of what the reserve leaves.
    let share = connection_share(2);
    let mut origin_config = config.origin.clone();
    let rtmp_cap = origin_config.rtmp.max_connections;
    origin_config.rtmp.max_connections =
        ferrocast_ops::fd::fit_cap("origin.rtmp.max_connections", rtmp_cap, share);
    let mut edge_config = edge_config(&config);
    let http_cap = edge_config.http.max_connections;
    edge_config.http.max_connections =
        ferrocast_ops::fd::fit_cap("edge.http.max_connections", http_cap, share);
    let origin_deps = OriginDeps {
        authorizer: control.clone(),
        directory: control.clone(),
        index: index.clone(),
        store: store.clone(),
        hubs: hubs.clone(),
        publishing: publishing.clone(),
        buffers: Arc::new(BufferBudget::new(config.origin.hls.buffer_bytes_total)),
        part_logs: part_logs.clone(),
    };
    // HTTP-FLV reads through the relay, as on a cluster edge; RTMP play stays on the hubs.
    let relay = LoopbackRelay::bind().await?;
    // A stream whose hub ended (the window closed) is not coming back on this one origin.
    let relay_config = RelayConfig {
        resubscribe_for: config.origin.reconnect_window,
        hub_limits: HubLimits::holding(config.edge.viewers.max_lag),
        ..RelayConfig::default()
    };
    let live = Arc::new(relay.source(hubs.clone(), relay_config.clone())?);
    // Part logs reach the edge through the same relay (`SubscribeParts`), mirrored as on a
    // cluster edge.
    let edge_log = LogConfig {
        max_bytes: edge_config.ll_hls.max_window_bytes,
        ..LogConfig::default()
    };
    let parts = Arc::new(relay.parts(
        hubs.clone(),
        RelayConfig {
            part_log: edge_log,
            ..relay_config
        },
    )?);
    let edge_deps = EdgeDeps {
        directory: control.clone(),
        index,
        segments,
        live: live.clone(),
        parts: parts.clone(),
        home: Some(stream.playback_id.clone()),
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
    // Printed once ready, so a script (or a test) that reads the URLs finds the server ready.
    print_urls(&config, &stream, rtmp_addr, http_addr, ops.addr);
    let ((), (), relayed, ()) = tokio::join!(
        ingest,
        ferrocast_edge::run(edge_config, http, edge_deps, shutdown),
        relay.serve(hubs, part_logs, ingest_done.clone()),
        beats,
    );
    drop(live);
    drop(parts);
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
    let host = |addr: SocketAddr| config.public_host.clone().unwrap_or_else(|| url_host(addr));
    let server = format!(
        "rtmp://{}:{}/{}",
        host(rtmp),
        rtmp.port(),
        config.origin.publish_app
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
    println!("LL-HLS: {web}/ll/{playback}/index.m3u8");
    println!("DASH: {web}/ll/{playback}/manifest.mpd");
    println!("Multivariant: {web}/ll/{playback}/multivariant.m3u8");
    println!("Watch: {web}/watch/{playback}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::{DevConfig, edge_config};

    #[test]
    fn the_edge_follows_the_origins_playlists() {
        let mut config = DevConfig::default();
        config.origin.hls.window = 10;
        config.origin.hls.target_duration = Duration::from_millis(3500);
        let edge = edge_config(&config);
        assert_eq!(edge.hls_window, 10);
        // Rounded up, as the origin's playlists have it: 3.5 s segments list as 4.
        assert_eq!(edge.hls_min_target_duration_s, 4);
        assert_eq!(edge.viewers, config.edge.viewers);
    }

    #[test]
    fn public_host_is_a_bare_host() {
        for good in ["streaming.example.lan", "192.0.2.7", "[2001:db8::7]"] {
            let config = DevConfig {
                public_host: Some(good.into()),
                ..DevConfig::default()
            };
            config.validate().unwrap();
        }
        for bad in [
            "",
            "http://streaming.example.lan",
            "example.lan:8080",
            "example.lan/x",
        ] {
            let config = DevConfig {
                public_host: Some(bad.into()),
                ..DevConfig::default()
            };
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains("public_host"), "{error}");
        }
    }
}
