//! Signed webhooks against a real Redis, with two control replicas on it and a receiver that
//! checks every signature: the stream lifecycle arrives in order (`stream.active`,
//! `stream.disconnected`, `stream.idle`, then a `recording.ready` queued through the public
//! API), once; with the receiver's port closed for 20 s, everything still arrives afterwards,
//! in order and once. A vanished origin (no EndPublish) and a takeover are reported too.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

#[path = "webhooks/receiver.rs"]
mod receiver;
mod support;

use std::time::Duration;

use ferrocast_base::StreamId;
use ferrocast_control::webhooks::{
    Event, EventKind, Webhooks, WebhooksConfig, active_id, disconnected_id, idle_id,
};
use ferrocast_control::{ControlConfig, connect_redis};
use ferrocast_control_client::PublishAuthorizer;
use ferrocast_store::SentinelConfig;
use receiver::{Received, Receiver};
use serde_json::json;
use support::{Control, media_flowing};

const WEBHOOK_SECRET: &str = "whsec-test-0123456789abcdef";

/// Short windows and retries, so the lifecycle and recoveries take seconds.
fn fast(config: &mut ControlConfig) {
    config.reconnect_window = Duration::from_secs(1);
    config.webhooks.retry_initial = Duration::from_millis(200);
    config.webhooks.retry_max = Duration::from_secs(2);
}

async fn add_target(control: &Control, receiver: &Receiver) -> String {
    let (status, body) = control
        .admin(
            "POST",
            "/v1/webhooks",
            Some(json!({ "url": receiver.url(), "secret": WEBHOOK_SECRET })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains(WEBHOOK_SECRET), "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// A producer of events through the public API, as another module of control would be.
async fn producer(control: &Control) -> Webhooks {
    producer_with(control, WebhooksConfig::default()).await
}

async fn producer_with(control: &Control, config: WebhooksConfig) -> Webhooks {
    let redis = connect_redis(
        control.redis_url(),
        &SentinelConfig::default(),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    Webhooks::new(
        redis,
        config,
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .unwrap()
}

fn recording_ready(stream_id: &StreamId, n: u32) -> Event {
    Event {
        id: format!("recording.ready:{stream_id}:{n}"),
        kind: EventKind::RecordingReady,
        data: json!({ "stream_id": stream_id.as_str(), "recording_id": format!("rec-{n}") }),
    }
}

/// Every delivery verified, carried its id and type in headers, and no id came twice.
fn assert_signed_and_once(got: &[Received]) {
    for received in got {
        assert!(received.verified, "signature did not verify: {received:?}");
        assert_eq!(received.id_header, received.id(), "{received:?}");
        assert_eq!(received.type_header, received.kind(), "{received:?}");
        assert!(received.body["created_at_ms"].as_u64().unwrap() > 0);
    }
    for pair in got.windows(2) {
        assert_ne!(pair[0].id(), pair[1].id(), "delivered twice in a row");
    }
    let mut ids: Vec<&str> = got.iter().map(Received::id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        got.len(),
        "an event was delivered twice: {got:?}"
    );
}

fn ids(got: &[Received]) -> Vec<&str> {
    got.iter().map(Received::id).collect()
}

#[tokio::test]
async fn the_lifecycle_arrives_in_order_signed_once_and_after_an_outage_of_the_receiver() {
    let replica_a = Control::start(fast).await;
    let replica_b = replica_a.replica(fast).await;
    let mut receiver = Receiver::start(WEBHOOK_SECRET).await;
    add_target(&replica_a, &receiver).await;
    let (stream_id, playback_id, key) = replica_a.create_stream("webhooks").await;
    let producer = producer(&replica_a).await;

    // One origin, calling a different replica each time, as behind a load balancer.
    let grant = replica_a
        .origin("origin-1")
        .authorize("live", &key)
        .await
        .unwrap();
    replica_b.origin("origin-1").release(&grant).await;
    receiver.wait_for(3, Duration::from_secs(15)).await;
    // recording.ready, queued twice (two replicas noticing the same recording): sent once.
    producer
        .enqueue(recording_ready(&stream_id, 1))
        .await
        .unwrap();
    producer
        .enqueue(recording_ready(&stream_id, 1))
        .await
        .unwrap();
    let got = receiver.wait_for(4, Duration::from_secs(10)).await;
    let epoch = grant.epoch;
    let expected = [
        active_id(&stream_id, epoch),
        disconnected_id(&stream_id, epoch),
        idle_id(&stream_id, epoch),
        format!("recording.ready:{stream_id}:1"),
    ];
    assert_eq!(ids(&got), expected);
    let kinds: Vec<&str> = got.iter().map(Received::kind).collect();
    assert_eq!(
        kinds,
        [
            "stream.active",
            "stream.disconnected",
            "stream.idle",
            "recording.ready"
        ]
    );
    for received in &got[..3] {
        let data = &received.body["data"];
        assert_eq!(data["stream_id"], stream_id.as_str());
        assert_eq!(data["playback_id"], playback_id.as_str());
        assert_eq!(data["epoch"], epoch.get());
        assert_eq!(data["origin_id"], "origin-1");
        assert!(
            !received.body.to_string().contains(&key),
            "the stream key leaked"
        );
    }
    assert_signed_and_once(&got);

    // The receiver's port refuses connections for 20 s while a second session comes and goes.
    receiver.stop().await;
    let down_at = tokio::time::Instant::now();
    let second = replica_b
        .origin("origin-2")
        .authorize("live", &key)
        .await
        .unwrap();
    replica_a.origin("origin-2").release(&second).await;
    // Let the outage run its full 20 s (the scenario, not a synchronisation).
    tokio::time::sleep_until(down_at + Duration::from_secs(20)).await;
    producer
        .enqueue(recording_ready(&stream_id, 2))
        .await
        .unwrap();
    assert_eq!(
        receiver.received().len(),
        4,
        "nothing arrives while the port is closed"
    );
    receiver.restart().await;
    let got = receiver.wait_for(8, Duration::from_secs(30)).await;
    let epoch = second.epoch;
    let expected = [
        active_id(&stream_id, epoch),
        disconnected_id(&stream_id, epoch),
        idle_id(&stream_id, epoch),
        format!("recording.ready:{stream_id}:2"),
    ];
    assert_eq!(ids(&got[4..]), expected);
    assert_eq!(got[4].body["data"]["origin_id"], "origin-2");
    assert_signed_and_once(&got);

    // Nothing more comes: no replica delivers any of them again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        receiver.received().len(),
        8,
        "{:?}",
        ids(&receiver.received())
    );
    replica_b.stop().await;
    replica_a.stop().await;
}

#[tokio::test]
async fn a_vanished_origin_is_reported_disconnected_then_idle() {
    let short_lease = |config: &mut ControlConfig| {
        fast(config);
        config.lease_ttl = Duration::from_secs(1);
    };
    let replica_a = Control::start(short_lease).await;
    let replica_b = replica_a.replica(short_lease).await;
    let receiver = Receiver::start(WEBHOOK_SECRET).await;
    add_target(&replica_b, &receiver).await;
    let (stream_id, _, key) = replica_a.create_stream("crash").await;

    // Granted, then the origin is gone: no heartbeat renews the lease, no EndPublish comes.
    let grant = replica_a
        .origin("origin-1")
        .authorize("live", &key)
        .await
        .unwrap();
    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(
        ids(&got),
        [
            active_id(&stream_id, grant.epoch),
            disconnected_id(&stream_id, grant.epoch),
            idle_id(&stream_id, grant.epoch),
        ]
    );
    assert_signed_and_once(&got);
    replica_b.stop().await;
    replica_a.stop().await;
}

#[tokio::test]
async fn a_takeover_reports_the_old_session_disconnected_before_the_new_one_is_active() {
    let replica_a = Control::start(fast).await;
    let receiver = Receiver::start(WEBHOOK_SECRET).await;
    add_target(&replica_a, &receiver).await;
    let (stream_id, _, key) = replica_a.create_stream("takeover").await;

    // origin-1 reports no media, so origin-2 takes the stream over after takeover_after.
    let first = replica_a
        .origin("origin-1")
        .authorize("live", &key)
        .await
        .unwrap();
    let second = replica_a
        .origin("origin-2")
        .authorize("live", &key)
        .await
        .unwrap();
    assert!(second.epoch > first.epoch);
    replica_a.origin("origin-2").release(&second).await;
    let got = receiver.wait_for(5, Duration::from_secs(15)).await;
    assert_eq!(
        ids(&got),
        [
            active_id(&stream_id, first.epoch),
            disconnected_id(&stream_id, first.epoch),
            active_id(&stream_id, second.epoch),
            disconnected_id(&stream_id, second.epoch),
            idle_id(&stream_id, second.epoch),
        ]
    );
    // The old session's stale EndPublish repeats nothing.
    replica_a.origin("origin-1").release(&first).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 5);
    assert_signed_and_once(&receiver.received());
    replica_a.stop().await;
}

#[tokio::test]
async fn targets_are_validated_listed_without_secrets_and_removed() {
    let configured_url = "http://127.0.0.1:9/configured";
    let control = Control::start(|config| {
        config.webhooks.targets = vec![ferrocast_control::webhooks::TargetConfig {
            url: configured_url.into(),
            secret: "configured-secret-0123456789".into(),
        }];
    })
    .await;
    for (body, why) in [
        (json!({"url": "ftp://x/", "secret": WEBHOOK_SECRET}), "http"),
        (
            json!({"url": "http://x/", "secret": "short"}),
            "secret must be",
        ),
        (json!({"url": "http://x/"}), "expected a JSON object"),
        (
            json!({"url": configured_url, "secret": WEBHOOK_SECRET}),
            "configured",
        ),
    ] {
        let (status, answer) = control.admin("POST", "/v1/webhooks", Some(body)).await;
        assert!(status == 400 || status == 409, "{status} {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{answer}");
    }
    let (status, _) = support::http(control.rest, "GET", "/v1/webhooks", None, None).await;
    assert_eq!(status, 401);

    let (status, added) = control
        .admin(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "https://hooks.example/x", "secret": WEBHOOK_SECRET})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let (status, list) = control.admin("GET", "/v1/webhooks", None).await;
    assert_eq!(status, 200);
    let text = list.to_string();
    assert!(
        !text.contains(WEBHOOK_SECRET) && !text.contains("configured-secret"),
        "{text}"
    );
    let sources: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["config", "api"]);

    let configured_id = list[0]["id"].as_str().unwrap();
    let path = format!("/v1/webhooks/{configured_id}");
    assert_eq!(control.admin("DELETE", &path, None).await.0, 409);
    let path = format!("/v1/webhooks/{}", added["id"].as_str().unwrap());
    assert_eq!(control.admin("DELETE", &path, None).await.0, 204);
    assert_eq!(control.admin("DELETE", &path, None).await.0, 404);
    let (_, list) = control.admin("GET", "/v1/webhooks", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    control.stop().await;
}

#[tokio::test]
async fn bad_events_are_refused_by_the_public_api() {
    let control = Control::start(|_| {}).await;
    let producer = producer(&control).await;
    let event = |id: &str, data| Event {
        id: id.into(),
        kind: EventKind::RecordingDeleted,
        data,
    };
    for bad in [
        event("", json!({})),
        event("has space", json!({})),
        event(&"x".repeat(300), json!({})),
        event("recording.deleted:1", json!([1])),
    ] {
        assert!(producer.enqueue(bad).await.is_err());
    }
    producer
        .enqueue(event("recording.deleted:1", json!({})))
        .await
        .unwrap();
    control.stop().await;
}

#[tokio::test]
async fn a_full_queue_drops_its_oldest_events() {
    let control = Control::start(fast).await;
    let mut receiver = Receiver::start(WEBHOOK_SECRET).await;
    add_target(&control, &receiver).await;
    receiver.stop().await;
    let config = WebhooksConfig {
        max_queue: 3,
        ..WebhooksConfig::default()
    };
    let producer = producer_with(&control, config).await;
    let stream_id = StreamId::new("full");
    for n in 1..=5 {
        producer
            .enqueue(recording_ready(&stream_id, n))
            .await
            .unwrap();
    }
    receiver.restart().await;
    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(
        ids(&got),
        [
            "recording.ready:full:3",
            "recording.ready:full:4",
            "recording.ready:full:5"
        ]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "a dropped event came after all"
    );
    assert_signed_and_once(&receiver.received());
    control.stop().await;
}

#[tokio::test]
async fn a_lease_restored_after_the_sweep_is_reported_active_again() {
    let control = Control::start(|config| {
        fast(config);
        config.lease_ttl = Duration::from_secs(1);
        // Long enough that the restore below lands inside it on a loaded machine.
        config.reconnect_window = Duration::from_secs(3);
    })
    .await;
    let receiver = Receiver::start(WEBHOOK_SECRET).await;
    add_target(&control, &receiver).await;
    let (stream_id, _, key) = control.create_stream("restore").await;
    let origin = control.origin("origin-1");

    // No heartbeat: the lease lapses and the sweep reports the session gone.
    let grant = origin.authorize("live", &key).await.unwrap();
    receiver.wait_for(2, Duration::from_secs(10)).await;
    // The origin's heartbeats come back (an outage between it and control ended): the
    // renewal restores the lease, whose epoch is still the newest.
    let flowing = media_flowing(&origin, "origin-1", &stream_id, grant.epoch);
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    let restored = format!("{}:restored:", active_id(&stream_id, grant.epoch));
    assert!(got[2].id().starts_with(&restored), "{:?}", ids(&got));
    assert_eq!(got[2].kind(), "stream.active");
    // Gone again for good: the window closes with stream.idle. (Its second disconnect is not
    // reported again: that id was used; docs/webhooks.md names the limit.)
    drop(flowing);
    let got = receiver.wait_for(4, Duration::from_secs(15)).await;
    assert_eq!(got[3].id(), idle_id(&stream_id, grant.epoch));
    assert_eq!(got[1].id(), disconnected_id(&stream_id, grant.epoch));
    assert_signed_and_once(&got);
    control.stop().await;
}
