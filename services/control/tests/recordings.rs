//! Recordings through the admin API and the reaper (ADR 21), against a real Redis holding the
//! segment index as origins write it, and an in-memory object store holding the objects:
//! retention settings and the grant, the list and one recording, a deletion (objects, then
//! entries, idempotent), a recording that cannot be deleted yet, and expiry by the reaper,
//! each with its event; a stream's DVR window, set, checked and carried to edges.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrocast_base::{Epoch, Msn, PlaybackId, StreamId};
use ferrocast_control::RecordingDeps;
use ferrocast_control::recordings::{RecordingEvents, RecordingView};
use ferrocast_control_client::{PublishAuthorizer, StreamDirectory};
use ferrocast_store::{
    RecordingPolicy, RedisIndex, RedisIndexConfig, RetryPolicy, SegmentIndex, SegmentRecord,
    SegmentStore,
};
use object_store::memory::InMemory;
use serde_json::json;
use support::Control;

/// The events control emitted: (`ready` | `deleted`, recording id).
#[derive(Default)]
struct Heard(Mutex<Vec<(&'static str, String)>>);

impl RecordingEvents for Heard {
    fn ready(&self, recording: &RecordingView) {
        self.0.lock().unwrap().push(("ready", recording.id.clone()));
    }
    fn deleted(&self, recording: &RecordingView) {
        self.0
            .lock()
            .unwrap()
            .push(("deleted", recording.id.clone()));
    }
}

impl Heard {
    fn all(&self) -> Vec<(&'static str, String)> {
        self.0.lock().unwrap().clone()
    }
}

struct Setup {
    control: Control,
    store: SegmentStore,
    heard: Arc<Heard>,
    index: RedisIndex,
}

async fn setup(min_retention: Duration, reap_interval: Duration) -> Setup {
    let store = SegmentStore::new(Arc::new(InMemory::new()), "live", RetryPolicy::default());
    let heard = Arc::new(Heard::default());
    let deps = RecordingDeps {
        store: Some(store.clone()),
        events: heard.clone(),
    };
    let control = Control::start_with(
        |config| {
            config.recordings.min_retention = min_retention;
            config.recordings.reap_interval = reap_interval;
        },
        deps,
    )
    .await;
    let index = RedisIndex::new(&RedisIndexConfig {
        url: control.redis_url().to_owned(),
        ..RedisIndexConfig::default()
    })
    .unwrap();
    Setup {
        control,
        store,
        heard,
        index,
    }
}

/// What an origin writes for a broadcast that records: `segments` 2 s segments under `epoch`,
/// then as many after an encoder reconnect under `epoch + 1` (same generation), objects first.
async fn broadcast(setup: &Setup, s: &StreamId, epoch: u64, segments: u64, retention_ms: u64) {
    let policy = Some(RecordingPolicy {
        retention_ms,
        max_duration_ms: 3_600_000,
    });
    let mut msn = 0;
    for session in [epoch, epoch + 1] {
        let start = setup.index.open_session(s, Epoch(session)).await.unwrap();
        for seq in 0..segments {
            let data = Bytes::from(vec![0x47; 188]);
            setup.store.put(s, Epoch(session), seq, data).await.unwrap();
            let record = SegmentRecord {
                msn: Msn(msn),
                epoch: Epoch(session),
                seq,
                duration_ms: 2000,
                bytes: 188,
                program_date_time_ms: 1_700_000_000_000 + msn as i64 * 2000,
                listed_at_ms: 0,
                cmaf: Default::default(),
                discontinuity: seq == 0 && start.discontinuity,
            };
            setup
                .index
                .append_recorded(s, record, 3, policy)
                .await
                .unwrap();
            msn += 1;
        }
    }
}

async fn objects_of(store: &SegmentStore, s: &StreamId, epoch: u64, count: u64) -> usize {
    let mut found = 0;
    for seq in 0..count {
        if store.get(s, Epoch(epoch), seq).await.is_ok() {
            found += 1;
        }
    }
    found
}

#[tokio::test]
async fn retention_is_set_checked_and_granted() {
    let setup = setup(Duration::from_secs(3600), Duration::from_secs(60)).await;
    let control = &setup.control;
    for bad in [json!("forever"), json!("30m"), json!(0), json!("0s")] {
        let body = json!({ "name": "x", "recording_retention": bad });
        let (status, answer) = control.admin("POST", "/v1/streams", Some(body)).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let body = json!({ "name": "kept", "recording_retention": 7 });
    let (status, created) = control.admin("POST", "/v1/streams", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["recording_retention"], "7days");
    let key = created["stream_key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    let origin = control.origin("o1");
    let grant = origin.authorize("live", key).await.unwrap();
    let recording = grant
        .recording
        .expect("a stream that keeps recordings records");
    assert_eq!(recording.retention, Duration::from_secs(7 * 86_400));
    assert_eq!(recording.max_duration, Duration::from_secs(12 * 3600));
    origin.release(&grant).await;

    // Off, then back to the control's default (off): the grant records nothing.
    for setting in ["off", "default"] {
        let path = format!("/v1/streams/{id}");
        let body = json!({ "recording_retention": setting });
        let (status, set) = control.admin("PATCH", &path, Some(body)).await;
        assert_eq!(status, 200, "{set}");
        assert_eq!(set["recording_retention"], setting);
        let grant = origin.authorize("live", key).await.unwrap();
        assert_eq!(grant.recording, None, "{setting}");
        origin.release(&grant).await;
    }
    let (_, shown) = control
        .admin("GET", &format!("/v1/streams/{id}"), None)
        .await;
    assert_eq!(shown["recording_retention"], "default");
    let body = json!({ "recording_retention": "1m" });
    let path = format!("/v1/streams/{id}");
    let (status, _) = control.admin("PATCH", &path, Some(body.clone())).await;
    assert_eq!(status, 400, "below min_retention");
    let (_, shown) = control.admin("GET", &path, None).await;
    assert_eq!(
        shown["recording_retention"], "default",
        "a refused change changes nothing"
    );
    let (status, _) = control
        .admin(
            "PATCH",
            "/v1/streams/nope",
            Some(json!({ "recording_retention": "off" })),
        )
        .await;
    assert_eq!(status, 404);
    setup.control.stop().await;
}

#[tokio::test]
async fn recordings_are_listed_and_deleted_with_their_objects() {
    let setup = setup(Duration::from_millis(1), Duration::from_secs(60)).await;
    let control = &setup.control;
    let (s, playback_id, _) = control.create_stream("rec").await;
    broadcast(&setup, &s, 1, 3, 3_600_000).await;
    let listed = format!("/v1/streams/{s}/recordings");
    let (status, list) = control.admin("GET", &listed, None).await;
    assert_eq!(status, 200, "{list}");
    let item = &list[0];
    let id = format!("rec_{s}_1");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["stream_id"], s.as_str());
    assert_eq!(item["playback_id"], playback_id.as_str());
    assert_eq!(item["state"], "recording");
    assert_eq!(item["duration_s"], 12.0);
    assert_eq!(item["size_bytes"], 6 * 188);
    assert_eq!(item["discontinuities"], 1, "the reconnect");
    assert_eq!(item["started_at_ms"], 1_700_000_000_000i64);
    assert!(item["ended_at_ms"].is_null() && item["expires_at_ms"].is_null());
    assert_eq!(
        item["playback"]["hls"],
        format!("http://edge.example:8080/vod/{playback_id}/{id}/index.m3u8")
    );
    assert_eq!(
        item["playback"]["cmaf"],
        format!("http://edge.example:8080/vod/{playback_id}/{id}/cmaf.m3u8")
    );
    assert_eq!(
        item["playback"]["watch"],
        format!("http://edge.example:8080/watch/{playback_id}?recording={id}")
    );

    // Still recording: it cannot be deleted yet.
    let one = format!("/v1/recordings/{id}");
    let (status, answer) = control.admin("DELETE", &one, None).await;
    assert_eq!(status, 409, "{answer}");

    setup.index.close_session(&s, Epoch(2)).await.unwrap();
    let (status, ready) = control.admin("GET", &one, None).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["state"], "ready");
    let ended = ready["ended_at_ms"].as_i64().unwrap();
    assert_eq!(ready["expires_at_ms"].as_i64(), Some(ended + 3_600_000));

    assert_eq!(objects_of(&setup.store, &s, 1, 3).await, 3);
    let (status, _) = control.admin("DELETE", &one, None).await;
    assert_eq!(status, 204);
    assert_eq!(objects_of(&setup.store, &s, 1, 3).await, 0);
    assert_eq!(objects_of(&setup.store, &s, 2, 3).await, 0);
    assert_eq!(setup.heard.all(), vec![("deleted", id.clone())]);
    let (status, _) = control.admin("GET", &one, None).await;
    assert_eq!(status, 404);
    let (status, _) = control.admin("DELETE", &one, None).await;
    assert_eq!(status, 404, "deleting it again");
    let (_, list) = control.admin("GET", &listed, None).await;
    assert_eq!(list, json!([]));
    // The ended live playlist named the same objects: it is gone with them.
    let state = setup.index.load(&s).await.unwrap().unwrap();
    assert!(state.segments.is_empty());

    for unknown in ["rec_x_1", "rec_x_01", "nope", &format!("rec_{s}_9")] {
        let (status, _) = control
            .admin("GET", &format!("/v1/recordings/{unknown}"), None)
            .await;
        assert_eq!(status, 404, "{unknown}");
    }
    let (status, _) = control
        .admin("GET", "/v1/streams/nope/recordings", None)
        .await;
    assert_eq!(status, 404);
    setup.control.stop().await;
}

#[tokio::test]
async fn the_reaper_announces_ready_and_deletes_what_expired() {
    let setup = setup(Duration::from_millis(1), Duration::from_millis(100)).await;
    let control = &setup.control;
    let (s, _, _) = control.create_stream("short").await;
    broadcast(&setup, &s, 1, 2, 1_500).await;
    setup.index.close_session(&s, Epoch(2)).await.unwrap();
    let id = format!("rec_{s}_1");
    let listed = format!("/v1/streams/{s}/recordings");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = control.admin("GET", &listed, None).await;
        if list == json!([]) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not reaped: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(objects_of(&setup.store, &s, 1, 2).await, 0);
    assert_eq!(objects_of(&setup.store, &s, 2, 2).await, 0);
    assert_eq!(
        setup.heard.all(),
        vec![("ready", id.clone()), ("deleted", id)],
        "each once"
    );
    setup.control.stop().await;
}

#[tokio::test]
async fn dvr_window_is_set_checked_and_carried_to_edges() {
    let setup = setup(Duration::from_secs(3600), Duration::from_secs(60)).await;
    let control = &setup.control;
    for bad in [json!("30s"), json!("13h"), json!("later"), json!(7200)] {
        let body = json!({ "name": "x", "dvr_window": bad });
        let (status, answer) = control.admin("POST", "/v1/streams", Some(body)).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let body = json!({ "name": "rewind", "dvr_window": "2h", "recording_retention": "1d" });
    let (status, created) = control.admin("POST", "/v1/streams", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["dvr_window"], "2h");
    let id = created["id"].as_str().unwrap();
    let playback_id = PlaybackId::new(created["playback_id"].as_str().unwrap());
    let edge = control.edge("e1");
    let found = edge.resolve_stream(&playback_id).await.unwrap().unwrap();
    assert_eq!(found.dvr_window, Duration::from_secs(7200));

    let path = format!("/v1/streams/{id}");
    let (status, changed) = control
        .admin("PATCH", &path, Some(json!({ "dvr_window": "off" })))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["dvr_window"], "off");
    assert_eq!(
        changed["recording_retention"], "1day",
        "a field not given is kept"
    );
    let (status, _) = control
        .admin("PATCH", &path, Some(json!({ "dvr_window": "5s" })))
        .await;
    assert_eq!(status, 400);
    let (_, plain) = control
        .admin("POST", "/v1/streams", Some(json!({ "name": "plain" })))
        .await;
    assert_eq!(plain["dvr_window"], "off", "off by default");
    setup.control.stop().await;
}
