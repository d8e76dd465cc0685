//! `ferrocast control`: stream objects, publish authorization, placement leases and the node
//! registry in Redis; the REST admin API and the gRPC control service, which answers only
//! nodes with a credential made from the cluster secret.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use ferrocast_control::{ControlConfig, RecordingDeps, connect_redis};
use ferrocast_ops::Drain;
use ferrocast_store::{RetryPolicy, S3Config, SegmentStore, SentinelConfig, s3_object_store};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::ops::Ops;
use crate::config::{SecretSetting, cluster_secret};

/// Settings of `ferrocast control`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlRoleConfig {
    /// REST admin API address.
    pub rest_listen: SocketAddr,
    /// gRPC address for origins and edges.
    pub grpc_listen: SocketAddr,
    /// Redis holding streams, leases and nodes. May contain a password: never logged.
    pub redis_url: String,
    /// Redis through Sentinel: when `master_name` is set, the primary is found (and found
    /// again after a failover) through these Sentinels; `redis_url` then gives only the
    /// password and database.
    pub redis_sentinel: SentinelConfig,
    /// The secret every node of the cluster shares (at least 32 characters): gRPC calls
    /// must carry a node credential made from it.
    pub cluster_secret: SecretSetting,
    /// The control service itself.
    pub control: ControlConfig,
    /// The origins' segment object storage (same bucket): control deletes recordings' objects
    /// there (ADR 21). With no bucket set, expired recordings are not deleted.
    pub s3: S3Config,
    /// Key prefix of segment objects: the origins' `segment_prefix`.
    pub segment_prefix: String,
    /// Ops endpoints: `/metrics`, `/healthz`, `/readyz`, `/drain`.
    pub ops_listen: SocketAddr,
    /// What SIGTERM does to calls in flight: `request_deadline` applies (the ingest deadlines
    /// do not: control has no publishes).
    pub drain: Drain,
}

impl Default for ControlRoleConfig {
    fn default() -> Self {
        Self {
            rest_listen: SocketAddr::from(([0, 0, 0, 0], 8090)),
            grpc_listen: SocketAddr::from(([0, 0, 0, 0], 7000)),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_sentinel: SentinelConfig::default(),
            cluster_secret: SecretSetting::default(),
            control: ControlConfig::default(),
            s3: S3Config::default(),
            segment_prefix: "live".into(),
            ops_listen: SocketAddr::from(([0, 0, 0, 0], 9100)),
            drain: Drain {
                request_deadline: Duration::from_secs(5),
                ..Drain::default()
            },
        }
    }
}

/// Runs control until `shutdown` is cancelled, then lets calls in flight finish. Refuses to
/// start without a cluster secret and an admin token of at least 32 characters each: there
/// is no default secret, and none is generated (it would have to be shown to be used).
pub async fn run(config: ControlRoleConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    // Both checked before either is reported, so one start names every bad key.
    let (secret, settings) = (
        cluster_secret(&config.cluster_secret),
        config.control.validate(),
    );
    let secret = match (secret, settings) {
        (Ok(secret), Ok(())) => secret,
        (Ok(_), Err(bad)) => return Err(bad.into()),
        (Err(bad), Ok(())) => return Err(bad),
        (Err(secret), Err(settings)) => anyhow::bail!("{secret}; {settings}"),
    };
    ferrocast_control::metrics::describe();
    let ops = Ops::start(config.ops_listen, "control", Vec::new(), &shutdown).await?;
    let redis = connect_redis(
        &config.redis_url,
        &config.redis_sentinel,
        config.control.redis_timeout,
    )
    .await
    .context("connecting to redis")?;
    let rest = TcpListener::bind(config.rest_listen)
        .await
        .with_context(|| format!("binding rest {}", config.rest_listen))?;
    let grpc = TcpListener::bind(config.grpc_listen)
        .await
        .with_context(|| format!("binding grpc {}", config.grpc_listen))?;
    tracing::info!(rest = %config.rest_listen, grpc = %config.grpc_listen, "control started");
    ops.health.set_ready();
    let store = if config.s3.bucket.is_empty() {
        None
    } else {
        let objects = s3_object_store(&config.s3).context("s3")?;
        let prefix = config.segment_prefix.clone();
        Some(SegmentStore::new(objects, prefix, RetryPolicy::default()))
    };
    // The webhooks outbox takes the events here once it exists; until then they are dropped.
    let recordings = RecordingDeps {
        store,
        ..RecordingDeps::default()
    };
    let deadline = config.drain.request_deadline;
    let serving = ferrocast_control::run_with(
        config.control,
        secret,
        redis,
        recordings,
        (rest, grpc),
        shutdown.clone(),
    );
    let drain_deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(deadline).await;
    };
    let result = tokio::select! {
        result = serving => result.map_err(anyhow::Error::from),
        () = drain_deadline => {
            tracing::warn!(deadline = ?deadline, "drain deadline reached; closing remaining calls");
            Ok(())
        }
    };
    ops.stop().await;
    tracing::info!("control stopped");
    result
}
