//! The contract every [`SegmentIndex`] implementation must keep, run against the memory twin,
//! against [`RedisIndex`] on a real redis-server started here, against [`DiskIndex`] in a
//! scratch directory (reopened, too), and against [`CachedIndex`] over each; plus Redis
//! fencing, change notifications and the cache's behaviour (`redis_only.rs`, `cache.rs`).

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrocast_base::{Epoch, Msn, StreamId};
use ferrocast_store::{
    CachedIndex, CachedIndexConfig, CmafTracks, DiskIndex, IndexChange, IndexError, IndexState,
    MemoryIndex, RedisIndex, RedisIndexConfig, ScriptedIndex, SegmentIndex, SegmentRecord, keys,
};
use ferrocast_testkit::{RedisServer, TempDir};
use tokio::sync::broadcast;

mod cache;
mod recordings;
mod redis_only;

fn record(msn: u64, epoch: u64, discontinuity: bool) -> SegmentRecord {
    SegmentRecord {
        msn: Msn(msn),
        epoch: Epoch(epoch),
        // Named by the session's own counter, deliberately unlike the msn.
        seq: msn + 100,
        duration_ms: 2000,
        bytes: 250_000 + msn,
        program_date_time_ms: 1_700_000_000_000i64.wrapping_add((msn as i64).wrapping_mul(2000)),
        listed_at_ms: 0,
        // Round-trips through every index: a recording's CMAF playlists read it back.
        cmaf: CmafTracks {
            video: Some(1),
            audio: None,
        },
        discontinuity,
    }
}

fn msns(state: &IndexState) -> Vec<u64> {
    state.segments.iter().map(|s| s.msn.get()).collect()
}

/// A stream id no other test (or earlier run against the same server) has used.
fn unique_stream() -> StreamId {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    StreamId::new(format!("st-{}-{nanos}-{n}", std::process::id()))
}

async fn contract(index: &dyn SegmentIndex, s: &StreamId) {
    assert!(index.load(s).await.unwrap().is_none());
    // Nothing may be written to a stream before a session opened it.
    assert!(matches!(
        index.append(s, record(0, 1, false), 3).await,
        Err(IndexError::StaleEpoch {
            offered: Epoch(1),
            ..
        })
    ));
    index.close_session(s, Epoch(1)).await.unwrap();
    assert!(
        index.load(s).await.unwrap().is_none(),
        "closing nothing writes nothing"
    );

    let first = index.open_session(s, Epoch(1)).await.unwrap();
    assert_eq!((first.next_msn, first.discontinuity), (Msn(0), false));
    assert!(first.retired.is_empty());
    for msn in 0..5 {
        index.append(s, record(msn, 1, false), 3).await.unwrap();
    }
    let state = index.load(s).await.unwrap().unwrap();
    assert_eq!(msns(&state), vec![2, 3, 4], "retains the newest three");
    assert_eq!(state.segments[0], record(2, 1, false), "records round-trip");
    assert_eq!((state.epoch, state.generation), (Epoch(1), Epoch(1)));

    // A retried append whose first try landed is a success that changes nothing...
    assert_eq!(
        index.append(s, record(4, 1, false), 3).await.unwrap(),
        vec![]
    );
    assert_eq!(index.load(s).await.unwrap().unwrap(), state);
    // ...but an older msn is a rewind.
    assert!(matches!(
        index.append(s, record(3, 1, false), 3).await,
        Err(IndexError::SequenceRewind {
            offered: Msn(3),
            last: Msn(4)
        })
    ));

    // A takeover by epoch 2 continues the sequence after a discontinuity, same playlist...
    let second = index.open_session(s, Epoch(2)).await.unwrap();
    assert_eq!((second.next_msn, second.discontinuity), (Msn(5), true));
    assert!(
        second.retired.is_empty(),
        "a live playlist keeps its listing"
    );
    // ...and the zombie writer of epoch 1 is fenced out, for appends (a retry of its newest
    // record included) and session changes.
    for zombie in [record(5, 1, false), record(4, 1, false)] {
        assert!(matches!(
            index.append(s, zombie, 3).await,
            Err(IndexError::StaleEpoch {
                offered: Epoch(1),
                current: Epoch(2)
            })
        ));
    }
    assert!(index.close_session(s, Epoch(1)).await.is_err());
    assert!(index.open_session(s, Epoch(1)).await.is_err());
    // An epoch that never opened a session cannot write or end it either.
    assert!(index.append(s, record(5, 3, false), 3).await.is_err());
    assert!(index.close_session(s, Epoch(3)).await.is_err());

    index.append(s, record(5, 2, true), 3).await.unwrap();
    for msn in 6..9 {
        index.append(s, record(msn, 2, false), 3).await.unwrap();
    }
    index.close_session(s, Epoch(2)).await.unwrap();
    let ended = index.load(s).await.unwrap().unwrap();
    assert!(ended.ended);
    assert_eq!((ended.epoch, ended.generation), (Epoch(2), Epoch(1)));
    assert_eq!(
        ended.discontinuity_base, 1,
        "the trimmed discontinuity is counted"
    );
    assert_eq!(msns(&ended), vec![6, 7, 8]);

    // ENDLIST is never taken back: no new segment, no reopening by the ended session; a
    // retry of the newest append is still a success.
    assert!(matches!(
        index.append(s, record(9, 2, false), 3).await,
        Err(IndexError::StaleEpoch { .. })
    ));
    assert_eq!(
        index.append(s, record(8, 2, false), 3).await.unwrap(),
        vec![]
    );
    assert!(matches!(
        index.open_session(s, Epoch(2)).await,
        Err(IndexError::StaleEpoch { .. })
    ));
    index.close_session(s, Epoch(2)).await.unwrap();
    assert_eq!(index.load(s).await.unwrap().unwrap(), ended);

    // The next session starts a new generation: the ended listing is retired (for deletion),
    // msns continue, and the new playlist starts without a discontinuity.
    let third = index.open_session(s, Epoch(3)).await.unwrap();
    assert_eq!((third.next_msn, third.discontinuity), (Msn(9), false));
    assert_eq!(third.retired, ended.segments);
    let fresh = index.load(s).await.unwrap().unwrap();
    assert!(!fresh.ended && fresh.segments.is_empty());
    assert_eq!((fresh.epoch, fresh.generation), (Epoch(3), Epoch(3)));
    assert!(fresh.discontinuity_base >= 1, "never goes back");
    assert!(matches!(
        index.append(s, record(8, 3, false), 3).await,
        Err(IndexError::SequenceRewind {
            offered: Msn(8),
            last: Msn(8)
        })
    ));
    index.append(s, record(9, 3, false), 3).await.unwrap();

    // A takeover of the live new generation keeps it.
    let fourth = index.open_session(s, Epoch(4)).await.unwrap();
    assert_eq!((fourth.next_msn, fourth.discontinuity), (Msn(10), true));
    assert!(fourth.retired.is_empty());
    let state = index.load(s).await.unwrap().unwrap();
    assert_eq!((state.epoch, state.generation), (Epoch(4), Epoch(3)));
    assert_eq!(state.segments, vec![record(9, 3, false)]);
}

/// Epochs and sequence numbers are compared exactly, also where a double (Lua's number)
/// could not tell them apart.
async fn exact_beyond_f64(index: &dyn SegmentIndex, s: &StreamId) {
    let big = 1u64 << 60;
    index.open_session(s, Epoch(big + 1)).await.unwrap();
    assert!(matches!(
        index.open_session(s, Epoch(big)).await,
        Err(IndexError::StaleEpoch { offered, current }) if offered == Epoch(big) && current == Epoch(big + 1)
    ));
    index
        .append(s, record(big + 1, big + 1, false), 3)
        .await
        .unwrap();
    assert!(matches!(
        index.append(s, record(big, big + 1, false), 3).await,
        Err(IndexError::SequenceRewind { offered, last }) if offered == Msn(big) && last == Msn(big + 1)
    ));
    let next = index.open_session(s, Epoch(big + 2)).await.unwrap();
    assert_eq!(next.next_msn, Msn(big + 2));
}

/// A [`RedisIndex`] on `server`.
fn redis_index(server: &RedisServer) -> RedisIndex {
    RedisIndex::new(&RedisIndexConfig {
        url: server.url(),
        call_timeout: Duration::from_secs(2),
        ..RedisIndexConfig::default()
    })
    .unwrap()
}

/// Waits for the next notification, with a deadline.
async fn next_change(changes: &mut broadcast::Receiver<IndexChange>) -> IndexChange {
    tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .expect("no change notification within 5 s")
        .unwrap()
}

/// Waits until the Redis change listener has (re)subscribed.
async fn wait_subscribed(changes: &mut broadcast::Receiver<IndexChange>) {
    while next_change(changes).await != IndexChange::All {}
}

/// Waits until `count` notifications have named `stream_id`.
async fn wait_for_changes(
    changes: &mut broadcast::Receiver<IndexChange>,
    stream_id: &StreamId,
    count: usize,
) {
    let mut seen = 0;
    while seen < count {
        if next_change(changes).await == IndexChange::Stream(stream_id.clone()) {
            seen += 1;
        }
    }
}

/// A cache that only a notification (not its age) can refresh within a test.
fn long_lived_cache(inner: Arc<dyn SegmentIndex>) -> CachedIndex {
    CachedIndex::new(
        inner,
        CachedIndexConfig {
            max_age: Duration::from_secs(600),
            ..CachedIndexConfig::default()
        },
    )
}

/// After a write on the index under the cache, a cached load sees it through the change
/// notification; loads without changes hit the backend once.
async fn cache_follows_notifications(backend: Arc<dyn SegmentIndex>) {
    let s = unique_stream();
    let counting = Arc::new(ScriptedIndex::over(backend.clone()));
    let cache = long_lived_cache(counting.clone());
    let mut changes = backend.changes();
    backend.open_session(&s, Epoch(1)).await.unwrap();
    backend.append(&s, record(0, 1, false), 5).await.unwrap();
    // Once delivered here, the cache's own receiver holds them too: no late invalidation.
    wait_for_changes(&mut changes, &s, 2).await;

    assert_eq!(cache.load(&s).await.unwrap().unwrap().segments.len(), 1);
    for _ in 0..50 {
        assert_eq!(cache.load(&s).await.unwrap().unwrap().segments.len(), 1);
    }
    assert_eq!(counting.loads(), 1, "unchanged state is served from cache");

    backend.append(&s, record(1, 1, false), 5).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.load(&s).await.unwrap().unwrap().segments.len() != 2 {
        assert!(
            Instant::now() < deadline,
            "no notification reached the cache"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_for_changes(&mut changes, &s, 1).await;
    cache.load(&s).await.unwrap();
    let after = counting.loads();
    assert!(after >= 2, "the change was read from the backend");
    for _ in 0..50 {
        assert_eq!(cache.load(&s).await.unwrap().unwrap().segments.len(), 2);
    }
    assert_eq!(counting.loads(), after);
}

#[tokio::test]
async fn memory_index_keeps_the_contract() {
    contract(&MemoryIndex::new(), &unique_stream()).await;
}

#[tokio::test]
async fn redis_index_keeps_the_contract() {
    let server = RedisServer::start();
    contract(&redis_index(&server), &unique_stream()).await;
}

#[tokio::test]
async fn disk_index_keeps_the_contract_and_its_state_across_a_reopen() {
    let dir = TempDir::new();
    let path = dir.path().join("index.redb");
    let s = unique_stream();
    let before = {
        let index = DiskIndex::open(&path).unwrap();
        contract(&index, &s).await;
        index.load(&s).await.unwrap().unwrap()
    };
    let index = DiskIndex::open(&path).unwrap();
    assert_eq!(index.load(&s).await.unwrap().unwrap(), before);
    // The reopened index goes on where it was: fencing and the media sequence.
    assert!(index.open_session(&s, Epoch(3)).await.is_err());
    let next = index.open_session(&s, Epoch(5)).await.unwrap();
    assert_eq!((next.next_msn, next.discontinuity), (Msn(10), true));
}

#[tokio::test]
async fn disk_index_refuses_a_file_that_is_not_an_index() {
    let dir = TempDir::new();
    let path = dir.path().join("index.redb");
    std::fs::write(&path, b"not a database, just some bytes of text").unwrap();
    assert!(matches!(
        DiskIndex::open(&path),
        Err(IndexError::Unavailable(_))
    ));
}

#[tokio::test]
async fn cached_disk_index_keeps_the_contract() {
    let dir = TempDir::new();
    let disk = DiskIndex::open(&dir.path().join("index.redb")).unwrap();
    let cache = CachedIndex::new(Arc::new(disk), CachedIndexConfig::default());
    contract(&cache, &unique_stream()).await;
}

#[tokio::test]
async fn redis_index_still_reads_v1_records() {
    let server = RedisServer::start();
    let index = redis_index(&server);
    let s = unique_stream();
    index.open_session(&s, Epoch(7)).await.unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    // What a build before record v2 wrote.
    let _: () = redis::cmd("RPUSH")
        .arg(keys::index_segments(&s))
        .arg("v1|41|7|2000|1700000000000|1")
        .query_async(&mut raw)
        .await
        .unwrap();
    let state = index.load(&s).await.unwrap().unwrap();
    let old = &state.segments[0];
    assert_eq!(
        (old.msn, old.seq, old.bytes, old.epoch),
        (Msn(41), 41, 0, Epoch(7))
    );
    assert!(old.discontinuity);
}

#[tokio::test]
async fn indexes_compare_numbers_exactly() {
    exact_beyond_f64(&MemoryIndex::new(), &unique_stream()).await;
    let server = RedisServer::start();
    exact_beyond_f64(&redis_index(&server), &unique_stream()).await;
    let dir = TempDir::new();
    let disk = DiskIndex::open(&dir.path().join("index.redb")).unwrap();
    exact_beyond_f64(&disk, &unique_stream()).await;
}

#[tokio::test]
async fn cached_memory_index_keeps_the_contract() {
    let cache = CachedIndex::new(Arc::new(MemoryIndex::new()), CachedIndexConfig::default());
    contract(&cache, &unique_stream()).await;
}

#[tokio::test]
async fn cached_redis_index_keeps_the_contract() {
    let server = RedisServer::start();
    let cache = CachedIndex::new(Arc::new(redis_index(&server)), CachedIndexConfig::default());
    contract(&cache, &unique_stream()).await;
}
