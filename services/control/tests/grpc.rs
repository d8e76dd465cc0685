//! The gRPC control service through [`ControlClient`], against a real Redis: one publisher per
//! stream, growing epochs, lease expiry and renewal, lookups, failing closed.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod support;

use std::time::Duration;

use ferrocast_base::{Epoch, PlaybackId, StreamId};
use ferrocast_control_client::{
    AuthError, ClientOptions, ControlClient, DirectoryError, LookupBy, PublishAuthorizer,
    StreamDirectory,
};
use ferrocast_proto::auth::Role;
use support::{Control, TAKEOVER_AFTER, credential, media_flowing, origin_beat};

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
    assert!(first.epoch > Epoch(0));

    // A second publisher of a stream whose origin reports media is refused after the wait.
    let flowing = media_flowing(&origin, "origin-a", &id, first.epoch);
    let other = control.origin("origin-b");
    let started = std::time::Instant::now();
    let second = other.authorize("live", &key).await;
    assert!(
        matches!(&second, Err(AuthError::AlreadyLive { stream_id }) if *stream_id == id),
        "{second:?}"
    );
    assert!(
        started.elapsed() >= TAKEOVER_AFTER,
        "{:?}",
        started.elapsed()
    );
    drop(flowing);

    origin.release(&first).await;
    let started = std::time::Instant::now();
    let third = other.authorize("live", &key).await.unwrap();
    assert!(third.epoch > first.epoch);
    assert!(
        started.elapsed() < TAKEOVER_AFTER,
        "a released stream is granted at once"
    );

    // A stale release (the old epoch) must not end the new owner's lease.
    let _flowing = media_flowing(&other, "origin-b", &id, third.epoch);
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
    assert!(
        matches!(&wrong, AuthError::WrongKey { stream_id } if *stream_id == id),
        "{wrong:?}"
    );
    let shown = format!("{wrong} {wrong:?}");
    assert!(
        shown.contains(id.as_str()) && !shown.contains("nottherightsecret"),
        "{shown}"
    );

    assert!(matches!(
        origin.authorize("live", "garbage").await,
        Err(AuthError::UnknownStream)
    ));
    assert!(matches!(
        origin.authorize("live", "sk_abcdef123456_x").await,
        Err(AuthError::UnknownStream)
    ));
    assert!(matches!(
        origin.authorize("other", &key).await,
        Err(AuthError::WrongApp(app)) if app == "other"
    ));
    control.stop().await;
}

#[tokio::test]
async fn a_draining_origin_takes_no_new_publishers() {
    let control = Control::start(|_| {}).await;
    let (_, _, key) = control.create_stream("s").await;
    let origin = control.origin("origin-a");
    origin
        .heartbeat(&origin_beat("origin-a", true, &[]))
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
async fn a_quiet_origin_is_taken_over_and_its_late_heartbeats_are_fenced() {
    let control = Control::start(|_| {}).await;
    let (id, _, key) = control.create_stream("s").await;
    let origin_a = control.origin("origin-a");
    let origin_b = control.origin("origin-b");

    // Origin A stops having media (its encoder died): B's publish is granted within
    // takeover_after + 250 ms, under a higher epoch.
    let first = origin_a.authorize("live", &key).await.unwrap();
    let response = origin_a
        .heartbeat(&origin_beat("origin-a", false, &[(&id, first.epoch, 0, 0)]))
        .await
        .unwrap();
    assert_eq!(response, Duration::from_millis(10_000));
    let started = std::time::Instant::now();
    let second = origin_b.authorize("live", &key).await.unwrap();
    assert!(second.epoch > first.epoch);
    assert!(
        started.elapsed() <= TAKEOVER_AFTER + std::time::Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    // A's later heartbeats for the old epoch renew nothing: B stays the owner.
    origin_a
        .heartbeat(&origin_beat("origin-a", false, &[(&id, first.epoch, 0, 0)]))
        .await
        .unwrap();
    let lookup = origin_a
        .lookup(LookupBy::StreamId(id.clone()))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(
        (lookup.origin_id.as_str(), lookup.epoch),
        ("origin-b", second.epoch)
    );
    control.stop().await;
}

#[tokio::test]
async fn a_lease_lapsed_in_an_outage_is_restored_by_the_next_heartbeat() {
    let ttl = Duration::from_millis(400);
    let control = Control::start(|c| {
        c.lease_ttl = ttl;
        c.node_ttl = ttl;
    })
    .await;
    let (id, _, key) = control.create_stream("s").await;
    let origin = control.origin("origin-a");
    let grant = origin.authorize("live", &key).await.unwrap();

    // No heartbeat for two lease lifetimes (control or Redis was unreachable): it lapsed.
    tokio::time::sleep(ttl * 2).await;
    let lookup = || origin.lookup(LookupBy::StreamId(id.clone()));
    assert!(!lookup().await.unwrap().expect("found").live);
    // The origin is still publishing: its next heartbeat brings the lease back.
    origin
        .heartbeat(&origin_beat(
            "origin-a",
            false,
            &[(&id, grant.epoch, 1000, 0)],
        ))
        .await
        .unwrap();
    let found = lookup().await.unwrap().expect("found");
    assert!(found.live);
    assert_eq!(
        (found.origin_id.as_str(), found.epoch),
        ("origin-a", grant.epoch)
    );
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
    assert!(matches!(
        edge.resolve_playback(&PlaybackId::new("0000000000000000"))
            .await,
        Ok(None)
    ));
    assert_eq!(edge.relay_url(&id).await.unwrap(), None, "not live");

    origin
        .heartbeat(&origin_beat("origin-a", false, &[]))
        .await
        .unwrap();
    let grant = origin.authorize("live", &key).await.unwrap();
    assert_eq!(
        edge.relay_url(&id).await.unwrap().as_deref(),
        Some("http://origin-a.internal:7100")
    );
    let by_playback = edge
        .lookup(LookupBy::PlaybackId(playback_id.clone()))
        .await
        .unwrap()
        .expect("found");
    assert!(by_playback.live);
    assert_eq!(by_playback.origin_id, "origin-a");
    assert_eq!(by_playback.epoch, grant.epoch);

    origin.release(&grant).await;
    assert_eq!(edge.relay_url(&id).await.unwrap(), None);
    assert_eq!(
        edge.relay_url(&StreamId::new("ffffff000000"))
            .await
            .unwrap(),
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
        .heartbeat(&origin_beat(
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
    assert!(client.relay_url(&StreamId::new("abc")).await.is_err());
    assert!(matches!(
        client.resolve_playback(&PlaybackId::new("p")).await,
        Err(DirectoryError::Unavailable(_))
    ));
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

#[tokio::test]
async fn an_edge_keeps_resolving_known_streams_while_control_is_down() {
    let control = Control::start(|_| {}).await;
    let (id, playback_id, _) = control.create_stream("s").await;
    let options = ClientOptions {
        timeout: Duration::from_millis(500),
        // Every answer is already stale: each lookup asks control.
        playback_hit_ttl: Duration::ZERO,
        playback_miss_ttl: Duration::ZERO,
        ..ClientOptions::new(credential(Role::Edge, "edge-1"))
    };
    let edge = ControlClient::connect(&format!("http://{}", control.grpc), options).unwrap();
    assert_eq!(
        edge.resolve_playback(&playback_id).await.unwrap(),
        Some(id.clone())
    );
    assert!(matches!(
        edge.resolve_playback(&PlaybackId::new("0000000000000000"))
            .await,
        Ok(None)
    ));

    control.stop().await;
    assert_eq!(
        edge.resolve_playback(&playback_id).await.unwrap(),
        Some(id),
        "a known stream is answered from the cache"
    );
    assert!(
        matches!(
            edge.resolve_playback(&PlaybackId::new("0000000000000000"))
                .await,
            Err(DirectoryError::Unavailable(_))
        ),
        "an unknown one is unavailable (503), not a 404"
    );
}
