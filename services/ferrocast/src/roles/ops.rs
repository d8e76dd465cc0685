//! The ops port of a role: the Prometheus recorder, readiness, and the drain trigger, plus
//! the `[metrics]` settings roles share, and the open-file limit the public listeners'
//! connection caps must fit in. The drain deadlines are [`ferrocast_ops::Drain`].

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use ferrocast_ops::{Collector, Health, OpsState};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's metrics recorder. Called once by `main`, before the role starts.
pub fn install_recorder() -> anyhow::Result<()> {
    let handle = ferrocast_ops::recorder::install().context("installing the metrics recorder")?;
    let _ = RECORDER.set(handle);
    ferrocast_ops::process::mark_start();
    Ok(())
}

/// Raises the soft open-file limit to the hard one and logs the result once. Called by `main`
/// before a role starts; a failure only leaves the limit as it was.
pub fn raise_open_file_limit() {
    match ferrocast_ops::fd::raise_open_file_limit() {
        Ok(limit) => tracing::info!(
            limit = limit.now,
            was = limit.before,
            hard = limit.hard,
            "open-file limit"
        ),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

/// The client connections each of `listeners` public listeners may hold so that, together,
/// they leave [`ferrocast_ops::fd::RESERVE`] descriptors for the ops port, backends and files;
/// `None` when the process has no open-file limit.
pub fn connection_share(listeners: usize) -> Option<usize> {
    let budget = ferrocast_ops::fd::connection_budget(ferrocast_ops::fd::open_file_limit())?;
    Some(budget / listeners.max(1))
}

/// Per-stream metric series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Streams that get their own bitrate and segment-age series; 0 turns them off.
    pub per_stream_limit: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            per_stream_limit: 1000,
        }
    }
}

/// A running ops server.
pub struct Ops {
    /// Readiness, turned false by the drain.
    pub health: Health,
    /// The bound ops address.
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Ops {
    /// Binds `listen` and serves `/metrics`, `/healthz`, `/readyz` and `/drain`, which
    /// cancels `drain` as SIGTERM does.
    pub async fn start(
        listen: SocketAddr,
        role: &'static str,
        mut collectors: Vec<Collector>,
        drain: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding ops {listen}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(ops = %addr, "ops endpoints serving");
        collectors.push(Arc::new(move || {
            let version = env!("CARGO_PKG_VERSION");
            metrics::gauge!("ferrocast_build_info", "role" => role, "version" => version).set(1.0);
        }));
        let health = Health::default();
        health.follow(drain);
        let state = OpsState {
            health: health.clone(),
            metrics: RECORDER.get().cloned(),
            collectors,
            drain: drain.clone(),
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(ferrocast_ops::serve(listener, state, stop.clone()));
        Ok(Self {
            health,
            addr,
            stop,
            task,
        })
    }

    /// Stops serving; the last thing a role does before it returns.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
