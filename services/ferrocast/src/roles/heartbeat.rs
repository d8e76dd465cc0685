//! Heartbeats to control. The loop and its messages are the control client's
//! ([`ferrocast_control_client::heartbeat`]); this module tells it what an origin or an edge
//! reports about its streams, and runs `dev`'s renewal against the in-process control.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrocast_control::{HeldStream, LocalControl};
use ferrocast_control_client::ControlClient;
use ferrocast_control_client::heartbeat::{self, LoadReport, StreamLoad};
use ferrocast_origin::{IngestRates, Publishing};
use ferrocast_relay::RelaySource;
use tokio_util::sync::CancellationToken;

pub use ferrocast_control_client::heartbeat::Node;

/// What a node reports about its streams.
pub enum Load {
    /// An origin's publishes: renews their leases, reports ingest bitrate.
    Origin(Arc<Publishing>),
    /// An edge's relayed streams: reports HTTP-FLV viewers (HLS requests are stateless and
    /// are not counted as viewers).
    Edge(Arc<RelaySource>),
}

/// Sends heartbeats every `interval` until `stop`; once `draining` is cancelled they say so
/// (see [`heartbeat::run`]).
pub async fn run(
    client: ControlClient,
    node: Node,
    load: Load,
    interval: Duration,
    draining: CancellationToken,
    stop: CancellationToken,
) {
    let report = Report {
        load,
        rates: IngestRates::default(),
    };
    heartbeat::run(client, node, report, interval, draining, stop).await;
}

/// A node's [`Load`], with the ingest rates an origin measures between two beats.
struct Report {
    load: Load,
    rates: IngestRates,
}

impl LoadReport for Report {
    fn loads(&mut self) -> Vec<StreamLoad> {
        match &self.load {
            Load::Origin(publishing) => origin_loads(publishing, &mut self.rates),
            Load::Edge(relay) => edge_loads(relay),
        }
    }
}

fn edge_loads(relay: &RelaySource) -> Vec<StreamLoad> {
    let counts = relay.viewer_counts();
    let watched = counts.into_iter().filter(|(_, viewers)| *viewers > 0);
    watched
        .map(|(stream_id, viewers)| StreamLoad {
            stream_id,
            viewers: u32::try_from(viewers).unwrap_or(u32::MAX),
            ..StreamLoad::default()
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
            media_age: report.media_age,
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
