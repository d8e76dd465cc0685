//! The node registry: what each origin and edge last reported in its heartbeat.
//!
//! A registration is `fc:node:<id>` with a TTL, so a node that stops heartbeating disappears
//! by itself; `fc:nodes` lists ids to read them back and is pruned of expired ones on read.

use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_proto::auth::{self, NodeIdentity};
use ferrocast_proto::control::{HeartbeatRequest, NodeRole};
use serde::{Deserialize, Serialize};

use super::config::millis;
use super::keys;
use super::repo::{Repo, RepoError, decode, encode};

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes RTMP publishes and serves the relay.
    Origin,
    /// Serves viewers.
    Edge,
    /// The node did not say.
    Unspecified,
}

/// One stream as a node reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStream {
    /// The stream.
    pub stream_id: StreamId,
    /// The epoch the node publishes under (origins) or 0.
    pub epoch: Epoch,
    /// Ingest bitrate (origins).
    pub ingest_bitrate_bps: u64,
    /// Viewers of the stream on this node.
    pub viewers: u32,
}

/// A node's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's id.
    pub node_id: String,
    /// What it does.
    pub role: Role,
    /// Where publishers reach it (origins): `rtmp://host:port`.
    pub rtmp_url: String,
    /// Where edges reach its relay (origins): `http://host:port`.
    pub relay_url: String,
    /// Whether it is shutting down and takes no new publishes.
    pub draining: bool,
    /// Its streams with their load.
    pub streams: Vec<NodeStream>,
    /// All its viewers.
    pub viewers: u32,
    /// When control received the heartbeat, Unix milliseconds.
    pub last_seen_ms: u64,
}

impl Role {
    /// The role a heartbeat's body names.
    pub fn reported(role: i32) -> Self {
        match NodeRole::try_from(role) {
            Ok(NodeRole::Origin) => Role::Origin,
            Ok(NodeRole::Edge) => Role::Edge,
            _ => Role::Unspecified,
        }
    }
}

impl From<auth::Role> for Role {
    fn from(role: auth::Role) -> Self {
        match role {
            auth::Role::Origin => Role::Origin,
            auth::Role::Edge => Role::Edge,
        }
    }
}

impl NodeRecord {
    /// The registration a heartbeat from `caller` makes: who it is comes from the credential,
    /// what it reports from the body.
    pub fn from_heartbeat(caller: &NodeIdentity, request: &HeartbeatRequest, now_ms: u64) -> Self {
        Self {
            node_id: caller.node_id.clone(),
            role: caller.role.into(),
            rtmp_url: request.rtmp_url.clone(),
            relay_url: request.relay_url.clone(),
            draining: request.draining,
            streams: request
                .streams
                .iter()
                .map(|s| NodeStream {
                    stream_id: StreamId::new(s.stream_id.as_str()),
                    epoch: Epoch(s.epoch),
                    ingest_bitrate_bps: s.ingest_bitrate_bps,
                    viewers: s.viewers,
                })
                .collect(),
            viewers: request.viewers,
            last_seen_ms: now_ms,
        }
    }

    /// Whether it heartbeated within `ttl` of `now_ms`. The key's TTL already removes stale
    /// nodes; this also covers a registration read just before it expires.
    pub fn is_fresh(&self, now_ms: u64, ttl: Duration) -> bool {
        now_ms.saturating_sub(self.last_seen_ms) <= millis(ttl)
    }

    /// What it reported for one stream.
    pub fn stream(&self, stream_id: &StreamId) -> Option<&NodeStream> {
        self.streams.iter().find(|s| s.stream_id == *stream_id)
    }
}

impl Repo {
    /// Stores a heartbeat's registration for `ttl`.
    pub async fn put_node(&self, node: &NodeRecord, ttl: Duration) -> Result<(), RepoError> {
        let json = encode(node, &node.node_id)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(keys::node(&node.node_id))
            .arg(json)
            .arg("PX")
            .arg(millis(ttl))
            .ignore()
            .cmd("SADD")
            .arg(keys::NODES)
            .arg(&node.node_id)
            .ignore();
        let mut con = self.con();
        self.deadline("put node", pipe.query_async::<()>(&mut con))
            .await
    }

    /// A node's registration, if it has not expired.
    pub async fn node(&self, node_id: &str) -> Result<Option<NodeRecord>, RepoError> {
        let key = keys::node(node_id);
        let mut con = self.con();
        let raw: Option<String> = self
            .deadline(
                "get node",
                redis::cmd("GET").arg(&key).query_async(&mut con),
            )
            .await?;
        raw.map(|raw| decode(&raw, &key)).transpose()
    }

    /// Every registration that has not expired.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, RepoError> {
        let mut con = self.con();
        let ids: Vec<String> = self
            .deadline(
                "list nodes",
                redis::cmd("SMEMBERS")
                    .arg(keys::NODES)
                    .query_async(&mut con),
            )
            .await?;
        let keys: Vec<String> = ids.iter().map(|id| keys::node(id)).collect();
        let mut nodes = Vec::with_capacity(ids.len());
        let mut expired = Vec::new();
        for ((id, key), raw) in ids
            .iter()
            .zip(&keys)
            .zip(self.mget("get nodes", &keys).await?)
        {
            match raw {
                Some(raw) => nodes.push(decode::<NodeRecord>(&raw, key)?),
                None => expired.push(id.as_str()),
            }
        }
        if !expired.is_empty() {
            // A node that heartbeats between the read and this removal is re-added by its
            // next heartbeat, so the race only delays it by one interval.
            let mut con = self.con();
            self.deadline(
                "prune nodes",
                redis::cmd("SREM")
                    .arg(keys::NODES)
                    .arg(&expired)
                    .query_async::<()>(&mut con),
            )
            .await?;
        }
        nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(nodes)
    }
}

/// The healthy origin that should take the next publisher: not draining, heartbeat fresh,
/// with an RTMP address; fewest publishers, then least ingest bitrate, then fewest viewers.
pub fn least_loaded_origin(
    nodes: &[NodeRecord],
    now_ms: u64,
    ttl: Duration,
) -> Option<&NodeRecord> {
    nodes
        .iter()
        .filter(|n| n.role == Role::Origin && !n.draining && !n.rtmp_url.is_empty())
        .filter(|n| n.is_fresh(now_ms, ttl))
        .min_by_key(|n| {
            let bitrate: u64 = n.streams.iter().map(|s| s.ingest_bitrate_bps).sum();
            (n.streams.len(), bitrate, n.viewers, n.node_id.clone())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(id: &str, streams: usize, draining: bool, last_seen_ms: u64) -> NodeRecord {
        NodeRecord {
            node_id: id.into(),
            role: Role::Origin,
            rtmp_url: format!("rtmp://{id}:1935"),
            relay_url: String::new(),
            draining,
            streams: (0..streams)
                .map(|i| NodeStream {
                    stream_id: StreamId::new(format!("s{i}")),
                    epoch: Epoch(1),
                    ingest_bitrate_bps: 1000,
                    viewers: 0,
                })
                .collect(),
            viewers: 0,
            last_seen_ms,
        }
    }

    #[test]
    fn picks_the_least_loaded_healthy_origin() {
        let ttl = Duration::from_secs(10);
        let nodes = [
            origin("busy", 3, false, 100_000),
            origin("draining", 0, true, 100_000),
            origin("stale", 0, false, 50_000),
            origin("light", 1, false, 100_000),
        ];
        let chosen = least_loaded_origin(&nodes, 100_500, ttl).map(|n| n.node_id.as_str());
        assert_eq!(chosen, Some("light"));
        assert!(least_loaded_origin(&nodes[1..3], 100_500, ttl).is_none());
    }
}
