//! The relay end to end: real tonic servers and clients over 127.0.0.1 sockets. Relaying,
//! sharing and offline answers here; owner changes, lag and stream ends in `failover.rs`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::StreamId;
use ferrocast_live::{
    Frame, FrameKind, Hub, HubLimits, Hubs, LiveError, LiveSource, PartLogs, Subscription,
};
use ferrocast_proto::auth::{ClusterSecret, NodeCredential, Role};
use ferrocast_proto::relay::SubscribeRequest;
use ferrocast_proto::relay::relay_client::RelayClient;
use ferrocast_relay::{OwnersError, RelayConfig, RelayError, RelaySource, StreamOwners, serve};
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

mod failover;

/// The cluster secret origins and edges share in these tests.
const SECRET: &str = "relay-test-cluster-secret-0123456789";

fn secret() -> ClusterSecret {
    ClusterSecret::new(SECRET).expect("long enough")
}

fn edge_credential() -> NodeCredential {
    secret()
        .credential(Role::Edge, "edge-1")
        .expect("a valid node id")
}

/// Bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

async fn within<T>(future: impl Future<Output = T>) -> T {
    timeout(WAIT, future).await.expect("timed out")
}

/// Polls `condition` until it holds; for state that has no event to await (counters).
async fn eventually(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "condition not met in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An owner registry whose answer the test changes.
#[derive(Default)]
struct Owners(Mutex<Option<String>>);

impl Owners {
    fn set(&self, url: Option<&str>) {
        *self.0.lock().expect("owners lock") = url.map(str::to_owned);
    }
}

#[async_trait]
impl StreamOwners for Owners {
    async fn relay_url(&self, _stream_id: &StreamId) -> Result<Option<String>, OwnersError> {
        Ok(self.0.lock().expect("owners lock").clone())
    }
}

struct Origin {
    hubs: Arc<Hubs>,
    url: String,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), RelayError>>,
}

impl Origin {
    async fn start(limits: HubLimits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let hubs = Arc::new(Hubs::new(limits));
        let shutdown = CancellationToken::new();
        let part_logs = Arc::new(PartLogs::default());
        let task = tokio::spawn(serve(
            listener,
            hubs.clone(),
            part_logs,
            secret(),
            shutdown.clone(),
        ));
        Self {
            hubs,
            url,
            shutdown,
            task,
        }
    }
}

fn edge(owners: &Arc<Owners>, config: RelayConfig) -> Arc<RelaySource> {
    Arc::new(RelaySource::new(owners.clone(), config, edge_credential()))
}

fn metadata() -> Frame {
    Frame::script(0, b"\x02\x00\x0aonMetaData")
}

fn avc_config(marker: u8) -> Frame {
    Frame::sequence_header(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, marker])
}

fn key(ts: u32) -> Frame {
    Frame::keyframe(ts, &[0x17, 1, 0, 0, 0, ts as u8])
}

fn inter(ts: u32) -> Frame {
    Frame::video(ts, &[0x27, 1, 0, 0, 0, ts as u8])
}

/// A viewer's frames in order: the subscription's start frames, then live ones.
struct Viewer {
    start: VecDeque<Frame>,
    live: ferrocast_live::LiveReceiver,
}

impl Viewer {
    fn new(subscription: Subscription) -> Self {
        Self {
            start: subscription.start.into(),
            live: subscription.live,
        }
    }

    /// The next frame, or `None` once the stream has ended.
    async fn next(&mut self) -> Option<Frame> {
        if let Some(frame) = self.start.pop_front() {
            return Some(frame);
        }
        match within(self.live.recv()).await {
            Ok(frame) => Some(frame),
            Err(RecvError::Closed) => None,
            Err(RecvError::Lagged(n)) => panic!("viewer lagged by {n}"),
        }
    }

    /// Reads until a frame with `tag` arrives.
    async fn until(&mut self, wanted: &Frame) {
        loop {
            let frame = self.next().await.expect("stream ended early");
            if frame.tag == wanted.tag {
                return;
            }
        }
    }

    /// Reads until a frame with `wanted`'s kind, flags and body arrives (at any timestamp: a
    /// later upstream's frames are rebased), checking that timestamps never go back on the way.
    async fn until_body(&mut self, wanted: &Frame, newest: &mut u32) -> Frame {
        loop {
            let frame = self.next().await.expect("stream ended early");
            assert!(
                frame.timestamp_ms >= *newest,
                "timestamp went back from {newest} to {}",
                frame.timestamp_ms
            );
            *newest = frame.timestamp_ms;
            if same_content(&frame, wanted) {
                return frame;
            }
        }
    }
}

/// Same track, flags and body; the timestamp may differ.
fn same_content(a: &Frame, b: &Frame) -> bool {
    (a.kind, a.keyframe, a.config, a.body()) == (b.kind, b.keyframe, b.config, b.body())
}

/// A relay that gives up quickly once the stream cannot be found.
fn short_window() -> RelayConfig {
    RelayConfig {
        resubscribe_for: Duration::from_millis(300),
        ..RelayConfig::default()
    }
}

async fn subscribe(edge: &RelaySource, stream_id: &str) -> (Arc<Hub>, Viewer) {
    let stream_id = StreamId::new(stream_id);
    let (hub, subscription) = within(edge.subscribe(&stream_id)).await.expect("subscribe");
    (hub, Viewer::new(subscription))
}

/// An origin whose stream `stream_id` is live (a configuration and a keyframe) and owners
/// that name it.
async fn live_origin(stream_id: &str) -> (Origin, Arc<Hub>, Arc<Owners>) {
    let origin = Origin::start(HubLimits::default()).await;
    let hub = origin.hubs.start(&StreamId::new(stream_id));
    hub.publish(avc_config(1));
    hub.publish(key(0));
    let owners = Arc::new(Owners::default());
    owners.set(Some(&origin.url));
    (origin, hub, owners)
}

#[tokio::test]
async fn edge_relays_start_and_live_frames_byte_identical_and_ends_after_the_window() {
    let origin = Origin::start(HubLimits::default()).await;
    let hub = origin.hubs.start(&StreamId::new("s1"));
    for frame in [
        metadata(),
        avc_config(1),
        key(0),
        inter(33),
        key(66),
        inter(100),
    ] {
        hub.publish(frame);
    }
    let owners = Arc::new(Owners::default());
    owners.set(Some(&origin.url));
    let edge = edge(&owners, short_window());

    let (_edge_hub, mut viewer) = subscribe(&edge, "s1").await;
    // Configs first, then from the last keyframe; then live frames, all byte-identical.
    for expected in [metadata(), avc_config(1), key(66), inter(100)] {
        assert_eq!(viewer.next().await.unwrap().tag, expected.tag);
    }
    let live = [inter(133), key(166), inter(200)];
    for frame in &live {
        hub.publish(frame.clone());
    }
    for expected in &live {
        let got = viewer.next().await.unwrap();
        assert_eq!(got.tag, expected.tag);
        assert_eq!(
            (got.kind, got.timestamp_ms, got.keyframe, got.config),
            (
                expected.kind,
                expected.timestamp_ms,
                expected.keyframe,
                expected.config
            )
        );
    }
    assert_eq!(edge.upstream_count(), 1);

    // The origin ends the stream and no new session follows within the window.
    origin.hubs.finish(&StreamId::new("s1"), &hub);
    assert!(
        viewer.next().await.is_none(),
        "edge viewer should see the end"
    );
    assert_eq!(edge.upstream_count(), 0);
    assert_eq!(edge.pulled_count(), 0);
}

#[tokio::test]
async fn frames_over_four_mib_are_relayed() {
    let origin = Origin::start(HubLimits::default()).await;
    let hub = origin.hubs.start(&StreamId::new("big"));
    hub.publish(avc_config(1));
    let mut body = vec![0x17, 1, 0, 0, 0];
    body.resize(6 * 1024 * 1024, 0xab);
    let big = Frame::keyframe(0, &body);
    hub.publish(big.clone());
    let owners = Arc::new(Owners::default());
    owners.set(Some(&origin.url));
    let edge = edge(&owners, RelayConfig::default());

    let (_hub, mut viewer) = subscribe(&edge, "big").await;
    viewer.until(&big).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_viewers_share_one_upstream() {
    let (_origin, hub, owners) = live_origin("s2").await;
    let edge = edge(&owners, RelayConfig::default());

    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let edge = edge.clone();
            tokio::spawn(async move { edge.subscribe(&StreamId::new("s2")).await })
        })
        .collect();
    let mut viewers = Vec::new();
    for result in within(futures::future::join_all(tasks)).await {
        let (_hub, subscription) = result.unwrap().unwrap();
        viewers.push(Viewer::new(subscription));
    }
    assert_eq!(hub.viewer_count(), 1, "origin must see one upstream");
    assert_eq!(edge.upstream_count(), 1);

    let live = inter(33);
    hub.publish(live.clone());
    for viewer in &mut viewers {
        viewer.until(&live).await;
    }
    assert_eq!(hub.viewer_count(), 1);
}

#[tokio::test]
async fn unknown_stream_is_offline_quickly() {
    let origin = Origin::start(HubLimits::default()).await;
    let owners = Arc::new(Owners::default());
    let edge = edge(&owners, RelayConfig::default());
    let began = Instant::now();

    // No owner at all.
    let result = within(edge.subscribe(&StreamId::new("nope"))).await;
    assert!(
        matches!(result, Err(LiveError::Offline)),
        "{:?}",
        result.err()
    );

    // An owner that does not have the stream.
    owners.set(Some(&origin.url));
    let result = within(edge.subscribe(&StreamId::new("nope"))).await;
    assert!(
        matches!(result, Err(LiveError::Offline)),
        "{:?}",
        result.err()
    );
    assert!(began.elapsed() < Duration::from_secs(1));
    assert_eq!(edge.upstream_count(), 0);
    assert_eq!(edge.pulled_count(), 0);
}

#[tokio::test]
async fn unreachable_owner_is_unavailable() {
    // A port that was just free: connecting is refused.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let owners = Arc::new(Owners::default());
    owners.set(Some(&url));
    let edge = edge(&owners, RelayConfig::default());
    let result = within(edge.subscribe(&StreamId::new("s"))).await;
    assert!(
        matches!(result, Err(LiveError::Unavailable(_))),
        "{:?}",
        result.err()
    );
}
