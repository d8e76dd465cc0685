//! The REST admin API against a real Redis: tokens, stream lifecycle, secrecy of keys, live
//! state and ingest placement.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod support;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_control::{ControlConfig, ServerError};
use ferrocast_control_client::{AuthError, PublishAuthorizer};
use ferrocast_proto::auth::ClusterSecret;
use serde_json::json;
use support::{Control, SECRET, TOKEN, edge_heartbeat, http, origin_beat, origin_heartbeat};

#[tokio::test]
async fn every_request_needs_the_token() {
    let control = Control::start(|_| {}).await;
    for (method, path) in [
        ("GET", "/v1/streams"),
        ("POST", "/v1/streams"),
        ("GET", "/v1/ingest"),
        ("GET", "/no/such/route"),
    ] {
        for token in [None, Some("wrong"), Some("")] {
            let (status, body) = http(control.rest, method, path, token, Some(json!({}))).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}");
            assert!(body["error"].is_string(), "{body}");
        }
    }
    let (status, _) = control.admin("GET", "/v1/streams", None).await;
    assert_eq!(status, 200);
    control.stop().await;
}

#[tokio::test]
async fn streams_are_created_listed_and_never_show_their_key() {
    let control = Control::start(|_| {}).await;
    let (status, created) = control
        .admin("POST", "/v1/streams", Some(json!({ "name": "show" })))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let playback_id = created["playback_id"].as_str().unwrap();
    let key = created["stream_key"].as_str().unwrap();
    assert!(key.starts_with(&format!("sk_{id}_")));
    assert_eq!(created["name"], "show");
    assert_eq!(created["rtmp_url"], "rtmp://ingest.example:1935/live");
    assert_eq!(
        created["hls_url"],
        format!("http://edge.example:8080/hls/{playback_id}/index.m3u8")
    );
    assert_eq!(
        created["flv_url"],
        format!("http://edge.example:8080/live/{playback_id}.flv")
    );
    assert!(created["created_at_ms"].as_i64().unwrap() > 0);

    let hash = ferrocast_control::credentials::key_hash(key);
    let secrets = [key.to_owned(), hex_lower(&hash)];
    let (status, list) = control.admin("GET", "/v1/streams", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, one) = control
        .admin("GET", &format!("/v1/streams/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], id);
    assert_eq!(one["live"], false);
    for shown in [list.to_string(), one.to_string()] {
        for secret in &secrets {
            assert!(!shown.contains(secret.as_str()), "{shown}");
        }
        assert!(
            !shown.contains("stream_key") && !shown.contains("sha256"),
            "{shown}"
        );
    }

    let (status, _) = control.admin("GET", "/v1/streams/ffffff000000", None).await;
    assert_eq!(status, 404);
    let (status, body) = control
        .admin("POST", "/v1/streams", Some(json!({ "nom": "x" })))
        .await;
    assert_eq!(status, 400, "{body}");
    control.stop().await;
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn rotating_the_key_retires_the_old_one() {
    let control = Control::start(|_| {}).await;
    let (id, _, old_key) = control.create_stream("rotate").await;
    let (status, rotated) = control
        .admin("POST", &format!("/v1/streams/{id}/rotate-key"), None)
        .await;
    assert_eq!(status, 200);
    let new_key = rotated["stream_key"].as_str().unwrap();
    assert_ne!(new_key, old_key);

    let origin = control.origin("origin-a");
    let refused = origin.authorize("live", &old_key).await.unwrap_err();
    assert!(
        matches!(&refused, AuthError::WrongKey { stream_id } if *stream_id == id),
        "{refused:?}"
    );
    let grant = origin.authorize("live", new_key).await.unwrap();
    assert_eq!(grant.stream_id, id);

    let (status, _) = control
        .admin("POST", "/v1/streams/ffffff000000/rotate-key", None)
        .await;
    assert_eq!(status, 404);
    control.stop().await;
}

#[tokio::test]
async fn deleted_streams_are_gone() {
    let control = Control::start(|_| {}).await;
    let (id, _, key) = control.create_stream("bye").await;
    let path = format!("/v1/streams/{id}");
    let (status, body) = control.admin("DELETE", &path, None).await;
    assert_eq!((status, body), (204, serde_json::Value::Null));
    assert_eq!(control.admin("GET", &path, None).await.0, 404);
    assert_eq!(control.admin("DELETE", &path, None).await.0, 404);
    let (_, list) = control.admin("GET", "/v1/streams", None).await;
    assert_eq!(list, json!([]));
    let refused = control.origin("o").authorize("live", &key).await;
    assert!(matches!(refused, Err(AuthError::UnknownStream)));
    control.stop().await;
}

#[tokio::test]
async fn ingest_points_at_the_least_loaded_healthy_origin() {
    let control = Control::start(|_| {}).await;
    let (status, body) = control.admin("GET", "/v1/ingest", None).await;
    assert_eq!(status, 503, "{body}");

    control.beat(origin_heartbeat("origin-a", false, &[])).await;
    let (status, body) = control.admin("GET", "/v1/ingest", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["rtmp_url"], "rtmp://origin-a.internal:1935/live");

    // Busier but healthy beats idle but draining.
    control.beat(origin_heartbeat("origin-a", true, &[])).await;
    control
        .beat(origin_heartbeat(
            "origin-b",
            false,
            &[(&StreamId::new("x"), Epoch(1), 1, 0)],
        ))
        .await;
    let (_, body) = control.admin("GET", "/v1/ingest", None).await;
    assert_eq!(body["rtmp_url"], "rtmp://origin-b.internal:1935/live");

    control.beat(origin_heartbeat("origin-c", false, &[])).await;
    let (_, body) = control.admin("GET", "/v1/ingest", None).await;
    assert_eq!(body["rtmp_url"], "rtmp://origin-c.internal:1935/live");
    control.stop().await;
}

#[tokio::test]
async fn live_state_comes_from_the_lease_and_heartbeats() {
    let control = Control::start(|_| {}).await;
    let (id, _, key) = control.create_stream("live").await;
    let origin = control.origin("origin-a");
    origin
        .heartbeat(&origin_beat("origin-a", false, &[]))
        .await
        .unwrap();
    let grant = origin.authorize("live", &key).await.unwrap();
    origin
        .heartbeat(&origin_beat(
            "origin-a",
            false,
            &[(&id, grant.epoch, 4_500_000, 2)],
        ))
        .await
        .unwrap();
    let path = format!("/v1/streams/{id}");
    let (_, view) = control.admin("GET", &path, None).await;
    assert_eq!(view["live"], true);
    assert_eq!(view["origin_id"], "origin-a");
    assert_eq!(view["epoch"], grant.epoch.get());
    assert_eq!(view["ingest_bitrate_bps"], 4_500_000);
    assert_eq!(
        view["viewers"], 2,
        "the origin's count while no edge reports"
    );
    assert!(view["started_at_ms"].as_u64().unwrap() > 0);

    control.beat(edge_heartbeat("edge-1", &id, 30)).await;
    control.beat(edge_heartbeat("edge-2", &id, 12)).await;
    let (_, list) = control.admin("GET", "/v1/streams", None).await;
    assert_eq!(list[0]["viewers"], 42, "summed over edges");

    origin.release(&grant).await;
    let (_, view) = control.admin("GET", &path, None).await;
    assert_eq!(view["live"], false);
    assert_eq!(view["origin_id"], serde_json::Value::Null);
    control.stop().await;
}

#[tokio::test]
async fn refuses_to_start_without_a_long_admin_token() {
    let redis = ferrocast_testkit::RedisServer::start();
    let manager = ferrocast_control::connect_redis(
        &redis.url(),
        &ferrocast_store::SentinelConfig::default(),
        std::time::Duration::from_secs(2),
    )
    .await
    .unwrap();
    for token in ["", &TOKEN[..31]] {
        let rest = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = ControlConfig {
            admin_token: token.to_owned(),
            ..ControlConfig::default()
        };
        let secret = ClusterSecret::new(SECRET).unwrap();
        let result = ferrocast_control::run(
            config,
            secret,
            manager.clone(),
            rest,
            grpc,
            Default::default(),
        )
        .await;
        let Err(ServerError::Config(message)) = result else {
            panic!("started with admin token {token:?}");
        };
        assert!(
            message.contains("admin_token must be at least 32"),
            "{message}"
        );
    }
}
