//! The part-log relay end to end (ADR 16): an origin's `PartLogs` fed by a real CMAF packager,
//! served by a real tonic relay over 127.0.0.1, mirrored by edges' [`RelayParts`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::StreamId;
use ferrocast_live::{Hubs, LiveError, LogChannel, PartLogs, PartSource};
use ferrocast_media::ll::{LogConfig, LogEvent};
use ferrocast_proto::auth::{ClusterSecret, NodeCredential, Role};
use ferrocast_proto::relay::SubscribeRequest;
use ferrocast_proto::relay::relay_client::RelayClient;
use ferrocast_relay::{OwnersError, RelayConfig, RelayError, RelayParts, StreamOwners, serve};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

mod publisher;

use publisher::Publisher;

const SECRET: &str = "parts-test-cluster-secret-0123456789";
/// Bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// An owner registry whose answer the test changes.
#[derive(Default)]
struct Owners(Mutex<Option<String>>);

#[async_trait]
impl StreamOwners for Owners {
    async fn relay_url(&self, _stream_id: &StreamId) -> Result<Option<String>, OwnersError> {
        Ok(self.0.lock().expect("owners lock").clone())
    }
}

/// An origin's relay with one stream's part log.
struct Origin {
    log: Arc<LogChannel>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), RelayError>>,
    owners: Arc<Owners>,
}

impl Origin {
    async fn start(stream_id: &StreamId) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let part_logs = Arc::new(PartLogs::new(LogConfig::default()));
        let log = part_logs.get_or_create(stream_id);
        let shutdown = CancellationToken::new();
        let secret = ClusterSecret::new(SECRET).expect("long enough");
        let hubs = Arc::new(Hubs::default());
        let task = tokio::spawn(serve(listener, hubs, part_logs, secret, shutdown.clone()));
        let owners = Arc::new(Owners(Mutex::new(Some(url))));
        Self {
            log,
            shutdown,
            task,
            owners,
        }
    }

    fn apply(&self, events: Vec<LogEvent>) {
        for event in events {
            self.log
                .apply(event)
                .expect("the origin's log takes its packager's events");
        }
    }

    fn edge(&self, node: &str) -> RelayParts {
        self.edge_with(
            node,
            RelayConfig {
                resubscribe_for: Duration::from_secs(1),
                ..RelayConfig::default()
            },
        )
    }

    fn edge_with(&self, node: &str, config: RelayConfig) -> RelayParts {
        RelayParts::new(self.owners.clone(), config, credential(node))
    }

    fn url(&self) -> String {
        let owner = self.owners.0.lock().expect("owners lock").clone();
        owner.expect("an owner")
    }

    fn replay(&self) -> Vec<LogEvent> {
        self.log.read(|log| log.replay())
    }
}

fn credential(node: &str) -> NodeCredential {
    let secret = ClusterSecret::new(SECRET).expect("long enough");
    secret
        .credential(Role::Edge, node)
        .expect("a valid node id")
}

async fn mirror(edge: &RelayParts, stream_id: &StreamId) -> Arc<LogChannel> {
    timeout(WAIT, edge.log(stream_id))
        .await
        .expect("timed out")
        .expect("the edge mirrors the log")
}

/// Waits (on the mirror's change notifications) until `done` holds of its log.
async fn until(mirror: &LogChannel, done: impl Fn(&ferrocast_media::ll::PartLog) -> bool) {
    let mut changes = mirror.changes();
    let waiting = async {
        while !mirror.read(&done) {
            changes.changed().await.expect("the mirror lives");
        }
    };
    timeout(WAIT, waiting).await.expect("timed out");
}

#[tokio::test]
async fn the_mirror_equals_the_origins_log_after_the_replay_and_live_events() {
    let stream_id = StreamId::new("s");
    let origin = Origin::start(&stream_id).await;
    let mut publisher = Publisher::new(3, 10);
    origin.apply(publisher.start());
    origin.apply(publisher.advance(3_000));
    let edge = origin.edge("edge-1");
    let log = mirror(&edge, &stream_id).await;
    assert_eq!(
        log.read(|log| log.replay()),
        origin.replay(),
        "after the replay"
    );

    origin.apply(publisher.advance(2_500));
    let wanted = origin.replay();
    until(&log, |log| log.replay() == wanted).await;
    // Keyframes every 61 frames of 33 ms: cuts at 2.013 s and 4.026 s, so two complete
    // segments and an open one at 5.5 s.
    let segments = log.read(|log| log.segments().len());
    assert_eq!(segments, 3);
    assert_eq!(edge.mirrored_count(), 1);
}

#[tokio::test]
async fn an_edge_joining_mid_segment_lists_what_an_edge_there_from_the_start_lists() {
    let stream_id = StreamId::new("s");
    let origin = Origin::start(&stream_id).await;
    let mut publisher = Publisher::new(1, 0);
    origin.apply(publisher.start());
    origin.apply(publisher.advance(500));
    let early = origin.edge("edge-early");
    let early_log = mirror(&early, &stream_id).await;
    // 4.7 s: the third segment is open with some of its parts.
    origin.apply(publisher.advance(4_200));
    let late = origin.edge("edge-late");
    let late_log = mirror(&late, &stream_id).await;
    let wanted = origin.replay();
    until(&early_log, |log| log.replay() == wanted).await;
    let listed = |log: &LogChannel| log.read(|log| log.listed().to_vec());
    assert_eq!(listed(&late_log), listed(&early_log));
    let open = listed(&late_log).last().cloned().expect("a listed segment");
    assert!(
        open.complete.is_none() && !open.parts.is_empty(),
        "mid-segment"
    );
}

#[tokio::test]
async fn an_origin_that_dies_leaves_the_mirror_cut_off_with_its_parts() {
    let stream_id = StreamId::new("s");
    let origin = Origin::start(&stream_id).await;
    let mut publisher = Publisher::new(1, 0);
    origin.apply(publisher.start());
    origin.apply(publisher.advance(2_800));
    let edge = origin.edge("edge-1");
    let log = mirror(&edge, &stream_id).await;
    let before = log.read(|log| log.segments().to_vec());
    let open = before.last().cloned().expect("segments");
    assert!(open.complete.is_none(), "the origin dies mid-segment");

    // Nobody owns the stream any more, and the origin's relay goes away.
    *origin.owners.0.lock().expect("owners lock") = None;
    origin.shutdown.cancel();
    origin.task.abort();
    until(&log, |log| {
        log.segments()
            .last()
            .is_some_and(|last| last.complete.is_some())
    })
    .await;
    let after = log.read(|log| log.segments().to_vec());
    assert_eq!(after.len(), before.len());
    let cut = after.last().expect("segments");
    assert_eq!(cut.parts, open.parts, "every part it had is kept");
    let summed: u64 = cut.parts.iter().map(|part| part.duration.ticks).sum();
    assert_eq!(cut.complete.map(|end| end.duration.ticks), Some(summed));
}

#[tokio::test]
async fn a_stream_without_a_log_is_offline_and_leaves_no_mirror() {
    let stream_id = StreamId::new("s");
    let origin = Origin::start(&stream_id).await;
    let edge = origin.edge("edge-1");
    let empty = timeout(WAIT, edge.log(&stream_id))
        .await
        .expect("timed out");
    assert!(
        matches!(empty, Err(LiveError::Offline)),
        "an empty log is not served"
    );
    let other = timeout(WAIT, edge.log(&StreamId::new("other")))
        .await
        .expect("timed out");
    assert!(matches!(other, Err(LiveError::Offline)));
    assert_eq!(edge.mirrored_count(), 0);
}

#[tokio::test]
async fn a_mirror_nobody_reads_goes_away() {
    let stream_id = StreamId::new("s");
    let origin = Origin::start(&stream_id).await;
    let mut publisher = Publisher::new(1, 0);
    origin.apply(publisher.start());
    origin.apply(publisher.advance(1_000));
    let config = RelayConfig {
        idle_stop: Duration::from_millis(200),
        ..RelayConfig::default()
    };
    let edge = origin.edge_with("edge-1", config);
    mirror(&edge, &stream_id).await;
    assert_eq!(edge.mirrored_count(), 1);
    // The mirror's task has no event to await here: poll its count, bounded.
    let deadline = tokio::time::Instant::now() + WAIT;
    while edge.mirrored_count() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the mirror stayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A read starts it again, with the whole log.
    let again = mirror(&edge, &stream_id).await;
    assert_eq!(again.read(|log| log.replay()), origin.replay());
}

#[tokio::test]
async fn a_subscriber_that_falls_a_ring_behind_is_ended_with_resource_exhausted() {
    let stream_id = StreamId::new("s");
    let origin = Origin::start(&stream_id).await;
    let mut publisher = Publisher::new(1, 0);
    origin.apply(publisher.start());
    let channel = tonic::transport::Endpoint::from_shared(origin.url())
        .expect("a url")
        .connect()
        .await
        .expect("connected");
    let mut client = RelayClient::with_interceptor(channel, credential("edge-1"));
    let request = SubscribeRequest {
        stream_id: "s".into(),
    };
    let mut messages = client
        .subscribe_parts(request)
        .await
        .expect("subscribed")
        .into_inner();
    let first = messages
        .message()
        .await
        .expect("a message")
        .expect("the replay");
    assert!(first.replay_end, "the replay is the session alone");
    // Two minutes of parts while the subscriber reads nothing (this runtime has one thread:
    // the server's feed runs only when the test awaits).
    let events = publisher.advance(120_000);
    assert!(events.len() > 600, "{} events", events.len());
    origin.apply(events);
    let status = loop {
        match messages.message().await {
            Ok(Some(message)) => assert!(!message.replay_end),
            Ok(None) => panic!("the stream ended without an error"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
}
