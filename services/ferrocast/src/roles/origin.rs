//! `ferrocast origin`: RTMP ingest authorized by control, HLS segments to S3 and the Redis
//! index, and the gRPC relay that edges pull live streams from. Calls to control carry this
//! origin's cluster credential; the relay serves only edges that carry theirs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrocast_control_client::{ClientOptions, ControlClient, Role};
use ferrocast_live::{HubLimits, Hubs, PartLogs};
use ferrocast_ops::Collector;
use ferrocast_origin::metrics::Collector as OriginCollector;
use ferrocast_origin::{BufferBudget, OriginConfig, OriginDeps, Publishing};
use ferrocast_store::{
    RedisIndex, RedisIndexConfig, RetryPolicy, S3Config, SegmentStore, SentinelConfig,
    s3_object_store,
};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::heartbeat::{self, Load, Node};
use super::ops::{MetricsConfig, Ops, connection_share};
use super::{node_id, url_host};
use crate::config::{SecretSetting, cluster_secret, optional_url, require_scheme};

/// Settings of `ferrocast origin`: the process's (listeners, identity, backends, ops) and,
/// under `origin`, the ingest's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginRoleConfig {
    /// Node id in the registry; generated when unset. Letters, digits, '.', '_' and '-'.
    pub node_id: Option<String>,
    /// The secret every node of the cluster shares (at least 32 characters): this origin's
    /// credential to control, and the key that checks edges' credentials at the relay.
    pub cluster_secret: SecretSetting,
    /// RTMP ingest address.
    pub rtmp_listen: SocketAddr,
    /// gRPC relay address for edges.
    pub relay_listen: SocketAddr,
    /// RTMP URL publishers use for this node (`rtmp://host:port/live`); derived from
    /// `rtmp_listen` when unset.
    #[serde(with = "optional_url")]
    pub public_rtmp_url: Option<Url>,
    /// Relay URL edges use for this node (`http://host:port`); derived from `relay_listen`
    /// when unset.
    #[serde(with = "optional_url")]
    pub public_relay_url: Option<Url>,
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
    /// How often to tell control this origin and its streams are alive.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Ops endpoints: `/metrics`, `/healthz`, `/readyz`, `/drain`.
    pub ops_listen: SocketAddr,
    /// Per-stream metric series.
    pub metrics: MetricsConfig,
    /// The ingest: publish application, RTMP server, HLS packaging, viewers, drain.
    pub origin: OriginConfig,
}

impl Default for OriginRoleConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            cluster_secret: SecretSetting::default(),
            rtmp_listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            relay_listen: SocketAddr::from(([0, 0, 0, 0], 7070)),
            public_rtmp_url: None,
            public_relay_url: None,
            control_url: "http://127.0.0.1:7000".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_sentinel: SentinelConfig::default(),
            s3: S3Config::default(),
            segment_prefix: "live".into(),
            heartbeat_interval: Duration::from_millis(500),
            ops_listen: SocketAddr::from(([0, 0, 0, 0], 9101)),
            metrics: MetricsConfig::default(),
            origin: OriginConfig::default(),
        }
    }
}

impl OriginRoleConfig {
    /// Checks what the types cannot: the public URLs' schemes.
    fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_rtmp_url {
            require_scheme("public_rtmp_url", url, &["rtmp", "rtmps"])?;
        }
        if let Some(url) = &self.public_relay_url {
            require_scheme("public_relay_url", url, &["http", "https"])?;
        }
        Ok(())
    }
}

/// Runs an origin until `shutdown` is cancelled, then drains it.
pub async fn run(config: OriginRoleConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate()?;
    let secret = cluster_secret(&config.cluster_secret)?;
    let node = node_id(config.node_id.as_deref(), "origin");
    let credential = secret.credential(Role::Origin, &node)?;
    ferrocast_origin::metrics::describe();
    ferrocast_relay::metrics::describe_origin();
    let publishing: Arc<Publishing> = Arc::default();
    let buffers = Arc::new(BufferBudget::new(config.origin.hls.buffer_bytes_total));
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
    let hubs = Arc::new(Hubs::new(HubLimits::holding(config.origin.viewers.max_lag)));
    let part_logs = Arc::new(PartLogs::new(config.origin.hls.log_config()));

    let rtmp = TcpListener::bind(config.rtmp_listen)
        .await
        .with_context(|| format!("binding rtmp {}", config.rtmp_listen))?;
    let relay = TcpListener::bind(config.relay_listen)
        .await
        .with_context(|| format!("binding relay {}", config.relay_listen))?;
    let node_info = public_urls(&config, rtmp.local_addr()?, relay.local_addr()?);
    tracing::info!(node_id = %node, rtmp = %node_info.rtmp_url, relay = %node_info.relay_url, "origin started");

    let deps = OriginDeps {
        authorizer: Arc::new(control.clone()),
        directory: Arc::new(control.clone()),
        index: Arc::new(index),
        store,
        hubs: hubs.clone(),
        publishing,
        buffers,
        part_logs: part_logs.clone(),
    };
    let mut origin_config = config.origin;
    // RTMP connections get what the descriptor reserve leaves (relay streams are few).
    origin_config.rtmp.max_connections = ferrocast_ops::fd::fit_cap(
        "origin.rtmp.max_connections",
        origin_config.rtmp.max_connections,
        connection_share(1),
    );
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
        ferrocast_relay::serve(relay, hubs, part_logs, secret, ingest_done.clone()),
        beats,
    );
    ops.stop().await;
    relayed.context("relay server")?;
    tracing::info!("origin stopped");
    Ok(())
}

/// What this origin reports to control: its RTMP URL without the application (publishers
/// add it), and its relay URL; each the configured one, or derived from the bound address.
fn public_urls(config: &OriginRoleConfig, rtmp: SocketAddr, relay: SocketAddr) -> Node {
    let app = &config.origin.publish_app;
    let rtmp_url = match &config.public_rtmp_url {
        Some(url) => url.as_str().trim_end_matches(&format!("/{app}")).to_owned(),
        None => format!("rtmp://{}:{}", url_host(rtmp), rtmp.port()),
    };
    let relay_url = match &config.public_relay_url {
        // `Url` writes an empty path as "/"; edges dial the bare origin.
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("http://{}:{}", url_host(relay), relay.port()),
    };
    Node {
        rtmp_url,
        relay_url,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use ferrocast_origin::ProxyProtocol;

    use super::{OriginRoleConfig, public_urls};
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
            ("FERROCAST_ORIGIN__RTMP__PROXY_PROTOCOL", "v2"),
            ("FERROCAST_ORIGIN__RTMP__MAX_CONNECTIONS_PER_IP", "4"),
            ("FERROCAST_ORIGIN__RTMP__PROXY_HEADER_TIMEOUT", "2s"),
        ])
        .unwrap();
        let rtmp = &config.origin.rtmp;
        assert_eq!(rtmp.proxy_protocol, ProxyProtocol::V2);
        assert_eq!(rtmp.max_connections_per_ip, 4);
        assert_eq!(rtmp.proxy_header_timeout.as_secs(), 2);
        let error = with_env(&[("FERROCAST_ORIGIN__RTMP__PROXY_PROTOCOL", "v3")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid configuration"), "{error}");
        assert!(error.contains("origin.rtmp.proxy_protocol"), "{error}");
    }

    #[test]
    fn public_urls_are_the_configured_ones_or_derived() {
        let rtmp = "0.0.0.0:1935".parse().unwrap();
        let relay = "10.0.0.7:7070".parse().unwrap();
        let derived = public_urls(&OriginRoleConfig::default(), rtmp, relay);
        assert_eq!(derived.rtmp_url, "rtmp://127.0.0.1:1935");
        assert_eq!(derived.relay_url, "http://10.0.0.7:7070");

        let config = with_env(&[
            (
                "FERROCAST_PUBLIC_RTMP_URL",
                "rtmp://ingest.example:1935/live",
            ),
            (
                "FERROCAST_PUBLIC_RELAY_URL",
                "http://origin-1.internal:7070",
            ),
        ])
        .unwrap();
        config.validate().unwrap();
        let configured = public_urls(&config, rtmp, relay);
        assert_eq!(configured.rtmp_url, "rtmp://ingest.example:1935");
        assert_eq!(configured.relay_url, "http://origin-1.internal:7070");
    }

    #[test]
    fn a_public_url_of_the_wrong_kind_is_refused_at_start() {
        let config =
            with_env(&[("FERROCAST_PUBLIC_RTMP_URL", "http://ingest.example/live")]).unwrap();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("public_rtmp_url"), "{error}");
        // Without its scheme, "host:port" reads as a URL of scheme "host".
        let config = with_env(&[("FERROCAST_PUBLIC_RELAY_URL", "origin-1:7070")]).unwrap();
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("public_relay_url must start with http://"),
            "{error}"
        );
        let error = with_env(&[("FERROCAST_PUBLIC_RELAY_URL", "origin-1/relay")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("public_relay_url"), "{error}");
    }
}
