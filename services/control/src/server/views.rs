//! The JSON shapes of the admin API, and how a stream's live state is put together from its
//! lease and the node registry. No view has a field for the key or its hash.

use std::time::Duration;

use ferrocast_base::{Epoch, PlaybackId, PlaybackPolicy, StreamId};
use serde::Serialize;

use super::nodes::{NodeRecord, Role};
use crate::lease::Lease;
use crate::{DvrWindow, Retention, StreamRecord};

/// Public URLs built from the configured bases.
pub struct PublicUrls<'a> {
    /// `rtmp://ingest.example:1935/live`: the OBS "server".
    pub rtmp: &'a str,
    /// `http://edge.example:8080`.
    pub play: &'a str,
}

impl PublicUrls<'_> {
    fn rtmp_url(&self) -> String {
        self.rtmp.trim_end_matches('/').to_owned()
    }

    fn hls_url(&self, playback_id: &PlaybackId) -> String {
        format!(
            "{}/hls/{playback_id}/index.m3u8",
            self.play.trim_end_matches('/')
        )
    }

    fn flv_url(&self, playback_id: &PlaybackId) -> String {
        format!("{}/live/{playback_id}.flv", self.play.trim_end_matches('/'))
    }
}

/// The answer to a create: the only time the key is shown.
#[derive(Debug, Serialize)]
pub struct CreatedStream {
    id: StreamId,
    playback_id: PlaybackId,
    stream_key: String,
    rtmp_url: String,
    hls_url: String,
    flv_url: String,
    name: String,
    created_at_ms: i64,
    playback_policy: PlaybackPolicy,
    recording_retention: Retention,
    dvr_window: DvrWindow,
}

impl CreatedStream {
    /// The view of a new stream and its key.
    pub fn new(record: StreamRecord, stream_key: String, urls: &PublicUrls<'_>) -> Self {
        Self {
            rtmp_url: urls.rtmp_url(),
            hls_url: urls.hls_url(&record.playback_id),
            flv_url: urls.flv_url(&record.playback_id),
            id: record.id,
            playback_id: record.playback_id,
            stream_key,
            name: record.name,
            created_at_ms: record.created_at_ms,
            playback_policy: record.playback_policy,
            recording_retention: record.recording_retention,
            dvr_window: record.dvr_window,
        }
    }
}

/// A stream with its live state.
#[derive(Debug, Serialize)]
pub struct StreamView {
    id: StreamId,
    playback_id: PlaybackId,
    name: String,
    created_at_ms: i64,
    playback_policy: PlaybackPolicy,
    rtmp_url: String,
    hls_url: String,
    flv_url: String,
    live: bool,
    origin_id: Option<String>,
    started_at_ms: Option<u64>,
    epoch: Option<Epoch>,
    ingest_bitrate_bps: u64,
    viewers: u64,
    recording_retention: Retention,
    dvr_window: DvrWindow,
}

impl StreamView {
    /// The view of `record`, live according to `lease` and the fresh registrations in `nodes`.
    pub fn new(
        record: StreamRecord,
        lease: Option<Lease>,
        nodes: &[NodeRecord],
        now_ms: u64,
        node_ttl: Duration,
        urls: &PublicUrls<'_>,
    ) -> Self {
        let (ingest_bitrate_bps, viewers) = match &lease {
            Some(lease) => load(&record.id, lease, nodes, now_ms, node_ttl),
            None => (0, 0),
        };
        Self {
            rtmp_url: urls.rtmp_url(),
            hls_url: urls.hls_url(&record.playback_id),
            flv_url: urls.flv_url(&record.playback_id),
            live: lease.is_some(),
            origin_id: lease.as_ref().map(|l| l.origin_id.clone()),
            started_at_ms: lease.as_ref().map(|l| l.started_at_ms),
            epoch: lease.as_ref().map(|l| l.epoch),
            ingest_bitrate_bps,
            viewers,
            recording_retention: record.recording_retention,
            dvr_window: record.dvr_window,
            id: record.id,
            playback_id: record.playback_id,
            name: record.name,
            created_at_ms: record.created_at_ms,
            playback_policy: record.playback_policy,
        }
    }
}

/// Ingest bitrate (from the owning origin's report for the lease's epoch) and viewers: the
/// sum over edges that report the stream, else the origin's own count — when edges relay,
/// the origin's viewers are the edges themselves, so its number would undercount.
fn load(
    stream_id: &StreamId,
    lease: &Lease,
    nodes: &[NodeRecord],
    now_ms: u64,
    node_ttl: Duration,
) -> (u64, u64) {
    let fresh = || nodes.iter().filter(|n| n.is_fresh(now_ms, node_ttl));
    let origin_report = fresh()
        .find(|n| n.node_id == lease.origin_id)
        .and_then(|n| n.stream(stream_id))
        .filter(|s| s.epoch == lease.epoch || s.epoch == Epoch(0));
    let edge_reports: Vec<u64> = fresh()
        .filter(|n| n.role == Role::Edge)
        .filter_map(|n| n.stream(stream_id))
        .map(|s| u64::from(s.viewers))
        .collect();
    let viewers = if edge_reports.is_empty() {
        origin_report.map_or(0, |s| u64::from(s.viewers))
    } else {
        edge_reports.iter().sum()
    };
    (origin_report.map_or(0, |s| s.ingest_bitrate_bps), viewers)
}

#[cfg(test)]
mod tests {
    use super::super::nodes::NodeStream;
    use super::*;

    fn node(id: &str, role: Role, stream: Option<(u64, u32)>) -> NodeRecord {
        NodeRecord {
            node_id: id.into(),
            role,
            rtmp_url: String::new(),
            relay_url: String::new(),
            draining: false,
            streams: stream
                .map(|(epoch, viewers)| NodeStream {
                    stream_id: StreamId::new("s"),
                    epoch: Epoch(epoch),
                    ingest_bitrate_bps: 5000,
                    viewers,
                })
                .into_iter()
                .collect(),
            viewers: 0,
            last_seen_ms: 1000,
        }
    }

    #[test]
    fn viewers_come_from_edges_when_they_report() {
        let lease = Lease {
            origin_id: "o".into(),
            epoch: Epoch(3),
            started_at_ms: 1,
            relay_url: String::new(),
            media_at_ms: 1,
        };
        let ttl = Duration::from_secs(10);
        let origin_only = [node("o", Role::Origin, Some((3, 2)))];
        assert_eq!(
            load(&StreamId::new("s"), &lease, &origin_only, 1000, ttl),
            (5000, 2)
        );
        let with_edges = [
            node("o", Role::Origin, Some((3, 2))),
            node("e1", Role::Edge, Some((0, 10))),
            node("e2", Role::Edge, Some((0, 5))),
            node("e3", Role::Edge, None),
        ];
        assert_eq!(
            load(&StreamId::new("s"), &lease, &with_edges, 1000, ttl),
            (5000, 15)
        );
        let stale_epoch = [node("o", Role::Origin, Some((2, 2)))];
        assert_eq!(
            load(&StreamId::new("s"), &lease, &stale_epoch, 1000, ttl),
            (0, 0)
        );
    }
}
