//! The contract every [`SegmentIndex`] implementation must keep. Run against the memory twin
//! here; the Redis implementation runs the same suite against a real redis-server.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use ferrocast_store::{IndexError, MemoryIndex, SegmentIndex, SegmentRecord};

fn record(msn: u64, epoch: u64, discontinuity: bool) -> SegmentRecord {
    SegmentRecord {
        msn,
        epoch,
        duration_ms: 2000,
        program_date_time_ms: 1_700_000_000_000 + msn as i64 * 2000,
        discontinuity,
    }
}

async fn contract(index: &dyn SegmentIndex) {
    assert!(index.load("s").await.unwrap().is_none());

    let first = index.open_session("s", 1).await.unwrap();
    assert_eq!((first.next_msn, first.discontinuity), (0, false));
    for msn in 0..5 {
        index.append("s", record(msn, 1, false), 3).await.unwrap();
    }
    let state = index.load("s").await.unwrap().unwrap();
    let msns: Vec<u64> = state.segments.iter().map(|s| s.msn).collect();
    assert_eq!(msns, vec![2, 3, 4], "retains the newest three");

    let rewind = index.append("s", record(4, 1, false), 3).await;
    assert!(matches!(rewind, Err(IndexError::SequenceRewind { .. })));

    // A takeover by epoch 2 continues the sequence after a discontinuity...
    let second = index.open_session("s", 2).await.unwrap();
    assert_eq!((second.next_msn, second.discontinuity), (5, true));
    // ...and the zombie writer of epoch 1 is fenced out, for appends and session changes.
    let zombie = index.append("s", record(5, 1, false), 3).await;
    assert!(matches!(
        zombie,
        Err(IndexError::StaleEpoch {
            offered: 1,
            current: 2
        })
    ));
    assert!(index.close_session("s", 1).await.is_err());
    assert!(index.open_session("s", 1).await.is_err());
    // An epoch that never opened a session cannot write either.
    assert!(index.append("s", record(5, 3, false), 3).await.is_err());

    index.append("s", record(5, 2, true), 3).await.unwrap();
    for msn in 6..9 {
        index.append("s", record(msn, 2, false), 3).await.unwrap();
    }
    index.close_session("s", 2).await.unwrap();
    let state = index.load("s").await.unwrap().unwrap();
    assert!(state.ended);
    assert_eq!(state.epoch, 2);
    assert_eq!(
        state.discontinuity_base, 1,
        "the trimmed discontinuity is counted"
    );
    assert_eq!(state.segments.first().unwrap().msn, 6);

    let reopened = index.open_session("s", 3).await.unwrap();
    assert_eq!((reopened.next_msn, reopened.discontinuity), (9, true));
    assert!(!index.load("s").await.unwrap().unwrap().ended);
}

#[tokio::test]
async fn memory_index_keeps_the_contract() {
    contract(&MemoryIndex::new()).await;
}
