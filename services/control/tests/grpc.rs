//! The gRPC control service through [`ControlClient`], against a real Redis: one publisher per
//! stream, growing epochs, lease expiry and renewal, lookups, failing closed.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod support;

use std::time::Duration;

use ferrocast_control::{
    AuthError, ClientOptions, ControlClient, PublishAuthorizer, StreamDirectory,
};
use ferrocast_live::StreamOwners;
use ferrocast_proto::auth::Role;
use support::{Control, credential, origin_heartbeat};

#[tokio::test]
async fn one_publisher_per_stream_with_growing_epochs() {
    let control = Control::start(|_| {}).await;
    let (id, playback_id, key) = control.create_stream("s").await;
    let origin = control.origin("origin-a");

    let first = origin.authorize("live", &key).await.unwrap();
    assert_eq!(
        (first.stream_id.as_str(), first.playback_id.as_str()),
        (id.as_str(), playback_id.as_str())
    );
    assert!(first.epoch > 0);

    let other = control.origin("origin-b");
    let second = other.authorize("live", &key).await;
    assert_eq!(
        second,
        Err(AuthError::AlreadyLive {
            stream_id: id.clone()
        })
    );

    origin.release(&first).await;
    let third = other.authorize("live", &key).await.unwrap();
    assert!(third.epoch > first.epoch);

    // A stale release (the old epoch) must not end the new owner's lease.
    origin.release(&first).await;
    assert!(matches!(
        origin.authorize("live", &key).await,
        Err(AuthError::AlreadyLive { .. })
    ));
    control.stop().await;
}

#[tokio::test]
async fn refusals_name_the_stream_never_the_key() {
    let control = Control::start(|_| {}).await;
    let (id, _, key) = control.create_stream("s").await;
    let origin = control.origin("origin-a");

    let forged = format!("sk_{id}_nottherightsecret");
    let wrong = origin.authorize("live", &forged).await.unwrap_err();
    assert_eq!(
        wrong,
        AuthError::WrongKey {
            stream_id: id.clone()
        }
    );
    let shown = format!("{wrong} {wrong:?}");
    assert!(
        shown.contains(&id) && !shown.contains("nottherightsecret"),
        "{shown}"
    );

    assert_eq!(
        origin.authorize("live", "garbage").await,
        Err(AuthError::UnknownStream)
    );
    assert_eq!(
        origin.authorize("live", "sk_abcdef123456_x").await,
        Err(AuthError::UnknownStream)
    );
    assert_eq!(
        origin.authorize("other", &key).await,
        Err(AuthError::WrongApp("other".into()))
    );
    control.stop().await;
}

#[tokio::test]
async fn a_draining_origin_takes_no_new_publishers() {
    let control = Control::start(|_| {}).await;
    let (_, _, key) = control.create_stream("s").await;
    let origin = control.origin("origin-a");
    origin
        .heartbeat(origin_heartbeat("origin-a", true, &[]))
        .await
        .unwrap();
    let refused = origin.authorize("live", &key).await.unwrap_err();
    assert_eq!(refused.reason(), "unavailable", "{refused}");
    // Nothing was placed: a healthy origin can still take the stream.
    control
        .origin("origin-b")
        .authorize("live", &key)
        .await
        .unwrap();
    control.stop().await;
}

#[tokio::test]
async fn leases_expire_without_heartbeats_and_live_with_them() {
    let ttl = Duration::from_millis(400);
    let control = Control::start(|c| {
        c.lease_ttl = ttl;
        c.node_ttl = ttl;
    })
    .await;
    let (id, _, key) = control.create_stream("s").await;
    let origin = control.origin("origin-a");

    let first = origin.authorize("live", &key).await.unwrap();
    tokio::time::sleep(ttl * 2).await;
    let second = origin.authorize("live", &key).await.unwrap();
    assert!(
        second.epoch > first.epoch,
        "expired lease taken over, fenced"
    );

    // Heartbeats every ttl/4 for 3 ttls keep the lease; the response says how often.
    for _ in 0..12 {
        let beat = origin_heartbeat("origin-a", false, &[(&id, second.epoch, 1000, 0)]);
        let response = origin.heartbeat(beat).await.unwrap();
        assert_eq!(response.ttl_ms, 400);
        tokio::time::sleep(ttl / 4).await;
    }
    assert!(matches!(
        origin.authorize("live", &key).await,
        Err(AuthError::AlreadyLive { .. })
    ));

    // A heartbeat with a stale epoch does not renew: the lease runs out.
    let stale = origin_heartbeat("origin-a", false, &[(&id, first.epoch, 1000, 0)]);
    origin.heartbeat(stale).await.unwrap();
    tokio::time::sleep(ttl * 2).await;
    let third = origin.authorize("live", &key).await.unwrap();
    assert!(third.epoch > second.epoch);
    control.stop().await;
}

#[tokio::test]
async fn lookups_find_streams_and_their_relay_while_live() {
    let control = Control::start(|_| {}).await;
    let (id, playback_id, key) = control.create_stream("s").await;
    let origin = control.origin("origin-a");
    let edge = control.edge("edge-1");

    assert_eq!(
        edge.resolve_playback(&playback_id).await.unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        edge.resolve_playback("0000000000000000").await.unwrap(),
        None
    );
    assert_eq!(edge.relay_url(&id).await.unwrap(), None, "not live");

    origin
        .heartbeat(origin_heartbeat("origin-a", false, &[]))
        .await
        .unwrap();
    let grant = origin.authorize("live", &key).await.unwrap();
    assert_eq!(
        edge.relay_url(&id).await.unwrap().as_deref(),
        Some("http://origin-a.internal:7100")
    );
    let by_playback = edge
        .lookup(
            ferrocast_proto::control::lookup_stream_request::By::PlaybackId(playback_id.clone()),
        )
        .await
        .unwrap();
    assert!(by_playback.found && by_playback.live);
    assert_eq!(by_playback.origin_id, "origin-a");
    assert_eq!(by_playback.epoch, grant.epoch);

    origin.release(&grant).await;
    assert_eq!(edge.relay_url(&id).await.unwrap(), None);
    assert_eq!(
        edge.relay_url("ffffff000000").await.unwrap(),
        None,
        "unknown"
    );
    control.stop().await;
}

#[tokio::test]
async fn an_origin_that_registers_after_authorizing_is_still_found() {
    let control = Control::start(|_| {}).await;
    let (id, _, key) = control.create_stream("s").await;
    let origin = control.origin("origin-late");
    let grant = origin.authorize("live", &key).await.unwrap();
    assert_eq!(
        origin.relay_url(&id).await.unwrap(),
        None,
        "no relay known yet"
    );
    origin
        .heartbeat(origin_heartbeat(
            "origin-late",
            false,
            &[(&id, grant.epoch, 1, 0)],
        ))
        .await
        .unwrap();
    assert_eq!(
        origin.relay_url(&id).await.unwrap().as_deref(),
        Some("http://origin-late.internal:7100")
    );
    control.stop().await;
}

#[tokio::test]
async fn an_unreachable_control_fails_closed_within_the_deadline() {
    let port = ferrocast_testkit::free_port();
    let options = ClientOptions {
        timeout: Duration::from_millis(500),
        ..ClientOptions::new(credential(Role::Origin, "origin-a"))
    };
    let client = ControlClient::connect(&format!("http://127.0.0.1:{port}"), options).unwrap();
    let started = std::time::Instant::now();
    let refused = client.authorize("live", "sk_abc_def").await.unwrap_err();
    assert_eq!(refused.reason(), "unavailable", "{refused}");
    assert!(!refused.to_string().contains("sk_abc_def"));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(client.relay_url("abc").await.is_err());
    assert!(client.resolve_playback("p").await.is_err());
    let options = ClientOptions::new(credential(Role::Origin, "x"));
    assert!(ControlClient::connect("not a url", options).is_err());
}

#[tokio::test]
async fn a_lost_redis_fails_closed_within_the_deadline() {
    let mut control = Control::start(|c| c.redis_timeout = Duration::from_millis(300)).await;
    let (_, _, key) = control.create_stream("s").await;
    control.kill_redis();
    let origin = control.origin("origin-a");
    let started = std::time::Instant::now();
    let refused = origin.authorize("live", &key).await.unwrap_err();
    assert_eq!(refused.reason(), "unavailable", "{refused}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (status, body) = control.admin("GET", "/v1/streams", None).await;
    assert_eq!(status, 503, "{body}");
    control.stop().await;
}
