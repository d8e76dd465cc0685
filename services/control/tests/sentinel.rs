//! Control through Redis Sentinel, against real processes (a primary, a replica and three
//! Sentinels from `ferrocast-testkit`): streams and leases made before a failover are still
//! there after it, and control keeps creating streams and granting leases on the new primary.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrocast_base::{Epoch, StreamId};
use ferrocast_control::ControlConfig;
use ferrocast_control_client::{AuthError, PublishAuthorizer, PublishGrant};
use ferrocast_proto::auth::ClusterSecret;
use ferrocast_store::SentinelConfig;
use ferrocast_testkit::SentinelCluster;
use tokio_util::sync::CancellationToken;

use support::{SECRET, TOKEN, http};

/// How long a caller keeps retrying while control answers unavailable.
const RETRY_FOR: Duration = Duration::from_secs(15);

/// Starts control reaching Redis only through the Sentinels (its URL names no server), with
/// lease grants confirmed by one replica. Returns (REST, gRPC) addresses.
async fn start_control(
    cluster: &SentinelCluster,
    shutdown: &CancellationToken,
) -> (SocketAddr, SocketAddr) {
    let sentinel = SentinelConfig {
        master_name: cluster.master_name().to_owned(),
        nodes: cluster.sentinel_nodes(),
        min_replicas: 1,
    };
    let link =
        ferrocast_control::connect_redis("redis://127.0.0.1:1", &sentinel, Duration::from_secs(1))
            .await
            .unwrap();
    let rest_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addresses = (
        rest_listener.local_addr().unwrap(),
        grpc_listener.local_addr().unwrap(),
    );
    let config = ControlConfig {
        admin_token: TOKEN.into(),
        redis_timeout: Duration::from_secs(1),
        // Nothing renews leases here: a grant must outlive the failover on its own.
        lease_ttl: Duration::from_secs(120),
        ..ControlConfig::default()
    };
    tokio::spawn(ferrocast_control::run(
        config,
        ClusterSecret::new(SECRET).unwrap(),
        link,
        rest_listener,
        grpc_listener,
        shutdown.clone(),
    ));
    addresses
}

/// One admin request as an operator would make it: a 5xx (Redis unavailable) is tried
/// again. Returns the status and body of the first other answer.
async fn admin(
    rest: SocketAddr,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let deadline = Instant::now() + RETRY_FOR;
    loop {
        let (status, answer) = http(rest, method, path, Some(TOKEN), body.clone()).await;
        if status < 500 {
            return (status, answer);
        }
        assert!(Instant::now() < deadline, "still {status}: {answer}");
    }
}

/// Creates a stream; returns (id, key).
async fn create_stream(rest: SocketAddr, name: &str) -> (StreamId, String) {
    let body = serde_json::json!({ "name": name });
    let (status, body) = admin(rest, "POST", "/v1/streams", Some(body)).await;
    assert_eq!(status, 201, "{body}");
    let field = |name: &str| body[name].as_str().unwrap().to_owned();
    (StreamId::new(field("id")), field("stream_key"))
}

/// Authorizes a publish as an origin does: unavailable is tried again, any other answer is
/// returned.
async fn authorize(origin: &impl PublishAuthorizer, key: &str) -> Result<PublishGrant, AuthError> {
    let deadline = Instant::now() + RETRY_FOR;
    loop {
        match origin.authorize("live", key).await {
            Err(AuthError::Unavailable(why)) => {
                assert!(Instant::now() < deadline, "still unavailable: {why}");
            }
            answer => return answer,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_leases_survive_a_failover() {
    let mut cluster = tokio::task::block_in_place(|| SentinelCluster::start("fc-control"));
    let shutdown = CancellationToken::new();
    let (rest, grpc) = start_control(&cluster, &shutdown).await;
    let client = |node: &str| {
        let credential = support::credential(ferrocast_proto::auth::Role::Origin, node);
        let options = ferrocast_control_client::ClientOptions {
            timeout: Duration::from_secs(3),
            ..ferrocast_control_client::ClientOptions::new(credential)
        };
        ferrocast_control_client::ControlClient::connect(&format!("http://{grpc}"), options)
            .unwrap()
    };
    let (origin_a, origin_b) = (client("origin-a"), client("origin-b"));
    let (before_id, before_key) = create_stream(rest, "before").await;
    let granted = authorize(&origin_a, &before_key).await.unwrap();
    assert!(granted.epoch > Epoch(0));
    // The holder keeps reporting fresh media, as a healthy publish's origin does; beats that
    // fail during the switch are simply sent again.
    let beating = {
        let origin = origin_a.clone();
        let beat = support::origin_beat(
            "origin-a",
            false,
            &[(&granted.stream_id, granted.epoch, 1000, 0)],
        );
        tokio::spawn(async move {
            loop {
                let _ = origin.heartbeat(&beat).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    tokio::task::block_in_place(|| cluster.failover());

    // The stream and its lease (confirmed by a replica before the grant) are still there.
    let (status, view) = admin(rest, "GET", &format!("/v1/streams/{before_id}"), None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["live"], true);
    let refused = authorize(&origin_b, &before_key).await;
    assert!(
        matches!(&refused, Err(AuthError::AlreadyLive { stream_id }) if *stream_id == before_id),
        "{refused:?}"
    );

    // New streams and grants work on the new primary; epochs keep growing.
    let (_, after_key) = create_stream(rest, "after").await;
    assert!(authorize(&origin_b, &after_key).await.unwrap().epoch > Epoch(0));
    origin_a.release(&granted).await;
    let regranted = authorize(&origin_b, &before_key).await.unwrap();
    assert!(regranted.epoch > granted.epoch);
    beating.abort();
    shutdown.cancel();
}
