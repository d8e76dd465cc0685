//! `ferrocast control`: stream objects, publish authorization, placement leases and the node
//! registry in Redis; the REST admin API and the gRPC control service.

use std::net::SocketAddr;

use anyhow::Context;
use ferrocast_control::{ControlConfig, connect_redis, generate_admin_token};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
    /// The control service itself.
    pub control: ControlConfig,
}

impl Default for ControlRoleConfig {
    fn default() -> Self {
        Self {
            rest_listen: SocketAddr::from(([0, 0, 0, 0], 8090)),
            grpc_listen: SocketAddr::from(([0, 0, 0, 0], 7000)),
            redis_url: "redis://127.0.0.1:6379".into(),
            control: ControlConfig::default(),
        }
    }
}

/// Runs control until `shutdown` is cancelled.
pub async fn run(mut config: ControlRoleConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    if config.control.admin_token.is_empty() {
        // There is no default secret: make one and show it once.
        config.control.admin_token = generate_admin_token();
        println!("ADMIN_TOKEN={}", config.control.admin_token);
        tracing::warn!("no admin token configured: generated one and printed it on stdout");
    }
    let redis = connect_redis(&config.redis_url, config.control.redis_timeout)
        .await
        .context("connecting to redis")?;
    let rest = TcpListener::bind(config.rest_listen)
        .await
        .with_context(|| format!("binding rest {}", config.rest_listen))?;
    let grpc = TcpListener::bind(config.grpc_listen)
        .await
        .with_context(|| format!("binding grpc {}", config.grpc_listen))?;
    tracing::info!(rest = %config.rest_listen, grpc = %config.grpc_listen, "control started");
    ferrocast_control::run(config.control, redis, rest, grpc, shutdown).await?;
    Ok(())
}
