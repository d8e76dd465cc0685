//! `ferrocast edge`: stateless HTTP delivery. Playlists from the Redis index (cached, kept
//! fresh by its change notifications), segments from S3 through a single-flight cache,
//! HTTP-FLV relayed from the owning origin — one upstream per stream per edge. Calls to control
//! and to origins' relays carry this edge's cluster credential.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrocast_control_client::{ClientOptions, ControlClient, Role};
use ferrocast_edge::{EdgeConfig, EdgeDeps};
use ferrocast_live::HubLimits;
use ferrocast_media::ll::LogConfig;
use ferrocast_ops::Collector;
use ferrocast_relay::{RelayConfig, RelayParts, RelaySource, StreamOwners};
use ferrocast_store::{
    CachedIndex, CachedIndexConfig, DEFAULT_SEGMENT_CACHE_BYTES, RedisIndex, RedisIndexConfig,
    RetryPolicy, S3Config, SegmentCache, SegmentStore, SentinelConfig, s3_object_store,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::control_owners::ControlOwners;
use super::heartbeat::{self, Load, Node};
use super::node_id;
use super::ops::{Ops, connection_share};
use crate::config::{SecretSetting, cluster_secret};

/// Settings of `ferrocast edge`: the process's (listener, identity, backends and the caches
/// and relay in front of them, ops) and, under `edge`, the HTTP delivery's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeRoleConfig {
    /// Node id in the registry; generated when unset. Letters, digits, '.', '_' and '-'.
    pub node_id: Option<String>,
    /// The secret every node of the cluster shares (at least 32 characters): this edge's
    /// credential to control and to the origins' relays.
    pub cluster_secret: SecretSetting,
    /// HTTP address (HLS, HTTP-FLV).
    pub http_listen: SocketAddr,
    /// Control's gRPC URL.
    pub control_url: String,
    /// Redis holding the segment index. May contain a password: never logged.
    pub redis_url: String,
    /// Redis through Sentinel: when `master_name` is set, the primary is found (and found
    /// again after a failover) through these Sentinels; `redis_url` then gives only the
    /// password and database.
    pub redis_sentinel: SentinelConfig,
    /// Segment object storage.
    pub s3: S3Config,
    /// Key prefix of segment objects (as on the origins).
    pub segment_prefix: String,
    /// Bytes of segments kept in memory.
    pub segment_cache_bytes: usize,
    /// How long a playlist is still served from the last known index state while the index
    /// (Redis) is unreachable, instead of answering 503.
    #[serde(with = "humantime_serde")]
    pub hls_stale_for: Duration,
    /// How long HTTP-FLV viewers of a stream whose origin went away or whose publisher
    /// stopped stay connected while the edge's relay looks for the stream again; at least the
    /// origins' `origin.reconnect_window`.
    #[serde(with = "humantime_serde")]
    pub reconnect_window: Duration,
    /// How often to tell control this edge is alive.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Ops endpoints: `/metrics`, `/healthz`, `/readyz`, `/drain`.
    pub ops_listen: SocketAddr,
    /// The HTTP delivery: playlists, viewers, connection bounds, drain.
    pub edge: EdgeConfig,
}

impl Default for EdgeRoleConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            cluster_secret: SecretSetting::default(),
            http_listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            control_url: "http://127.0.0.1:7000".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_sentinel: SentinelConfig::default(),
            s3: S3Config::default(),
            segment_prefix: "live".into(),
            segment_cache_bytes: DEFAULT_SEGMENT_CACHE_BYTES,
            hls_stale_for: CachedIndexConfig::default().serve_stale_for,
            reconnect_window: RelayConfig::default().resubscribe_for,
            heartbeat_interval: Duration::from_secs(2),
            ops_listen: SocketAddr::from(([0, 0, 0, 0], 9102)),
            edge: EdgeConfig::default(),
        }
    }
}

/// Runs an edge until `shutdown` is cancelled, then drains it.
pub async fn run(config: EdgeRoleConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let secret = cluster_secret(&config.cluster_secret)?;
    let node = node_id(config.node_id.as_deref(), "edge");
    let credential = secret.credential(Role::Edge, &node)?;
    ferrocast_edge::metrics::describe();
    ferrocast_relay::metrics::describe_edge();
    let options = ClientOptions::new(credential.clone());
    let control = ControlClient::connect(&config.control_url, options).context("control_url")?;
    let redis_index = RedisIndex::new(&RedisIndexConfig {
        url: config.redis_url.clone(),
        sentinel: config.redis_sentinel.clone(),
        ..RedisIndexConfig::default()
    })
    .context("redis_url")?;
    let index = Arc::new(CachedIndex::new(
        Arc::new(redis_index),
        CachedIndexConfig {
            serve_stale_for: config.hls_stale_for,
            ..CachedIndexConfig::default()
        },
    ));
    let objects = s3_object_store(&config.s3).context("s3")?;
    let store = SegmentStore::new(
        objects,
        config.segment_prefix.clone(),
        RetryPolicy::default(),
    );
    let http = TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("binding http {}", config.http_listen))?;
    tracing::info!(node_id = %node, http = %http.local_addr()?, "edge started");

    let segments = Arc::new(SegmentCache::new(store, config.segment_cache_bytes));
    let cache = segments.clone();
    let cached_index = index.clone();
    let collectors: Vec<Collector> = vec![
        Arc::new(move || ferrocast_edge::metrics::collect(&cache)),
        Arc::new(move || ferrocast_edge::metrics::collect_index(&cached_index)),
        Arc::new(ferrocast_relay::metrics::collect_edge),
    ];
    let ops = Ops::start(config.ops_listen, "edge", collectors, &shutdown).await?;
    let owners: Arc<dyn StreamOwners> = Arc::new(ControlOwners(control.clone()));
    let relay_config = RelayConfig {
        resubscribe_for: config.reconnect_window,
        part_log: LogConfig {
            max_bytes: config.edge.ll_hls.max_window_bytes,
            ..LogConfig::default()
        },
        hub_limits: HubLimits::holding(config.edge.viewers.max_lag),
        ..RelayConfig::default()
    };
    let relay = Arc::new(RelaySource::new(
        owners.clone(),
        relay_config.clone(),
        credential.clone(),
    ));
    // Part logs are mirrored from the owning origins with the frame puller's owners and
    // credential (ADR 16).
    let parts = Arc::new(RelayParts::new(owners, relay_config, credential));
    let deps = EdgeDeps {
        directory: Arc::new(control.clone()),
        index,
        segments: segments.clone(),
        live: relay.clone(),
        parts,
        home: None,
    };
    let mut edge_config = config.edge;
    edge_config.http.max_connections = ferrocast_ops::fd::fit_cap(
        "edge.http.max_connections",
        edge_config.http.max_connections,
        connection_share(1),
    );
    let node_info = Node {
        rtmp_url: String::new(),
        relay_url: String::new(),
    };
    let served = CancellationToken::new();
    let serve = async {
        ferrocast_edge::run(edge_config, http, deps, shutdown.clone()).await;
        served.cancel();
    };
    ops.health.set_ready();
    tokio::join!(
        serve,
        heartbeat::run(
            control,
            node_info,
            Load::Edge(relay),
            config.heartbeat_interval,
            shutdown.clone(),
            served.clone(),
        ),
    );
    ops.stop().await;
    tracing::info!("edge stopped");
    Ok(())
}
