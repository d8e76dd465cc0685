//! [`RedisIndex`] through Redis Sentinel, against real processes (a primary, a replica and
//! three Sentinels from `ferrocast-testkit`): no acknowledged append is lost across a
//! failover, change notifications follow the new primary, and a write that too few replicas
//! confirm is unavailable.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::time::{Duration, Instant};

use ferrocast_base::{Epoch, Msn, StreamId};
use ferrocast_store::{
    IndexChange, IndexError, RedisIndex, RedisIndexConfig, SegmentIndex, SegmentRecord,
    SentinelConfig,
};
use ferrocast_testkit::SentinelCluster;
use tokio::sync::broadcast;

/// Segments appended before, and again after, the failover.
const SEGMENTS_EACH_SIDE: u64 = 5;
/// How long an origin would keep retrying an unavailable append in this test.
const RETRY_FOR: Duration = Duration::from_secs(15);

fn record(msn: u64, epoch: u64) -> SegmentRecord {
    SegmentRecord {
        msn: Msn(msn),
        epoch: Epoch(epoch),
        seq: msn,
        duration_ms: 2000,
        bytes: 625_000,
        program_date_time_ms: 1_700_000_000_000,
        listed_at_ms: 0,
        cmaf: Default::default(),
        discontinuity: false,
    }
}

/// An index that can only reach Redis through the Sentinels: its URL names no server.
fn index_through(cluster: &SentinelCluster, min_replicas: usize) -> RedisIndex {
    RedisIndex::new(&RedisIndexConfig {
        url: "redis://127.0.0.1:1".into(),
        call_timeout: Duration::from_secs(1),
        sentinel: SentinelConfig {
            master_name: cluster.master_name().to_owned(),
            nodes: cluster.sentinel_nodes(),
            min_replicas,
        },
    })
    .unwrap()
}

/// Appends like the origin does: an unavailable index is retried (appends are idempotent),
/// anything else is a failure. Returns how many attempts were unavailable.
async fn append_as_origin(index: &RedisIndex, stream: &StreamId, record: SegmentRecord) -> usize {
    let deadline = Instant::now() + RETRY_FOR;
    let mut unavailable = 0;
    loop {
        match index.append(stream, record.clone(), 100).await {
            Ok(_) => return unavailable,
            // An earlier attempt was applied but not confirmed: already listed.
            Err(IndexError::SequenceRewind { offered, last }) if offered == last => {
                return unavailable;
            }
            Err(IndexError::Unavailable(why)) => {
                assert!(Instant::now() < deadline, "still unavailable: {why}");
                unavailable += 1;
            }
            Err(other) => panic!("append {} refused: {other}", record.msn),
        }
    }
}

/// Waits (with a deadline) for a notification that names `stream` after a flush marker.
async fn flush_then(changes: &mut broadcast::Receiver<IndexChange>, stream: &StreamId) {
    let mut flushed = false;
    let wait = async {
        loop {
            match changes.recv().await.unwrap() {
                IndexChange::All => flushed = true,
                IndexChange::Stream(id) if flushed && id == *stream => return,
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), wait)
        .await
        .expect("a flush, then the stream's change, from the new primary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_append_is_lost_across_a_failover() {
    let mut cluster = tokio::task::block_in_place(|| SentinelCluster::start("fc-index"));
    let index = index_through(&cluster, 1);
    let mut changes = index.changes();
    let stream = &StreamId::new("failover-stream");
    let start = index.open_session(stream, Epoch(1)).await.unwrap();
    assert_eq!(start.next_msn, Msn(0));
    for msn in 0..SEGMENTS_EACH_SIDE {
        // Before the failover every append is acknowledged at once.
        assert_eq!(append_as_origin(&index, stream, record(msn, 1)).await, 0);
    }
    let old_primary = cluster.primary_port();

    tokio::task::block_in_place(|| cluster.failover());
    assert_ne!(cluster.primary_port(), old_primary);
    for msn in SEGMENTS_EACH_SIDE..2 * SEGMENTS_EACH_SIDE {
        append_as_origin(&index, stream, record(msn, 1)).await;
    }

    let state = index.load(stream).await.unwrap().unwrap();
    let listed: Vec<u64> = state.segments.iter().map(|s| s.msn.get()).collect();
    assert_eq!(listed, (0..2 * SEGMENTS_EACH_SIDE).collect::<Vec<_>>());
    assert_eq!(state.epoch, Epoch(1));
    flush_then(&mut changes, stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_too_few_replicas_confirm_is_unavailable() {
    let cluster = tokio::task::block_in_place(|| SentinelCluster::start("fc-wait"));
    // One replica exists; two are required.
    let index = index_through(&cluster, 2);
    let outcome = index
        .open_session(&StreamId::new("wait-stream"), Epoch(1))
        .await;
    assert!(
        matches!(&outcome, Err(IndexError::Unavailable(why)) if why.to_string().contains("too few replicas")),
        "{outcome:?}"
    );
    // One is enough with one replica.
    let index = index_through(&cluster, 1);
    index
        .open_session(&StreamId::new("wait-stream-2"), Epoch(1))
        .await
        .unwrap();
}
