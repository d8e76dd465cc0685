//! Periodic heartbeats to control: liveness, load, and (for origins) lease renewal of every
//! stream being published here. A missed heartbeat is logged; leases outlive a few of them.
//! The node id and role sent are the client's credential's: control refuses any other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrocast_control::{ControlClient, HeldStream, LocalControl};
use ferrocast_origin::{IngestRates, Publishing};
use ferrocast_proto::auth::Role;
use ferrocast_proto::control::{HeartbeatRequest, NodeRole, StreamLoad};
use ferrocast_relay::RelaySource;
use tokio_util::sync::CancellationToken;

/// Where this node is reached, as registered with control (who it is comes from the client's
/// credential).
pub struct Node {
    /// Where publishers reach it (origins).
    pub rtmp_url: String,
    /// Where edges reach its relay (origins).
    pub relay_url: String,
}

/// What a node reports about its streams.
pub enum Load {
    /// An origin's publishes: renews their leases, reports ingest bitrate.
    Origin(Arc<Publishing>),
    /// An edge's relayed streams: reports HTTP-FLV viewers (HLS requests are stateless and
    /// are not counted as viewers).
    Edge(Arc<RelaySource>),
}

/// Sends heartbeats every `interval` until `stop`; once `draining` is cancelled they say so,
/// and control places no new stream here. An origin keeps beating while it drains, so the
/// leases of the publishes still running stay renewed.
pub async fn run(
    client: ControlClient,
    node: Node,
    load: Load,
    interval: Duration,
    draining: CancellationToken,
    stop: CancellationToken,
) {
    let identity = client.identity().clone();
    let role = match identity.role {
        Role::Origin => NodeRole::Origin,
        Role::Edge => NodeRole::Edge,
    };
    let mut rates = IngestRates::default();
    let mut ticker = tokio::time::interval(interval);
    let mut reported_draining = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = draining.cancelled(), if !reported_draining => reported_draining = true,
            _ = ticker.tick() => {}
        }
        let streams = match &load {
            Load::Origin(publishing) => origin_loads(publishing, &mut rates),
            Load::Edge(relay) => edge_loads(relay),
        };
        let viewers = streams.iter().map(|stream| stream.viewers).sum();
        let request = HeartbeatRequest {
            node_id: identity.node_id.clone(),
            role: role.into(),
            rtmp_url: node.rtmp_url.clone(),
            relay_url: node.relay_url.clone(),
            draining: draining.is_cancelled(),
            streams,
            viewers,
        };
        if let Err(error) = client.heartbeat(request).await {
            tracing::warn!(%error, "heartbeat to control failed");
        }
    }
}

fn edge_loads(relay: &RelaySource) -> Vec<StreamLoad> {
    let counts = relay.viewer_counts();
    let watched = counts.into_iter().filter(|(_, viewers)| *viewers > 0);
    watched
        .map(|(stream_id, viewers)| StreamLoad {
            stream_id,
            epoch: 0,
            ingest_bitrate_bps: 0,
            viewers: u32::try_from(viewers).unwrap_or(u32::MAX),
            media_age_ms: 0,
        })
        .collect()
}

/// Each stream's ingest bitrate since the previous heartbeat.
fn origin_loads(publishing: &Publishing, rates: &mut IngestRates) -> Vec<StreamLoad> {
    let reports = publishing.reports();
    let bitrates = rates.sample(&reports, Instant::now(), Duration::ZERO);
    reports
        .into_iter()
        .zip(bitrates)
        .map(|(report, bitrate)| StreamLoad {
            stream_id: report.stream_id,
            epoch: report.epoch,
            ingest_bitrate_bps: bitrate.unwrap_or(0.0) as u64,
            viewers: 0,
            media_age_ms: u64::try_from(report.media_age.as_millis()).unwrap_or(u64::MAX),
        })
        .collect()
}

/// `dev`'s heartbeats: the same renewal, through the same lease policy, against the
/// in-process control, every `interval` until `stop`.
pub async fn run_local(
    control: Arc<LocalControl>,
    publishing: Arc<Publishing>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let held: Vec<HeldStream> = publishing
            .reports()
            .into_iter()
            .map(|report| HeldStream {
                stream_id: report.stream_id,
                epoch: report.epoch,
                media_age: report.media_age,
            })
            .collect();
        control.heartbeat(&held).await;
    }
}
