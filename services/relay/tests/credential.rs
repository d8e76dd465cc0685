//! The relay is closed: an origin streams only to callers with an edge credential of its
//! cluster, over real sockets on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::StreamId;
use ferrocast_live::{Frame, HubLimits, Hubs, LiveError, LiveSource, PartLogs};
use ferrocast_proto::auth::{ClusterSecret, NodeCredential, Role};
use ferrocast_proto::relay::SubscribeRequest;
use ferrocast_proto::relay::relay_client::RelayClient;
use ferrocast_relay::{OwnersError, RelayConfig, RelaySource, StreamOwners, serve};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

const SECRET: &str = "relay-test-cluster-secret-0123456789";
const OTHER_SECRET: &str = "another-relay-cluster-secret-0123456789";

/// Bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

fn credential(secret: &str, role: Role, node_id: &str) -> NodeCredential {
    ClusterSecret::new(secret)
        .expect("long enough")
        .credential(role, node_id)
        .expect("a valid node id")
}

/// A relay serving one live stream, "s", whose keyframe is waiting for subscribers.
struct Origin {
    url: String,
    _hubs: Arc<Hubs>,
    shutdown: CancellationToken,
}

impl Origin {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let hubs = Arc::new(Hubs::new(HubLimits::default()));
        let hub = hubs.start(&StreamId::new("s"));
        hub.publish(Frame::keyframe(0, &[0x17, 1, 0, 0, 0]));
        let shutdown = CancellationToken::new();
        let secret = ClusterSecret::new(SECRET).expect("long enough");
        tokio::spawn(serve(
            listener,
            hubs.clone(),
            Arc::new(PartLogs::default()),
            secret,
            shutdown.clone(),
        ));
        Self {
            url,
            _hubs: hubs,
            shutdown,
        }
    }

    async fn channel(&self) -> Channel {
        let endpoint = Endpoint::from_shared(self.url.clone()).expect("url");
        timeout(WAIT, endpoint.connect())
            .await
            .expect("connect in time")
            .expect("connect")
    }

    /// The code of a `Subscribe` sent through `interceptor`, once the first frame or the
    /// refusal arrives.
    async fn subscribe_code(&self, interceptor: impl Interceptor) -> Code {
        let mut client = RelayClient::with_interceptor(self.channel().await, interceptor);
        let request = SubscribeRequest {
            stream_id: "s".into(),
        };
        let answer = timeout(WAIT, async {
            let mut frames = client.subscribe(request).await?.into_inner();
            frames.message().await
        })
        .await
        .expect("an answer in time");
        match answer {
            Ok(Some(_)) => Code::Ok,
            Ok(None) => Code::NotFound,
            Err(status) => status.code(),
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[tokio::test]
async fn only_edges_of_this_cluster_may_subscribe() {
    let origin = Origin::start().await;
    let anonymous = |request| Ok(request);
    assert_eq!(
        origin.subscribe_code(anonymous).await,
        Code::Unauthenticated
    );
    let foreign = credential(OTHER_SECRET, Role::Edge, "edge-1");
    assert_eq!(origin.subscribe_code(foreign).await, Code::Unauthenticated);
    let an_origin = credential(SECRET, Role::Origin, "origin-2");
    assert_eq!(
        origin.subscribe_code(an_origin).await,
        Code::PermissionDenied
    );
    let an_edge = credential(SECRET, Role::Edge, "edge-1");
    assert_eq!(origin.subscribe_code(an_edge).await, Code::Ok);
}

/// Always names the same origin.
struct FixedOwner(String);

#[async_trait]
impl StreamOwners for FixedOwner {
    async fn relay_url(&self, _stream_id: &StreamId) -> Result<Option<String>, OwnersError> {
        Ok(Some(self.0.clone()))
    }
}

#[tokio::test]
async fn an_edge_with_another_clusters_secret_pulls_nothing() {
    let origin = Origin::start().await;
    let owners = Arc::new(FixedOwner(origin.url.clone()));
    let foreign = credential(OTHER_SECRET, Role::Edge, "edge-1");
    let edge = RelaySource::new(owners.clone(), RelayConfig::default(), foreign);
    let refused = timeout(WAIT, edge.subscribe(&StreamId::new("s")))
        .await
        .expect("in time");
    assert!(
        matches!(refused, Err(LiveError::Unavailable(ref reason)) if reason.to_string().contains("cluster credential")),
        "{:?}",
        refused.map(|_| ())
    );
    assert_eq!(edge.upstream_count(), 0);

    let member = credential(SECRET, Role::Edge, "edge-1");
    let edge = RelaySource::new(owners, RelayConfig::default(), member);
    let (_hub, subscription) = timeout(WAIT, edge.subscribe(&StreamId::new("s")))
        .await
        .expect("in time")
        .expect("this cluster's edge pulls the stream");
    assert!(subscription.start.iter().any(|frame| frame.keyframe));
}
