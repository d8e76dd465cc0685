//! Test harness: the control service on loopback in front of a real `redis-server` (from
//! `ferrocast-testkit`), clients with cluster credentials (or none), a minimal HTTP/1.1
//! client, and heartbeat helpers.

#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)] // each test uses a part

use std::net::SocketAddr;
use std::time::Duration;

use ferrocast_base::{Epoch, PlaybackId, StreamId};
use ferrocast_control::{ControlConfig, ServerError};
use ferrocast_control_client::heartbeat::{self, Beat, Node};
use ferrocast_control_client::{ClientOptions, ControlClient};
use ferrocast_proto::auth::{ClusterSecret, NodeCredential, Role};
use ferrocast_proto::control::control_client::ControlClient as GrpcClient;
use ferrocast_proto::control::{HeartbeatRequest, HeartbeatResponse, NodeRole, StreamLoad};
use ferrocast_testkit::RedisServer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The admin token of every test server.
pub const TOKEN: &str = "test-admin-token-0123456789abcdef";

/// The cluster secret of every test server.
pub const SECRET: &str = "test-cluster-secret-0123456789abcdef";

/// A credential of `node_id` in `role`, made with `secret`.
pub fn credential_with(secret: &str, role: Role, node_id: &str) -> NodeCredential {
    ClusterSecret::new(secret)
        .unwrap()
        .credential(role, node_id)
        .unwrap()
}

/// A credential of this cluster.
pub fn credential(role: Role, node_id: &str) -> NodeCredential {
    credential_with(SECRET, role, node_id)
}

/// Control's takeover time in these tests.
pub const TAKEOVER_AFTER: Duration = Duration::from_millis(500);

/// Heartbeats of an origin that keeps having media, every 100 ms until dropped.
pub struct MediaFlowing(JoinHandle<()>);

impl Drop for MediaFlowing {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps `origin` (node `node_id`) reporting fresh media for `stream_id` under `epoch`, as a
/// healthy publisher's origin does, until the guard is dropped.
pub fn media_flowing(
    origin: &ControlClient,
    node_id: &str,
    stream_id: &StreamId,
    epoch: Epoch,
) -> MediaFlowing {
    let origin = origin.clone();
    let beat = origin_beat(node_id, false, &[(stream_id, epoch, 1000, 0)]);
    MediaFlowing(tokio::spawn(async move {
        loop {
            origin.heartbeat(&beat).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }))
}

/// A running control service and its Redis.
pub struct Control {
    /// REST admin API address.
    pub rest: SocketAddr,
    /// gRPC address.
    pub grpc: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), ServerError>>>,
    /// The Redis this control started (a replica started with [`Control::replica`] has none).
    redis: Option<RedisServer>,
    redis_url: String,
}

impl Control {
    /// Starts control with test defaults changed by `tweak`.
    pub async fn start(tweak: impl FnOnce(&mut ControlConfig)) -> Self {
        Self::start_with(tweak, ferrocast_control::RecordingDeps::default()).await
    }

    /// Starts control with test defaults changed by `tweak` and recordings' `deps`.
    pub async fn start_with(
        tweak: impl FnOnce(&mut ControlConfig),
        deps: ferrocast_control::RecordingDeps,
    ) -> Self {
        let redis = RedisServer::start();
        let url = redis.url();
        let mut control = Self::start_on(url, tweak, deps).await;
        control.redis = Some(redis);
        control
    }

    /// Another control replica on this one's Redis, with test defaults changed by `tweak`.
    pub async fn replica(&self, tweak: impl FnOnce(&mut ControlConfig)) -> Self {
        let deps = ferrocast_control::RecordingDeps::default();
        Self::start_on(self.redis_url.clone(), tweak, deps).await
    }

    /// `redis://…` of the Redis under this control (where origins would keep the segment
    /// index).
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    async fn start_on(
        redis_url: String,
        tweak: impl FnOnce(&mut ControlConfig),
        deps: ferrocast_control::RecordingDeps,
    ) -> Self {
        let mut config = ControlConfig {
            admin_token: TOKEN.into(),
            public_rtmp_url: "rtmp://ingest.example:1935/live".into(),
            public_play_url: "http://edge.example:8080".into(),
            // Short, so a refusal (which waits takeover_after + 250 ms) keeps tests quick.
            takeover_after: TAKEOVER_AFTER,
            ..ControlConfig::default()
        };
        tweak(&mut config);
        let manager = ferrocast_control::connect_redis(
            &redis_url,
            &ferrocast_store::SentinelConfig::default(),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        let rest_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest = rest_listener.local_addr().unwrap();
        let grpc = grpc_listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(ferrocast_control::run_with(
            config,
            ClusterSecret::new(SECRET).unwrap(),
            manager,
            deps,
            (rest_listener, grpc_listener),
            shutdown.clone(),
        ));
        Self {
            rest,
            grpc,
            shutdown,
            task: Some(task),
            redis: None,
            redis_url,
        }
    }

    /// A client calling with `credential`.
    pub fn client_as(&self, credential: NodeCredential) -> ControlClient {
        let options = ClientOptions {
            timeout: Duration::from_secs(2),
            ..ClientOptions::new(credential)
        };
        ControlClient::connect(&format!("http://{}", self.grpc), options).unwrap()
    }

    /// A client for origin `node_id`.
    pub fn origin(&self, node_id: &str) -> ControlClient {
        self.client_as(credential(Role::Origin, node_id))
    }

    /// A client for edge `node_id`.
    pub fn edge(&self, node_id: &str) -> ControlClient {
        self.client_as(credential(Role::Edge, node_id))
    }

    /// Sends `request` as the node it names, with that node's own credential.
    pub async fn beat(&self, request: HeartbeatRequest) -> HeartbeatResponse {
        let role = match NodeRole::try_from(request.role) {
            Ok(NodeRole::Edge) => Role::Edge,
            _ => Role::Origin,
        };
        let mut client = self.raw(Some(credential(role, &request.node_id))).await;
        client.heartbeat(request).await.unwrap().into_inner()
    }

    /// A bare gRPC client that sends `credential`, or nothing: for calls the
    /// [`ControlClient`] would never make.
    pub async fn raw(
        &self,
        credential: Option<NodeCredential>,
    ) -> GrpcClient<InterceptedService<Channel, impl Interceptor + use<>>> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .timeout(Duration::from_secs(2))
            .connect()
            .await
            .unwrap();
        GrpcClient::with_interceptor(channel, move |request| match &credential {
            Some(credential) => credential.clone().call(request),
            None => Ok(request),
        })
    }

    /// Kills Redis under the running service.
    pub fn kill_redis(&mut self) {
        if let Some(redis) = &mut self.redis {
            redis.stop();
        }
    }

    /// One admin API request with the right token.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http(self.rest, method, path, Some(TOKEN), body).await
    }

    /// Creates a stream; returns (id, playback id, key).
    pub async fn create_stream(&self, name: &str) -> (StreamId, PlaybackId, String) {
        let (status, body) = self
            .admin(
                "POST",
                "/v1/streams",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let field = |name: &str| body[name].as_str().unwrap().to_owned();
        (
            StreamId::new(field("id")),
            PlaybackId::new(field("playback_id")),
            field("stream_key"),
        )
    }

    /// Stops the service and checks it stopped cleanly.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(5), task).await;
            result.unwrap().unwrap().unwrap();
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A minimal HTTP/1.1 exchange over loopback (`Connection: close`); returns the status and
/// the body as JSON (`Null` when empty). Panics after 5 s.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let exchange = async {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(token) = token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8(response).unwrap()
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("HTTP exchange timed out");
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "this client only reads content-length bodies"
    );
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    (status, json)
}

/// One stream of a heartbeat: (stream id, epoch, bitrate, viewers).
pub type Load<'a> = (&'a StreamId, Epoch, u64, u32);

/// What origin `node_id` tells control through its [`ControlClient`], listing `streams`.
pub fn origin_beat(node_id: &str, draining: bool, streams: &[Load<'_>]) -> Beat {
    Beat {
        node: Node {
            rtmp_url: format!("rtmp://{node_id}.internal:1935"),
            relay_url: format!("http://{node_id}.internal:7100"),
        },
        draining,
        streams: streams
            .iter()
            .map(
                |&(stream_id, epoch, ingest_bitrate_bps, viewers)| heartbeat::StreamLoad {
                    stream_id: stream_id.clone(),
                    epoch,
                    ingest_bitrate_bps,
                    viewers,
                    media_age: Duration::ZERO,
                },
            )
            .collect(),
    }
}

/// The same heartbeat as [`origin_beat`], as the raw message, for a bare gRPC client.
pub fn origin_heartbeat(node_id: &str, draining: bool, streams: &[Load<'_>]) -> HeartbeatRequest {
    HeartbeatRequest {
        node_id: node_id.into(),
        role: NodeRole::Origin.into(),
        rtmp_url: format!("rtmp://{node_id}.internal:1935"),
        relay_url: format!("http://{node_id}.internal:7100"),
        draining,
        streams: streams
            .iter()
            .map(
                |&(stream_id, epoch, ingest_bitrate_bps, viewers)| StreamLoad {
                    stream_id: stream_id.as_str().into(),
                    epoch: epoch.get(),
                    ingest_bitrate_bps,
                    viewers,
                    media_age_ms: 0,
                },
            )
            .collect(),
        viewers: streams.iter().map(|s| s.3).sum(),
    }
}

/// An edge's heartbeat with `viewers` on `stream_id`.
pub fn edge_heartbeat(node_id: &str, stream_id: &StreamId, viewers: u32) -> HeartbeatRequest {
    HeartbeatRequest {
        node_id: node_id.into(),
        role: NodeRole::Edge.into(),
        streams: vec![StreamLoad {
            stream_id: stream_id.as_str().into(),
            viewers,
            ..StreamLoad::default()
        }],
        viewers,
        ..HeartbeatRequest::default()
    }
}
