//! The ops HTTP server: `/metrics`, `/healthz`, `/readyz` and a loopback-only `/drain`.
//!
//! It runs on [`crate::http::serve`] with a small connection cap and a spare descriptor, so
//! it still answers when a flood of connections on a public port has used up the others.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::health::{Health, Readiness};
use crate::http::{ConnectionLimits, ServerOptions, Shutdown};
use crate::recorder::Collector;

/// How often histograms are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The ops port's connection bounds: probes and scrapers need a handful of connections, and
/// every one of them comes out of the descriptors kept in reserve for this port.
pub const LIMITS: ConnectionLimits = ConnectionLimits {
    header_read_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(60),
    max_connections: 32,
};

/// How long a scrape in flight may finish once the role stops.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// What the ops endpoints read and drive.
#[derive(Clone)]
pub struct OpsState {
    /// Readiness.
    pub health: Health,
    /// Renders the exposition; `None` when no recorder is installed (tests, libraries).
    pub metrics: Option<PrometheusHandle>,
    /// Run before each render to set gauges from live state.
    pub collectors: Vec<Collector>,
    /// Cancelled by `POST /drain`: the same token SIGTERM cancels.
    pub drain: CancellationToken,
}

/// Serves the ops endpoints on `listener` until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: OpsState, stop: CancellationToken) {
    crate::http::describe();
    if let Some(handle) = state.metrics.clone() {
        tokio::spawn(upkeep(handle, stop.clone()));
    }
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/drain", post(drain))
        .with_state(state);
    let options = ServerOptions {
        name: "ops",
        limits: LIMITS,
        write_timeout: Duration::from_secs(10),
        spare_descriptor: true,
    };
    let shutdown = Shutdown {
        token: stop,
        drain_deadline: STOP_DEADLINE,
    };
    crate::http::serve(listener, app, options, shutdown).await;
}

async fn upkeep(handle: PrometheusHandle, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => handle.run_upkeep(),
        }
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "no metrics recorder installed\n").into_response();
    };
    for collect in &state.collectors {
        collect();
    }
    crate::http::collect();
    let mut body = handle.render();
    crate::process::render(&mut body);
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<OpsState>) -> (StatusCode, &'static str) {
    if state.drain.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    match state.health.readiness() {
        Readiness::Ready => (StatusCode::OK, "ready\n"),
        Readiness::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
        Readiness::Draining => (StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
    }
}

/// Loopback only: the ops port is reachable by the cluster's Prometheus, which must not be able
/// to take nodes out of service; a pod's own `preStop` hook connects from loopback.
async fn drain(
    State(state): State<OpsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> (StatusCode, &'static str) {
    if !peer.ip().is_loopback() {
        tracing::warn!(%peer, "drain refused: not from loopback");
        return (
            StatusCode::FORBIDDEN,
            "drain is accepted from loopback only\n",
        );
    }
    tracing::info!("drain requested over the ops port");
    state.drain.cancel();
    (StatusCode::ACCEPTED, "draining\n")
}
