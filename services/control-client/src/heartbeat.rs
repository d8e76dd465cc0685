//! Periodic heartbeats to control: liveness, load, and (for origins) lease renewal of every
//! stream being published here. A missed heartbeat is logged; leases outlive a few of them.
//!
//! The node id and role sent are the client's credential's: control refuses any other, so
//! they are not an input here. What a node reports about its streams comes from a
//! [`LoadReport`], asked once per beat; the proto message is built here, from a [`Beat`].

use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_proto::auth::{NodeIdentity, Role};
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
    pub stream_id: StreamId,
    /// The epoch an origin publishes it under: its lease is renewed under this epoch
    /// (0 on an edge, which holds no lease).
    pub epoch: Epoch,
    /// Ingest bitrate since the previous heartbeat (origins).
    pub ingest_bitrate_bps: u64,
    /// Viewers of the stream on this node (edges).
    pub viewers: u32,
    /// How long ago the origin last received media for the stream: a holder whose media
    /// is older than control's `takeover_after` may be taken over.
    pub media_age: Duration,
}

/// What one heartbeat tells control about this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Beat {
    /// Where the node is reached.
    pub node: Node,
    /// The node is draining: control places no new stream here.
    pub draining: bool,
    /// The load of every stream it publishes or serves now.
    pub streams: Vec<StreamLoad>,
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
    let mut ticker = tokio::time::interval(interval);
    let mut reported_draining = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = draining.cancelled(), if !reported_draining => reported_draining = true,
            _ = ticker.tick() => {}
        }
        let beat = Beat {
            node: node.clone(),
            draining: draining.is_cancelled(),
            streams: report.loads(),
        };
        if let Err(error) = client.heartbeat(&beat).await {
            tracing::warn!(%error, "heartbeat to control failed");
        }
    }
}

/// The wire message of `beat`, sent as the node `identity` names (control refuses any other).
pub(crate) fn request(identity: &NodeIdentity, beat: &Beat) -> HeartbeatRequest {
    let role = match identity.role {
        Role::Origin => NodeRole::Origin,
        Role::Edge => NodeRole::Edge,
    };
    let streams: Vec<_> = beat.streams.iter().map(wire_load).collect();
    let viewers = streams.iter().map(|stream| stream.viewers).sum();
    HeartbeatRequest {
        node_id: identity.node_id.clone(),
        role: role.into(),
        rtmp_url: beat.node.rtmp_url.clone(),
        relay_url: beat.node.relay_url.clone(),
        draining: beat.draining,
        streams,
        viewers,
    }
}

fn wire_load(load: &StreamLoad) -> ferrocast_proto::control::StreamLoad {
    ferrocast_proto::control::StreamLoad {
        stream_id: load.stream_id.as_str().to_owned(),
        epoch: load.epoch.get(),
        ingest_bitrate_bps: load.ingest_bitrate_bps,
        viewers: load.viewers,
        media_age_ms: u64::try_from(load.media_age.as_millis()).unwrap_or(u64::MAX),
    }
}
