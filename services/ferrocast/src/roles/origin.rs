//! `ferrocast origin`: RTMP ingest authorized by control, HLS segments to S3 and the Redis
//! index, and the gRPC relay that edges pull live streams from. Calls to control carry this
//! origin's cluster credential; the relay serves only edges that carry theirs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrocast_control_client::{ClientOptions, ControlClient, Role};
use ferrocast_live::{HubLimits, Hubs};
use ferrocast_ops::Collector;
use ferrocast_origin::metrics::Collector as OriginCollector;
use ferrocast_origin::{
    BufferBudget, DrainConfig, HlsConfig, OriginConfig, OriginDeps, Publishing, RtmpServerConfig,
};
use ferrocast_store::{
    RedisIndex, RedisIndexConfig, RetryPolicy, S3Config, SegmentStore, SentinelConfig,
    s3_object_store,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::heartbeat::{self, Load, Node};
use super::ops::{MetricsConfig, Ops, connection_share};
use super::{node_id, url_host};
use crate::config::{SecretSetting, cluster_secret};

/// Settings of `ferrocast origin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginRoleConfig {
    /// Node id in the registry; generated when empty. Letters, digits, '.', '_' and '-'.
    pub node_id: String,
    /// The secret every node of the cluster shares (at least 32 characters): this origin's
    /// credential to control, and the key that checks edges' credentials at the relay.
    pub cluster_secret: SecretSetting,
    /// RTMP ingest address.
    pub rtmp_listen: SocketAddr,
    /// gRPC relay address for edges.
    pub relay_listen: SocketAddr,
    /// RTMP URL publishers use for this node (`rtmp://host:port/live`); derived when empty.
    pub public_rtmp_url: String,
    /// Relay URL edges use for this node (`http://host:port`); derived when empty.
    pub public_relay_url: String,
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
    /// Key prefix of segment objects.
    pub segment_prefix: String,
    /// RTMP application for publishing.
    pub publish_app: String,
    /// RTMP connection limit and RTMP play writes.
    pub rtmp: RtmpServerConfig,
    /// HLS packaging.
    pub hls: HlsConfig,
    /// How often to tell control this origin and its streams are alive.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// How long after a publish ends its viewers stay connected and its playlist stays open
    /// for the encoder to come back; `EXT-X-ENDLIST` is written when it closes.
    #[serde(with = "humantime_serde")]
    pub reconnect_window: Duration,
    /// Ops endpoints: `/metrics`, `/healthz`, `/readyz`, `/drain`.
    pub ops_listen: SocketAddr,
    /// What SIGTERM does to running publishes.
    pub drain: DrainConfig,
    /// Per-stream metric series.
    pub metrics: MetricsConfig,
}

impl Default for OriginRoleConfig {
    fn default() -> Self {
        Self {
            node_id: String::new(),
            cluster_secret: SecretSetting::default(),
            rtmp_listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            relay_listen: SocketAddr::from(([0, 0, 0, 0], 7070)),
            public_rtmp_url: String::new(),
            public_relay_url: String::new(),
            control_url: "http://127.0.0.1:7000".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_sentinel: SentinelConfig::default(),
            s3: S3Config::default(),
            segment_prefix: "live".into(),
            publish_app: "live".into(),
            rtmp: RtmpServerConfig::default(),
            hls: HlsConfig::default(),
            heartbeat_interval: Duration::from_millis(500),
            reconnect_window: OriginConfig::default().reconnect_window,
            ops_listen: SocketAddr::from(([0, 0, 0, 0], 9101)),
            drain: DrainConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// Runs an origin until `shutdown` is cancelled, then drains it.
pub async fn run(config: OriginRoleConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let secret = cluster_secret(&config.cluster_secret)?;
    let node = node_id(&config.node_id, "origin");
    let credential = secret.credential(Role::Origin, &node)?;
    ferrocast_origin::metrics::describe();
    ferrocast_relay::metrics::describe_origin();
    let publishing: Arc<Publishing> = Arc::default();
    let buffers = Arc::new(BufferBudget::new(config.hls.buffer_bytes_total));
    let collector = Arc::new(
        OriginCollector::new(publishing.clone(), config.metrics.per_stream_limit)
            .with_buffers(buffers.clone()),
    );
    let collectors: Vec<Collector> = vec![
        Arc::new(move || collector.collect()),
        Arc::new(ferrocast_relay::metrics::collect_origin),
    ];
    let ops = Ops::start(config.ops_listen, "origin", collectors, &shutdown).await?;
    let control = ControlClient::connect(&config.control_url, ClientOptions::new(credential))
        .context("control_url")?;
    let index = RedisIndex::new(&RedisIndexConfig {
        url: config.redis_url.clone(),
        sentinel: config.redis_sentinel.clone(),
        ..RedisIndexConfig::default()
    })
    .context("redis_url")?;
    let objects = s3_object_store(&config.s3).context("s3")?;
    let store = SegmentStore::new(
        objects,
        config.segment_prefix.clone(),
        RetryPolicy::default(),
    );
    let hubs = Arc::new(Hubs::new(HubLimits::default()));

    let rtmp = TcpListener::bind(config.rtmp_listen)
        .await
        .with_context(|| format!("binding rtmp {}", config.rtmp_listen))?;
    let relay = TcpListener::bind(config.relay_listen)
        .await
        .with_context(|| format!("binding relay {}", config.relay_listen))?;
    let (rtmp_addr, relay_addr) = (rtmp.local_addr()?, relay.local_addr()?);
    let public_rtmp = or_derived(&config.public_rtmp_url, || {
        format!(
            "rtmp://{}:{}/{}",
            url_host(rtmp_addr),
            rtmp_addr.port(),
            config.publish_app
        )
    });
    let public_relay = or_derived(&config.public_relay_url, || {
        format!("http://{}:{}", url_host(relay_addr), relay_addr.port())
    });
    tracing::info!(node_id = %node, rtmp = %public_rtmp, relay = %public_relay, "origin started");

    let deps = OriginDeps {
        authorizer: Arc::new(control.clone()),
        directory: Arc::new(control.clone()),
        index: Arc::new(index),
        store,
        hubs: hubs.clone(),
        publishing,
        buffers,
    };
    let node_info = Node {
        rtmp_url: public_rtmp
            .trim_end_matches(&format!("/{}", config.publish_app))
            .to_owned(),
        relay_url: public_relay,
    };
    // RTMP connections get what the descriptor reserve leaves (relay streams are few).
    let mut rtmp_server = config.rtmp.clone();
    rtmp_server.max_connections = ferrocast_ops::fd::fit_cap(
        "rtmp.max_connections",
        rtmp_server.max_connections,
        connection_share(1),
    );
    let origin_config = OriginConfig {
        publish_app: config.publish_app.clone(),
        rtmp_server,
        hls: config.hls.clone(),
        drain: config.drain.clone(),
        reconnect_window: config.reconnect_window,
        ..OriginConfig::default()
    };
    // The relay and the heartbeats outlive the drain of the ingest: edges keep receiving the
    // publishes still running, and their leases stay renewed.
    let ingest_done = CancellationToken::new();
    let beats = heartbeat::run(
        control,
        node_info,
        Load::Origin(deps.publishing.clone()),
        config.heartbeat_interval,
        shutdown.clone(),
        ingest_done.clone(),
    );
    let ingest = async {
        ferrocast_origin::run(origin_config, rtmp, deps, shutdown.clone()).await;
        ingest_done.cancel();
    };
    ops.health.set_ready();
    let ((), relayed, ()) = tokio::join!(
        ingest,
        ferrocast_relay::serve(relay, hubs, secret, ingest_done.clone()),
        beats,
    );
    ops.stop().await;
    relayed.context("relay server")?;
    tracing::info!("origin stopped");
    Ok(())
}

fn or_derived(configured: &str, derive: impl FnOnce() -> String) -> String {
    if configured.is_empty() {
        derive()
    } else {
        configured.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use ferrocast_origin::ProxyProtocol;

    use super::OriginRoleConfig;
    use crate::config::load;

    fn with_env(pairs: &[(&str, &str)]) -> anyhow::Result<OriginRoleConfig> {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        load(None, &env, toml::Table::new())
    }

    #[test]
    fn admission_settings_come_from_the_environment() {
        let config = with_env(&[
            ("FERROCAST_RTMP__PROXY_PROTOCOL", "v2"),
            ("FERROCAST_RTMP__MAX_CONNECTIONS_PER_IP", "4"),
            ("FERROCAST_RTMP__PROXY_HEADER_TIMEOUT", "2s"),
        ])
        .unwrap();
        assert_eq!(config.rtmp.proxy_protocol, ProxyProtocol::V2);
        assert_eq!(config.rtmp.max_connections_per_ip, 4);
        assert_eq!(config.rtmp.proxy_header_timeout.as_secs(), 2);
        let error = with_env(&[("FERROCAST_RTMP__PROXY_PROTOCOL", "v3")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid configuration"), "{error}");
    }
}
