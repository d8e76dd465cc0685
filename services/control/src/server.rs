//! The `ferrocast control` role as a library: the gRPC service origins and edges call, the
//! REST admin API operators call, both over one Redis.

pub(crate) mod config;
mod grpc;
mod keys;
mod leases;
pub mod metrics;
mod nodes;
mod reaper;
mod recordings;
mod repo;
mod rest;
mod signing;
mod signing_rest;
mod views;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrocast_proto::auth::{ClusterSecret, Verifier};
use ferrocast_proto::control::control_server::ControlServer;
use ferrocast_store::{RedisIndex, RedisLink, SegmentIndex, SegmentStore, SentinelConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{ControlConfig, MIN_ADMIN_TOKEN_CHARS, RecordingsConfig};
pub use leases::RedisLeaseStore;
pub use repo::RepoError;

use crate::credentials::key_hash;
use crate::lease::LeasePolicy;
use crate::recordings::{NoRecordingEvents, RecordingEvents};
use repo::Repo;
use webhooks::Webhooks;

/// Why the control service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid; the message names every bad key.
    #[error("invalid control configuration: {0}")]
    Config(String),
    /// Redis could not be reached at start-up.
    #[error("cannot connect to redis: {0}")]
    Redis(#[source] redis::RedisError),
    /// Redis did not answer at start-up within the deadline.
    #[error("cannot connect to redis: no answer within {0:?}")]
    RedisTimeout(Duration),
    /// The REST listener failed.
    #[error("admin API server failed: {0}")]
    Rest(#[source] std::io::Error),
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Grpc(#[source] tonic::transport::Error),
}

/// What the gRPC and REST handlers share.
pub(crate) struct Shared {
    config: ControlConfig,
    repo: Repo,
    /// Placement leases over the same Redis.
    leases: LeasePolicy<RedisLeaseStore>,
    /// Only the hash is kept, so comparisons are constant-time over equal lengths.
    admin_token_hash: [u8; 32],
    /// The outbox of signed webhooks, and the stream lifecycle that feeds it.
    webhooks: Webhooks,
    /// The segment index, for recordings (ADR 21).
    index: Arc<dyn SegmentIndex>,
    /// Where recordings' objects are deleted; without it nothing is deleted.
    store: Option<SegmentStore>,
    /// Who hears `recording.ready` and `recording.deleted`.
    events: Arc<dyn RecordingEvents>,
}

/// What control needs for recordings beyond its Redis (ADR 21).
#[derive(Clone)]
pub struct RecordingDeps {
    /// The segment object store the origins write to (same bucket and prefix). Without it
    /// control neither reaps expired recordings nor deletes one on request (503).
    pub store: Option<SegmentStore>,
    /// Who hears about recordings becoming ready and being deleted.
    pub events: Arc<dyn RecordingEvents>,
}

impl Default for RecordingDeps {
    fn default() -> Self {
        Self {
            store: None,
            events: Arc::new(NoRecordingEvents),
        }
    }
}

/// Connects to the Redis primary (at `url`, or found through `sentinel` when that is set)
/// with `timeout` on connecting, on every response and on a Sentinel lookup, so no call can
/// hang. Follows the primary by itself afterwards; lease grants wait for
/// `sentinel.min_replicas` replicas.
pub async fn connect_redis(
    url: &str,
    sentinel: &SentinelConfig,
    timeout: Duration,
) -> Result<RedisLink, ServerError> {
    let link = RedisLink::new(url, sentinel, timeout).map_err(ServerError::Redis)?;
    match tokio::time::timeout(timeout.saturating_mul(3), link.check()).await {
        Ok(Ok(())) => Ok(link),
        Ok(Err(error)) => Err(ServerError::Redis(error)),
        Err(_) => Err(ServerError::RedisTimeout(timeout)),
    }
}

/// Serves the gRPC control service on `grpc_listener` and the REST admin API on
/// `rest_listener` until `shutdown` is cancelled (then both finish in-flight requests).
/// Refuses to start with an invalid configuration, including an admin token shorter than
/// 32 characters. Every gRPC call must carry a node credential made with `cluster_secret`;
/// the caller's role and node id come from it.
pub async fn run(
    config: ControlConfig,
    cluster_secret: ClusterSecret,
    redis: RedisLink,
    rest_listener: TcpListener,
    grpc_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let listeners = (rest_listener, grpc_listener);
    let deps = RecordingDeps::default();
    run_with(config, cluster_secret, redis, deps, listeners, shutdown).await
}

/// [`run`], with the object store and event sink of recordings: the recording reaper runs
/// on every replica (ADR 21) when `recordings.store` is set.
pub async fn run_with(
    config: ControlConfig,
    cluster_secret: ClusterSecret,
    redis: RedisLink,
    recordings: RecordingDeps,
    (rest_listener, grpc_listener): (TcpListener, TcpListener),
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    config.validate()?;
    // Webhook delivery uses rustls with the ring provider, which must be chosen once per
    // process (the binary does it first; an error here means it is chosen already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let index: Arc<dyn SegmentIndex> =
        Arc::new(RedisIndex::over_link(redis.clone(), config.redis_timeout));
    let repo = Repo::new(redis, config.redis_timeout);
    let lease_store = RedisLeaseStore::over(repo.clone(), config.lease_ttl);
    let webhooks = Webhooks::over(
        repo.clone(),
        config.webhooks.clone(),
        config.reconnect_window,
    )
    .map_err(|error| ServerError::Config(error.to_string()))?;
    let shared = Arc::new(Shared {
        webhooks: webhooks.clone(),
        admin_token_hash: key_hash(&config.admin_token),
        leases: LeasePolicy::new(lease_store, config.takeover_after),
        repo,
        config,
        index,
        store: recordings.store,
        events: recordings.events,
    });
    let reaping = match shared.store {
        Some(_) => Some(tokio::spawn(reaper::run(shared.clone(), shutdown.clone()))),
        None => {
            tracing::warn!("no object store configured: expired recordings are not deleted");
            None
        }
    };
    tracing::info!(
        rest = ?rest_listener.local_addr().ok(),
        grpc = ?grpc_listener.local_addr().ok(),
        "control serving"
    );
    // One failing server stops the other, so the process never runs half a control plane.
    let stop = shutdown.child_token();
    let background = webhooks.spawn(stop.clone());
    let rest = {
        let stop = stop.clone();
        let router = rest::router(shared.clone());
        async move {
            let result = axum::serve(rest_listener, router)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .await
                .map_err(ServerError::Rest);
            stop.cancel();
            result
        }
    };
    let grpc = {
        let stop = stop.clone();
        // Server-side bound on a handler: a few Redis calls, each under its own deadline,
        // plus the wait of an authorization for a holder to go quiet.
        let handler_deadline = shared
            .config
            .redis_timeout
            .saturating_mul(4)
            .saturating_add(shared.leases.decision_wait());
        let service = ControlServer::with_interceptor(
            grpc::ControlService::new(shared),
            Verifier::new(cluster_secret),
        );
        async move {
            let result = tonic::transport::Server::builder()
                .timeout(handler_deadline)
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(grpc_listener),
                    stop.clone().cancelled_owned(),
                )
                .await
                .map_err(ServerError::Grpc);
            stop.cancel();
            result
        }
    };
    let (rest, grpc) = tokio::join!(rest, grpc);
    stop.cancel();
    let _ = background.await;
    if let Some(reaping) = reaping {
        reaping.abort();
    }
    tracing::info!("control stopped");
    rest.and(grpc)
}

/// Now, Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
