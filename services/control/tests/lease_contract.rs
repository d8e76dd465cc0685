//! One contract for both lease stores, through [`LeasePolicy`]: the memory store of
//! `ferrocast dev` and the Redis store of the cluster (a real `redis-server`). Times are
//! real, scaled down: takeover after 300 ms, leases lapse after 1 s.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::time::{Duration, Instant};

use ferrocast_base::{Epoch, StreamId};
use ferrocast_control::lease::{Acquired, Claim, Release, Renewed};
use ferrocast_control::{
    HeldStream, LeasePolicy, LeaseStore, MemoryLeaseStore, RedisLeaseStore, connect_redis,
};
use ferrocast_store::SentinelConfig;
use ferrocast_testkit::RedisServer;

const TAKEOVER_AFTER: Duration = Duration::from_millis(300);
const LEASE_TTL: Duration = Duration::from_secs(1);
const STREAM: &str = "stream-1";

fn stream() -> StreamId {
    StreamId::new(STREAM)
}

fn claim(origin_id: &str) -> Claim<'_> {
    Claim {
        origin_id,
        relay_url: "http://relay.internal:7100",
    }
}

fn held(epoch: Epoch, media_age: Duration) -> [HeldStream; 1] {
    [HeldStream {
        stream_id: stream(),
        epoch,
        media_age,
    }]
}

/// Acquires for `origin_id`; returns the decision and how long it took.
async fn acquire<S: LeaseStore>(policy: &LeasePolicy<S>, origin_id: &str) -> (Acquired, Duration) {
    let started = Instant::now();
    let decision = policy.acquire(&stream(), claim(origin_id)).await.unwrap();
    (decision, started.elapsed())
}

fn granted(decision: Acquired) -> (Epoch, Option<Epoch>) {
    match decision {
        Acquired::Granted { epoch, replaced } => (epoch, replaced),
        Acquired::Refused { holder_epoch } => panic!("refused, held by epoch {holder_epoch}"),
    }
}

async fn holder<S: LeaseStore>(policy: &LeasePolicy<S>) -> Option<(String, Epoch)> {
    let lease = policy.lease(&stream()).await.unwrap();
    lease.map(|lease| (lease.origin_id, lease.epoch))
}

async fn contract<S: LeaseStore>(policy: LeasePolicy<S>) {
    let wait = policy.decision_wait();
    assert_eq!(wait, TAKEOVER_AFTER + Duration::from_millis(250));
    let mut epochs = Vec::new();

    // A free stream is granted at once.
    let (decision, took) = acquire(&policy, "origin-a").await;
    let (first, replaced) = granted(decision);
    assert_eq!(replaced, None);
    assert!(took < Duration::from_millis(100), "{took:?}");
    epochs.push(first);

    // A healthy holder (media reported every 50 ms) keeps the stream: refused after the wait.
    let beats = async {
        loop {
            policy
                .renew(claim("origin-a"), &held(first, Duration::ZERO))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (decision, took) = tokio::select! {
        answer = acquire(&policy, "origin-b") => answer,
        () = beats => unreachable!("heartbeats never end"),
    };
    assert_eq!(
        decision,
        Acquired::Refused {
            holder_epoch: first
        }
    );
    assert!(
        took >= wait && took < wait + Duration::from_millis(300),
        "{took:?}"
    );

    // A holder alive but without media since then (a half-open encoder) is taken over
    // `takeover_after` after its last media: a report of an older age cannot move the media
    // time back (heartbeats may cross).
    let answers = policy
        .renew(claim("origin-a"), &held(first, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(answers, [Renewed::Extended]);
    let (decision, took) = acquire(&policy, "origin-b").await;
    let (second, replaced) = granted(decision);
    assert_eq!(replaced, Some(first));
    assert!(second > first);
    assert!(
        took <= TAKEOVER_AFTER + Duration::from_millis(50),
        "{took:?}"
    );
    epochs.push(second);

    // The zombie's renewal and release are refused; the new holder keeps the stream.
    let answers = policy
        .renew(claim("origin-a"), &held(first, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(answers, [Renewed::Lost]);
    let released = policy.release(&stream(), first, "origin-a").await.unwrap();
    assert_eq!(released, Release::Stale);
    let released = policy.release(&stream(), second, "origin-a").await.unwrap();
    assert_eq!(released, Release::HeldByAnother);
    assert_eq!(holder(&policy).await, Some(("origin-b".into(), second)));

    // A holder that died (no more heartbeats) is taken over within the bound: a caller that
    // arrives right after the grant waits until the holder is quiet for `takeover_after`.
    let (decision, took) = acquire(&policy, "origin-c").await;
    let (third, replaced) = granted(decision);
    assert_eq!(replaced, Some(second));
    assert!(third > second);
    assert!(took <= wait, "{took:?}");
    epochs.push(third);

    // A released lease is granted again at once.
    let released = policy.release(&stream(), third, "origin-c").await.unwrap();
    assert_eq!(released, Release::Released);
    // A heartbeat sent before the release and arriving after it does not bring it back.
    let answers = policy
        .renew(claim("origin-c"), &held(third, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(answers, [Renewed::Lost]);
    assert_eq!(holder(&policy).await, None);
    let (decision, took) = acquire(&policy, "origin-a").await;
    let (fourth, replaced) = granted(decision);
    assert_eq!(replaced, None);
    assert!(took < Duration::from_millis(100), "{took:?}");
    epochs.push(fourth);

    // A lease that lapsed (no renewal for its time to live: an outage) is restored by its
    // holder's next renewal, because its epoch is still the newest.
    tokio::time::sleep(LEASE_TTL + Duration::from_millis(200)).await;
    assert_eq!(holder(&policy).await, None, "the lease lapsed");
    let foreign = policy
        .renew(claim("origin-b"), &held(fourth, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(
        foreign,
        [Renewed::Lost],
        "only the origin granted it restores it"
    );
    let answers = policy
        .renew(claim("origin-a"), &held(fourth, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(answers, [Renewed::Restored]);
    assert_eq!(holder(&policy).await, Some(("origin-a".into(), fourth)));

    // Not so once a newer epoch was handed out while it was lapsed.
    tokio::time::sleep(LEASE_TTL + Duration::from_millis(200)).await;
    let (decision, _) = acquire(&policy, "origin-b").await;
    let (fifth, replaced) = granted(decision);
    assert_eq!(replaced, None, "the lapsed lease was gone, not taken over");
    epochs.push(fifth);
    tokio::time::sleep(LEASE_TTL + Duration::from_millis(200)).await;
    let answers = policy
        .renew(claim("origin-a"), &held(fourth, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(answers, [Renewed::Lost]);
    assert_eq!(holder(&policy).await, None);

    // Epochs only grow.
    assert!(
        epochs.windows(2).all(|pair| pair[0] < pair[1]),
        "{epochs:?}"
    );
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    contract(LeasePolicy::new(
        MemoryLeaseStore::new(LEASE_TTL),
        TAKEOVER_AFTER,
    ))
    .await;
}

#[tokio::test]
async fn redis_store_keeps_the_contract() {
    let redis = RedisServer::start();
    let timeout = Duration::from_secs(2);
    let manager = connect_redis(&redis.url(), &SentinelConfig::default(), timeout)
        .await
        .unwrap();
    let store = RedisLeaseStore::new(manager, timeout, LEASE_TTL);
    contract(LeasePolicy::new(store, TAKEOVER_AFTER)).await;
}

#[tokio::test]
async fn the_memory_store_continues_above_a_raised_epoch_floor() {
    let store = MemoryLeaseStore::new(LEASE_TTL);
    store.raise_epoch_floor(&stream(), Epoch(41));
    store.raise_epoch_floor(&stream(), Epoch(7));
    let policy = LeasePolicy::new(store, TAKEOVER_AFTER);
    let (decision, _) = acquire(&policy, "origin-a").await;
    assert_eq!(granted(decision), (Epoch(42), None));
}
