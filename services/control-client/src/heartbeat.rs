//! Periodic heartbeats to control: liveness, load, and (for origins) lease renewal of every
//! stream being published here. A missed heartbeat is logged; leases outlive a few of them.
//!
//! The node id and role sent are the client's credential's: control refuses any other, so
//! they are not an input here. What a node reports about its streams comes from a
//! [`LoadReport`], asked once per beat.

use std::time::Duration;

use ferrocast_proto::auth::Role;
use ferrocast_proto::control::{HeartbeatRequest, NodeRole};
use tokio_util::sync::CancellationToken;

use crate::ControlClient;

/// Where this node is reached, as registered with control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Where publishers reach it (origins; empty on an edge).
    pub rtmp_url: String,
    /// Where edges reach its relay (origins; empty on an edge).
    pub relay_url: String,
}

/// One stream's load, as a heartbeat reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamLoad {
    /// The stream.
    pub stream_id: String,
    /// The epoch an origin publishes it under: its lease is renewed under this epoch
    /// (0 on an edge, which holds no lease).
    pub epoch: u64,
    /// Ingest bitrate since the previous heartbeat (origins).
    pub ingest_bitrate_bps: u64,
    /// Viewers of the stream on this node (edges).
    pub viewers: u32,
    /// How long ago the origin last received media for the stream: a holder whose media
    /// is older than control's `takeover_after` may be taken over.
    pub media_age: Duration,
}

/// What a node reports about its streams; asked once per heartbeat.
pub trait LoadReport: Send {
    /// The load of every stream this node publishes or serves now.
    fn loads(&mut self) -> Vec<StreamLoad>;
}

/// Sends heartbeats every `interval` until `stop`; once `draining` is cancelled they say so,
/// and control places no new stream here. An origin keeps beating while it drains, so the
/// leases of the publishes still running stay renewed.
pub async fn run(
    client: ControlClient,
    node: Node,
    mut report: impl LoadReport,
    interval: Duration,
    draining: CancellationToken,
    stop: CancellationToken,
) {
    let identity = client.identity().clone();
    let role = match identity.role {
        Role::Origin => NodeRole::Origin,
        Role::Edge => NodeRole::Edge,
    };
    let mut ticker = tokio::time::interval(interval);
    let mut reported_draining = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = draining.cancelled(), if !reported_draining => reported_draining = true,
            _ = ticker.tick() => {}
        }
        let streams: Vec<_> = report.loads().into_iter().map(wire_load).collect();
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

fn wire_load(load: StreamLoad) -> ferrocast_proto::control::StreamLoad {
    ferrocast_proto::control::StreamLoad {
        stream_id: load.stream_id,
        epoch: load.epoch,
        ingest_bitrate_bps: load.ingest_bitrate_bps,
        viewers: load.viewers,
        media_age_ms: u64::try_from(load.media_age.as_millis()).unwrap_or(u64::MAX),
    }
}
