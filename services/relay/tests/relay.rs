//! The relay end to end: real tonic servers and clients over 127.0.0.1 sockets.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_live::{Frame, FrameKind, Hub, HubLimits, Hubs, LiveError, LiveSource, Subscription};
use ferrocast_proto::auth::{ClusterSecret, NodeCredential, Role};
use ferrocast_proto::relay::SubscribeRequest;
use ferrocast_proto::relay::relay_client::RelayClient;
use ferrocast_relay::{OwnersError, RelayConfig, RelayError, RelaySource, StreamOwners, serve};
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

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
    async fn relay_url(&self, _stream_id: &str) -> Result<Option<String>, OwnersError> {
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
        let task = tokio::spawn(serve(listener, hubs.clone(), secret(), shutdown.clone()));
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
    let (hub, subscription) = within(edge.subscribe(stream_id)).await.expect("subscribe");
    (hub, Viewer::new(subscription))
}

/// An origin whose stream `stream_id` is live (a configuration and a keyframe) and owners
/// that name it.
async fn live_origin(stream_id: &str) -> (Origin, Arc<Hub>, Arc<Owners>) {
    let origin = Origin::start(HubLimits::default()).await;
    let hub = origin.hubs.start(stream_id);
    hub.publish(avc_config(1));
    hub.publish(key(0));
    let owners = Arc::new(Owners::default());
    owners.set(Some(&origin.url));
    (origin, hub, owners)
}

#[tokio::test]
async fn edge_relays_start_and_live_frames_byte_identical_and_ends_after_the_window() {
    let origin = Origin::start(HubLimits::default()).await;
    let hub = origin.hubs.start("s1");
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
    origin.hubs.finish("s1", &hub);
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
    let hub = origin.hubs.start("big");
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
            tokio::spawn(async move { edge.subscribe("s2").await })
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
    let result = within(edge.subscribe("nope")).await;
    assert!(
        matches!(result, Err(LiveError::Offline)),
        "{:?}",
        result.err()
    );

    // An owner that does not have the stream.
    owners.set(Some(&origin.url));
    let result = within(edge.subscribe("nope")).await;
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
    let result = within(edge.subscribe("s")).await;
    assert!(
        matches!(result, Err(LiveError::Unavailable(_))),
        "{:?}",
        result.err()
    );
}

#[tokio::test]
async fn viewer_survives_origin_failover_on_the_same_receiver() {
    let origin_a = Origin::start(HubLimits::default()).await;
    let hub_a = origin_a.hubs.start("s");
    for frame in [metadata(), avc_config(1), key(0), inter(33)] {
        hub_a.publish(frame);
    }
    let owners = Arc::new(Owners::default());
    owners.set(Some(&origin_a.url));
    let edge = edge(&owners, RelayConfig::default());
    let (edge_hub, mut viewer) = subscribe(&edge, "s").await;
    viewer.until(&inter(33)).await;

    // The publisher moved to origin B, which the owner registry now names.
    let origin_b = Origin::start(HubLimits::default()).await;
    let hub_b = origin_b.hubs.start("s");
    let config_b = avc_config(2);
    let key_b = key(5000);
    hub_b.publish(config_b.clone());
    hub_b.publish(key_b.clone());
    owners.set(Some(&origin_b.url));
    origin_a.shutdown.cancel();

    // Origin B's timeline (from 5000) is placed one frame after the last one forwarded (33).
    let mut newest = 0;
    let config = viewer.until_body(&config_b, &mut newest).await;
    assert_eq!(config.timestamp_ms, 66);
    let key = viewer.next().await.unwrap();
    assert!(same_content(&key, &key_b));
    assert_eq!(key.timestamp_ms, 66);
    let live_b = inter(5033);
    hub_b.publish(live_b.clone());
    let live = viewer.next().await.unwrap();
    assert!(same_content(&live, &live_b));
    assert_eq!(live.timestamp_ms, 99);
    assert_eq!(hub_b.viewer_count(), 1);
    assert_eq!(edge.upstream_count(), 1);
    assert!(!edge_hub.is_ended());
    within(origin_a.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn stream_ends_when_no_owner_is_found_within_the_window() {
    let (origin, _hub, owners) = live_origin("s").await;
    let edge = edge(&owners, short_window());
    let (_hub, mut viewer) = subscribe(&edge, "s").await;
    viewer.until(&key(0)).await;

    owners.set(None);
    origin.shutdown.cancel();
    let began = Instant::now();
    assert!(viewer.next().await.is_none());
    assert!(began.elapsed() < Duration::from_secs(3));
    assert_eq!(edge.pulled_count(), 0);
}

#[tokio::test]
async fn unwatched_stream_stops_pulling_and_restarts_on_demand() {
    let (_origin, hub, owners) = live_origin("s").await;
    let config = RelayConfig {
        idle_stop: Duration::from_millis(100),
        ..RelayConfig::default()
    };
    let edge = edge(&owners, config);

    let (_edge_hub, viewer) = subscribe(&edge, "s").await;
    assert_eq!(hub.viewer_count(), 1);
    drop(viewer);
    eventually(|| edge.upstream_count() == 0 && hub.viewer_count() == 0).await;
    assert_eq!(edge.pulled_count(), 0);

    let (_edge_hub, mut viewer) = subscribe(&edge, "s").await;
    viewer.until(&key(0)).await;
    assert_eq!(edge.upstream_count(), 1);
}

#[tokio::test]
async fn lagging_subscriber_resumes_at_the_next_keyframe() {
    let limits = HubLimits {
        ring_batches: 4,
        ..HubLimits::default()
    };
    let origin = Origin::start(limits).await;
    let hub = origin.hubs.start("s");
    hub.publish(avc_config(1));
    hub.publish(key(0));
    let channel = within(
        tonic::transport::Endpoint::from_shared(origin.url.clone())
            .unwrap()
            .connect(),
    )
    .await
    .unwrap();
    let mut client = RelayClient::with_interceptor(channel, edge_credential());
    let request = SubscribeRequest {
        stream_id: "s".into(),
    };
    let mut frames = within(client.subscribe(request))
        .await
        .unwrap()
        .into_inner();
    for expected in [avc_config(1), key(0)] {
        let got = within(frames.message()).await.unwrap().unwrap();
        assert_eq!(got.tag, expected.tag);
    }
    // On this single-threaded runtime the server cannot run during the burst, so its
    // subscription falls far behind the 4-frame ring.
    for ts in 1..=50 {
        hub.publish(inter(ts));
    }
    hub.publish(key(100));
    hub.publish(inter(101));
    for expected in [key(100), inter(101)] {
        let got = within(frames.message()).await.unwrap().unwrap();
        assert_eq!(got.tag, expected.tag);
    }
    origin.hubs.finish("s", &hub);
    assert!(within(frames.message()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_new_session_after_the_origin_ended_the_stream_keeps_the_viewer_with_monotonic_time() {
    let origin = Origin::start(HubLimits::default()).await;
    let first = origin.hubs.start("s");
    for frame in [metadata(), avc_config(1), key(0), inter(33), inter(66)] {
        first.publish(frame);
    }
    let owners = Arc::new(Owners::default());
    owners.set(Some(&origin.url));
    // The default window: far longer than this test's gap between the sessions.
    let edge = edge(&owners, RelayConfig::default());
    let (edge_hub, mut viewer) = subscribe(&edge, "s").await;
    let mut newest = 0;
    viewer.until_body(&inter(66), &mut newest).await;

    // The encoder drops: the origin ends the session and nobody owns the stream for a while.
    owners.set(None);
    origin.hubs.finish("s", &first);
    eventually(|| edge.upstream_count() == 0).await;

    // It reconnects: a new session whose timestamps start again at zero, with a new config.
    let second = origin.hubs.start("s");
    let config_2 = avc_config(2);
    for frame in [metadata(), config_2.clone(), key(0), inter(33)] {
        second.publish(frame);
    }
    owners.set(Some(&origin.url));

    let config = viewer.until_body(&config_2, &mut newest).await;
    assert_eq!(config.timestamp_ms, 99, "placed one frame after 66");
    let key = viewer.until_body(&key(0), &mut newest).await;
    assert_eq!(key.timestamp_ms, 99);
    let next = viewer.until_body(&inter(33), &mut newest).await;
    assert_eq!(next.timestamp_ms, 132);
    let live = inter(66);
    second.publish(live.clone());
    let got = viewer.next().await.expect("still live");
    assert!(same_content(&got, &live));
    assert_eq!(got.timestamp_ms, 165);
    assert!(!edge_hub.is_ended());
    assert_eq!(edge.pulled_count(), 1);
    assert_eq!(second.viewer_count(), 1);
}

#[tokio::test]
async fn a_stream_its_origin_ended_that_never_returns_ends_after_the_window() {
    let (origin, hub, owners) = live_origin("s").await;
    let window = Duration::from_millis(500);
    let config = RelayConfig {
        resubscribe_for: window,
        ..RelayConfig::default()
    };
    let edge = edge(&owners, config);
    let (_hub, mut viewer) = subscribe(&edge, "s").await;
    viewer.until(&key(0)).await;

    // The owner registry still names the origin, which now answers "no such stream".
    let ended_at = Instant::now();
    origin.hubs.finish("s", &hub);
    assert!(viewer.next().await.is_none());
    let waited = ended_at.elapsed();
    assert!(
        waited >= window,
        "ended after {waited:?}, before the window"
    );
    assert!(
        waited < window + Duration::from_secs(2),
        "ended after {waited:?}"
    );
    assert_eq!(edge.pulled_count(), 0);
    assert_eq!(edge.upstream_count(), 0);
}

#[tokio::test]
async fn viewers_leaving_while_the_stream_is_away_stop_the_pull() {
    let (origin, hub, owners) = live_origin("s").await;
    let config = RelayConfig {
        idle_stop: Duration::from_millis(100),
        ..RelayConfig::default()
    };
    let edge = edge(&owners, config);
    let (_edge_hub, mut viewer) = subscribe(&edge, "s").await;
    viewer.until(&key(0)).await;

    origin.hubs.finish("s", &hub);
    drop(viewer);
    // Well within the 60 s window: the pull stops for want of viewers, not at its end.
    eventually(|| edge.pulled_count() == 0).await;
}
