//! The closed internal API: every control method refuses a caller without this cluster's
//! credential, and a node's identity comes from its credential, so one node can neither end,
//! renew nor register for another.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod support;

use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_control_client::{LookupBy, PublishAuthorizer};
use ferrocast_proto::auth::Role;
use ferrocast_proto::control::control_client::ControlClient as ControlGrpc;
use ferrocast_proto::control::lookup_stream_request::By;
use ferrocast_proto::control::{
    AuthorizePublishRequest, EndPublishRequest, HeartbeatRequest, LookupStreamRequest, NodeRole,
};
use support::{Control, credential, credential_with, edge_heartbeat, origin_heartbeat};
use tonic::Code;

const OTHER_SECRET: &str = "another-cluster-secret-0123456789abcdef";

fn authorize_request(key: &str, origin_id: &str) -> AuthorizePublishRequest {
    AuthorizePublishRequest {
        app: "live".into(),
        stream_key: key.into(),
        origin_id: origin_id.into(),
    }
}

fn lookup_request(stream_id: &StreamId) -> LookupStreamRequest {
    LookupStreamRequest {
        by: Some(By::StreamId(stream_id.as_str().into())),
    }
}

/// The three calls only origins may make, as `node` (authorize, end the lease at `epoch`,
/// heartbeat holding it), each reduced to its outcome.
async fn origin_calls<T>(
    grpc: &mut ControlGrpc<T>,
    key: &str,
    stream_id: &StreamId,
    epoch: Epoch,
    node: &str,
) -> [Result<(), tonic::Status>; 3]
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let authorize = grpc
        .authorize_publish(authorize_request(key, node))
        .await
        .map(drop);
    let end = grpc
        .end_publish(EndPublishRequest {
            stream_id: stream_id.as_str().into(),
            epoch: epoch.get(),
        })
        .await
        .map(drop);
    let beat = origin_heartbeat(node, false, &[(stream_id, epoch, 1, 0)]);
    let heartbeat = grpc.heartbeat(beat).await.map(drop);
    [authorize, end, heartbeat]
}

/// Who holds the stream now, as an edge sees it: `(origin id, epoch)` while live.
async fn holder(control: &Control, stream_id: &StreamId) -> Option<(String, Epoch)> {
    let edge = control.edge("edge-observer");
    let found = edge
        .lookup(LookupBy::StreamId(stream_id.clone()))
        .await
        .unwrap()
        .expect("found");
    found.live.then_some((found.origin_id, found.epoch))
}

#[tokio::test]
async fn every_method_refuses_a_caller_without_this_clusters_credential() {
    let control = Control::start(|_| {}).await;
    let (id, _, key) = control.create_stream("s").await;
    let grant = control
        .origin("origin-a")
        .authorize("live", &key)
        .await
        .unwrap();

    let anonymous = None;
    let foreign = Some(credential_with(OTHER_SECRET, Role::Origin, "origin-a"));
    for (who, presented) in [("anonymous", anonymous), ("foreign", foreign)] {
        let mut grpc = control.raw(presented).await;
        let [authorize, end, heartbeat] =
            origin_calls(&mut grpc, &key, &id, grant.epoch, "origin-a").await;
        let lookup = grpc.lookup_stream(lookup_request(&id)).await.map(drop);
        let codes = [authorize, end, heartbeat, lookup].map(|answer| answer.unwrap_err().code());
        assert_eq!(codes, [Code::Unauthenticated; 4], "{who}");
    }

    // Nothing they sent had an effect: the lease stands, no origin got registered.
    assert_eq!(
        holder(&control, &id).await,
        Some(("origin-a".into(), grant.epoch))
    );
    let (status, body) = control.admin("GET", "/v1/ingest", None).await;
    assert_eq!(status, 503, "no origin registered: {body}");
    control.stop().await;
}

#[tokio::test]
async fn one_origin_can_neither_end_nor_renew_nor_speak_for_another() {
    let ttl = Duration::from_millis(600);
    let control = Control::start(|c| {
        c.lease_ttl = ttl;
        c.node_ttl = ttl;
    })
    .await;
    let (id, _, key) = control.create_stream("s").await;
    control.beat(origin_heartbeat("origin-a", false, &[])).await;
    let grant = control
        .origin("origin-a")
        .authorize("live", &key)
        .await
        .unwrap();
    let mut origin_b = control
        .raw(Some(credential(Role::Origin, "origin-b")))
        .await;

    let end = origin_b
        .end_publish(EndPublishRequest {
            stream_id: id.as_str().into(),
            epoch: grant.epoch.get(),
        })
        .await
        .unwrap_err();
    assert_eq!(end.code(), Code::PermissionDenied, "{end:?}");
    assert_eq!(
        holder(&control, &id).await,
        Some(("origin-a".into(), grant.epoch)),
        "the lease is still held"
    );

    let as_a = origin_b
        .heartbeat(origin_heartbeat("origin-a", true, &[]))
        .await
        .unwrap_err();
    assert_eq!(as_a.code(), Code::PermissionDenied, "{as_a:?}");
    let (_, ingest) = control.admin("GET", "/v1/ingest", None).await;
    assert_eq!(
        ingest["rtmp_url"], "rtmp://origin-a.internal:1935/live",
        "origin-a is not marked draining by origin-b"
    );

    let placed_on_a = origin_b
        .authorize_publish(authorize_request(&key, "origin-a"))
        .await
        .unwrap_err();
    assert_eq!(
        placed_on_a.code(),
        Code::PermissionDenied,
        "{placed_on_a:?}"
    );

    // origin-b may list origin-a's lease in its own heartbeats: it is not renewed, and runs
    // out once origin-a stops renewing it.
    let started = tokio::time::Instant::now();
    while started.elapsed() < ttl * 2 {
        let beat = origin_heartbeat("origin-b", false, &[(&id, grant.epoch, 1, 0)]);
        origin_b.heartbeat(beat).await.unwrap();
        tokio::time::sleep(ttl / 4).await;
    }
    assert_eq!(holder(&control, &id).await, None, "expired unrenewed");
    control.stop().await;
}

#[tokio::test]
async fn edges_only_look_up_and_heartbeat_as_edges() {
    let control = Control::start(|_| {}).await;
    let (id, _, key) = control.create_stream("s").await;
    let grant = control
        .origin("origin-a")
        .authorize("live", &key)
        .await
        .unwrap();
    let mut edge = control.raw(Some(credential(Role::Edge, "edge-1"))).await;

    let refused = origin_calls(&mut edge, &key, &id, grant.epoch, "edge-1")
        .await
        .map(|answer| answer.unwrap_err().code());
    assert_eq!(refused, [Code::PermissionDenied; 3]);
    assert_eq!(
        holder(&control, &id).await,
        Some(("origin-a".into(), grant.epoch))
    );

    edge.heartbeat(edge_heartbeat("edge-1", &id, 3))
        .await
        .unwrap();
    let found = edge.lookup_stream(lookup_request(&id)).await.unwrap();
    assert!(found.into_inner().live);

    // An origin cannot register as an edge either.
    let mut origin = control
        .raw(Some(credential(Role::Origin, "origin-a")))
        .await;
    let as_edge = HeartbeatRequest {
        node_id: "origin-a".into(),
        role: NodeRole::Edge.into(),
        ..HeartbeatRequest::default()
    };
    let refused = origin.heartbeat(as_edge).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // The client does not even ask, so an edge's refusal never reads as a wrong key.
    let from_edge = control.edge("edge-1").authorize("live", &key).await;
    assert_eq!(from_edge.unwrap_err().reason(), "unavailable");
    control.stop().await;
}
