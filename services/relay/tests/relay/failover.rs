//! Owner changes and ends: a viewer rides out an origin failover and a new session with
//! monotonic time, a lagging subscriber resumes at a keyframe, unwatched streams stop, and
//! streams without an owner end after the window.

use super::*;

#[tokio::test]
async fn viewer_survives_origin_failover_on_the_same_receiver() {
    let origin_a = Origin::start(HubLimits::default()).await;
    let hub_a = origin_a.hubs.start(&StreamId::new("s"));
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
    let hub_b = origin_b.hubs.start(&StreamId::new("s"));
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
    let hub = origin.hubs.start(&StreamId::new("s"));
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
    origin.hubs.finish(&StreamId::new("s"), &hub);
    assert!(within(frames.message()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_new_session_after_the_origin_ended_the_stream_keeps_the_viewer_with_monotonic_time() {
    let origin = Origin::start(HubLimits::default()).await;
    let first = origin.hubs.start(&StreamId::new("s"));
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
    origin.hubs.finish(&StreamId::new("s"), &first);
    eventually(|| edge.upstream_count() == 0).await;

    // It reconnects: a new session whose timestamps start again at zero, with a new config.
    let second = origin.hubs.start(&StreamId::new("s"));
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
    origin.hubs.finish(&StreamId::new("s"), &hub);
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

    origin.hubs.finish(&StreamId::new("s"), &hub);
    drop(viewer);
    // Well within the 60 s window: the pull stops for want of viewers, not at its end.
    eventually(|| edge.pulled_count() == 0).await;
}
