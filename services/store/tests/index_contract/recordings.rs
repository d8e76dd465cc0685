//! The recording contract (ADR 21), over every index: a generation with a reconnect is one
//! recording, appended atomically with the live listing; what it holds is never handed back
//! for deletion; it stops at its cap; it becomes ready when the playlist ends; and it is
//! deleted in two idempotent steps that clear an ended listing first.

use ferrocast_store::{RecordingPolicy, Retired};

use super::*;

const KEEP: RecordingPolicy = RecordingPolicy {
    retention_ms: 60_000,
    max_duration_ms: 3_600_000,
};

async fn recorded(index: &dyn SegmentIndex, s: &StreamId, msn: u64, epoch: u64, disc: bool) {
    index
        .append_recorded(s, record(msn, epoch, disc), 3, Some(KEEP))
        .await
        .unwrap();
}

async fn recording_contract(index: &dyn SegmentIndex, s: &StreamId) {
    assert!(index.recordings(s).await.unwrap().is_empty());
    // A broadcast: session 1, a reconnect within the window (session 2, same generation).
    index.open_session(s, Epoch(1)).await.unwrap();
    for msn in 0..4 {
        let trimmed = index
            .append_recorded(s, record(msn, 1, false), 3, Some(KEEP))
            .await
            .unwrap();
        assert!(
            trimmed.is_empty(),
            "a recorded segment is never handed back"
        );
    }
    let state = index.load(s).await.unwrap().unwrap();
    assert_eq!(msns(&state), vec![1, 2, 3], "the live window still trims");
    let reconnect = index.open_session(s, Epoch(2)).await.unwrap();
    assert!(reconnect.discontinuity && reconnect.retired.is_empty());
    recorded(index, s, 4, 2, true).await;
    recorded(index, s, 5, 2, false).await;

    let listed = index.recordings(s).await.unwrap();
    assert_eq!(
        listed.len(),
        1,
        "a reconnect within the window is the same recording"
    );
    let summary = &listed[0];
    assert_eq!(summary.generation, Epoch(1));
    assert_eq!(
        (summary.first_msn, summary.last_msn),
        (Msn(0), Some(Msn(5)))
    );
    assert_eq!((summary.segments, summary.duration_ms), (6, 12_000));
    assert_eq!(summary.discontinuities, 1);
    assert_eq!(summary.bytes, (0..6).map(|msn| 250_000 + msn).sum::<u64>());
    assert_eq!(
        summary.started_at_ms,
        record(0, 1, false).program_date_time_ms
    );
    assert_eq!(
        summary.media_end_ms,
        record(5, 2, false).program_date_time_ms + 2000
    );
    assert!(!summary.is_ready() && summary.expires_at_ms().is_none());
    assert_eq!(summary.retention_ms, 60_000);

    let whole = index.recording(s, Epoch(1)).await.unwrap().unwrap();
    let mut expected: Vec<SegmentRecord> = (0..4).map(|msn| record(msn, 1, false)).collect();
    expected.extend([record(4, 2, true), record(5, 2, false)]);
    assert_eq!(
        whole.segments, expected,
        "the log holds the whole broadcast"
    );
    let (_, one) = index
        .recording_segment(s, Epoch(1), Msn(4))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one, record(4, 2, true));
    for missing in [Msn(6), Msn(1 << 40)] {
        assert!(
            index
                .recording_segment(s, Epoch(1), missing)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(index.recording(s, Epoch(9)).await.unwrap().is_none());

    // Still recording: it cannot be deleted.
    assert_eq!(
        index.retire_recording(s, Epoch(1)).await.unwrap(),
        Retired::Busy
    );
    assert!(!index.forget_recording(s, Epoch(1)).await.unwrap());

    // The window closes: ready, stamped.
    let before = now_ms();
    index.close_session(s, Epoch(2)).await.unwrap();
    let ready = index.recordings(s).await.unwrap().remove(0);
    let ended = ready.ended_at_ms.expect("ready once the playlist ended");
    assert!(ended >= before && ended <= now_ms());
    assert_eq!(ready.expires_at_ms(), Some(ended + 60_000));

    // The next broadcast does not record: its generation retires nothing the recording holds,
    // and its own trimmed segments come back for deletion.
    let next = index.open_session(s, Epoch(3)).await.unwrap();
    assert!(next.retired.is_empty(), "{:?}", next.retired);
    for msn in 6..10 {
        index.append(s, record(msn, 3, false), 3).await.unwrap();
    }
    let state = index.load(s).await.unwrap().unwrap();
    assert_eq!(msns(&state), vec![7, 8, 9]);
    assert_eq!(index.recordings(s).await.unwrap().len(), 1);

    // Delete: retire (not served any more), then forget, each idempotent.
    let Retired::Retired { recording, cleared } =
        index.retire_recording(s, Epoch(1)).await.unwrap()
    else {
        panic!("an ended recording retires");
    };
    assert_eq!(recording.segments, expected);
    assert!(recording.summary.deleting);
    assert!(
        cleared.is_empty(),
        "another generation's listing is not touched"
    );
    assert_eq!(msns(&index.load(s).await.unwrap().unwrap()), vec![7, 8, 9]);
    assert!(
        index
            .recording_segment(s, Epoch(1), Msn(4))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        index.retire_recording(s, Epoch(1)).await.unwrap(),
        Retired::Retired { .. }
    ));
    assert!(index.forget_recording(s, Epoch(1)).await.unwrap());
    assert!(
        !index.forget_recording(s, Epoch(1)).await.unwrap(),
        "only once"
    );
    assert!(index.recordings(s).await.unwrap().is_empty());
    assert!(index.recording(s, Epoch(1)).await.unwrap().is_none());
    assert_eq!(
        index.retire_recording(s, Epoch(1)).await.unwrap(),
        Retired::Unknown
    );
}

/// Retiring the recording of the stream's ended playlist clears that listing (no playlist may
/// name an object about to go); the media sequence goes on.
async fn retiring_the_ended_playlist(index: &dyn SegmentIndex, s: &StreamId) {
    index.open_session(s, Epoch(1)).await.unwrap();
    recorded(index, s, 0, 1, false).await;
    recorded(index, s, 1, 1, false).await;
    index.close_session(s, Epoch(1)).await.unwrap();
    let Retired::Retired { cleared, .. } = index.retire_recording(s, Epoch(1)).await.unwrap()
    else {
        panic!("an ended recording retires");
    };
    assert_eq!(cleared, vec![record(0, 1, false), record(1, 1, false)]);
    let state = index.load(s).await.unwrap().unwrap();
    assert!(state.segments.is_empty() && state.ended);
    let next = index.open_session(s, Epoch(2)).await.unwrap();
    assert_eq!((next.next_msn, next.discontinuity), (Msn(2), false));
    assert!(next.retired.is_empty());
}

/// The cap: the recording stops for good at its duration (the live listing goes on, and the
/// segments past it come back for deletion as usual); a session that does not record stops it.
async fn capped(index: &dyn SegmentIndex, s: &StreamId) {
    let short = RecordingPolicy {
        retention_ms: 1,
        max_duration_ms: 5_000,
    };
    index.open_session(s, Epoch(1)).await.unwrap();
    let mut handed_back = Vec::new();
    for msn in 0..8 {
        let trimmed = index
            .append_recorded(s, record(msn, 1, false), 2, Some(short))
            .await
            .unwrap();
        handed_back.extend(trimmed.iter().map(|r| r.msn.get()));
    }
    let summary = index.recordings(s).await.unwrap().remove(0);
    assert_eq!((summary.segments, summary.duration_ms), (2, 4_000));
    assert_eq!(summary.skipped_segments, 6);
    assert!(summary.stopped);
    assert_eq!(
        handed_back,
        vec![2, 3, 4, 5],
        "past the cap, trimmed objects go"
    );

    // Another generation, recorded by its first session but not by its reconnect.
    index.close_session(s, Epoch(1)).await.unwrap();
    index.open_session(s, Epoch(2)).await.unwrap();
    recorded(index, s, 8, 2, false).await;
    index.open_session(s, Epoch(3)).await.unwrap();
    index.append(s, record(9, 3, true), 3).await.unwrap();
    index.open_session(s, Epoch(4)).await.unwrap();
    recorded(index, s, 10, 4, true).await;
    let second = index.recording(s, Epoch(2)).await.unwrap().unwrap();
    assert_eq!(
        second.segments,
        vec![record(8, 2, false)],
        "stopped for good"
    );
    assert_eq!(second.summary.skipped_segments, 2);
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

async fn all(index: &dyn SegmentIndex) {
    recording_contract(index, &unique_stream()).await;
    retiring_the_ended_playlist(index, &unique_stream()).await;
    capped(index, &unique_stream()).await;
}

#[tokio::test]
async fn memory_index_keeps_the_recording_contract() {
    all(&MemoryIndex::new()).await;
}

#[tokio::test]
async fn redis_index_keeps_the_recording_contract() {
    let server = RedisServer::start();
    all(&redis_index(&server)).await;
    // The keys the scripts name for themselves are the ones `keys` documents.
    let index = redis_index(&server);
    let s = unique_stream();
    index.open_session(&s, Epoch(5)).await.unwrap();
    recorded(&index, &s, 0, 5, false).await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let log: Vec<String> = redis::cmd("LRANGE")
        .arg(keys::recording_log(&s, Epoch(5)))
        .arg(0)
        .arg(-1)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(keys::recordings(&s))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(members, vec!["5".to_owned()]);
    let segments: i64 = redis::cmd("HGET")
        .arg(keys::recording_meta(&s, Epoch(5)))
        .arg("segments")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(segments, 1);
}

#[tokio::test]
async fn disk_index_keeps_the_recording_contract_across_a_reopen() {
    let dir = TempDir::new();
    let path = dir.path().join("index.redb");
    let s = unique_stream();
    {
        let index = DiskIndex::open(&path).unwrap();
        all(&index).await;
        index.open_session(&s, Epoch(1)).await.unwrap();
        recorded(&index, &s, 0, 1, false).await;
    }
    let index = DiskIndex::open(&path).unwrap();
    let kept = index.recording(&s, Epoch(1)).await.unwrap().unwrap();
    assert_eq!(kept.segments, vec![record(0, 1, false)]);
}

#[tokio::test]
async fn cached_indexes_keep_the_recording_contract() {
    let cache = CachedIndex::new(Arc::new(MemoryIndex::new()), CachedIndexConfig::default());
    all(&cache).await;
    let server = RedisServer::start();
    let cache = CachedIndex::new(Arc::new(redis_index(&server)), CachedIndexConfig::default());
    all(&cache).await;
}
