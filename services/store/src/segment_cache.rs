//! A read-through cache in front of [`SegmentStore::get`], for edges.
//!
//! A new segment is wanted by every viewer of a stream within moments of each other, so:
//! - single flight: concurrent misses for one segment cause ONE backend GET, run in its own
//!   task (a viewer that disconnects does not cancel it for the others), and all of them get
//!   its result;
//! - bounded by total bytes with LRU eviction (rule 5); a segment larger than the whole
//!   budget is served but not kept;
//! - failures (including "not found") are never cached: the object may appear a moment later,
//!   and an object store hiccup must not stick.
//!
//! Segment objects are immutable (their key contains the epoch), so a cached copy never goes
//! stale and needs no invalidation.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId, lock};
use tokio::sync::watch;
use tokio::time::timeout;

use crate::keys::SessionObject;
use crate::segments::{ObjectFailure, SegmentStore, StoreError};

/// The default byte budget of a [`SegmentCache`]: 64 MiB.
pub const DEFAULT_SEGMENT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Slack on top of the store's GET deadline for a waiter, so the GET's own timeout, not the
/// waiter's, is what normally fires.
const WAIT_SLACK: Duration = Duration::from_secs(1);

/// A snapshot of a [`SegmentCache`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads served from memory.
    pub hits: u64,
    /// Reads not in memory (each either started or joined a backend GET).
    pub misses: u64,
    /// Segments dropped to stay within the byte budget.
    pub evictions: u64,
    /// GETs sent to the object store.
    pub backend_gets: u64,
    /// GETs that failed.
    pub backend_failures: u64,
    /// Bytes held now.
    pub cached_bytes: u64,
    /// Segments held now.
    pub cached_segments: u64,
}

type GetResult = Result<Bytes, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    stream_id: StreamId,
    epoch: Epoch,
    object: SessionObject,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    backend_gets: AtomicU64,
    backend_failures: AtomicU64,
}

/// Cached segments in LRU order, plus the GETs in flight.
#[derive(Default)]
struct Lru {
    /// Data and the tick of its last use.
    entries: HashMap<Key, (Bytes, u64)>,
    /// Last-use tick → key; the first entry is the least recently used.
    order: BTreeMap<u64, Key>,
    next_tick: u64,
    bytes: usize,
    flights: HashMap<Key, watch::Receiver<Option<GetResult>>>,
}

impl Lru {
    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    fn get(&mut self, key: &Key) -> Option<Bytes> {
        let tick = self.tick();
        let (data, used) = self.entries.get_mut(key)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, key.clone());
        Some(data.clone())
    }

    /// Keeps `data`, evicting the least recently used; returns how many were evicted.
    fn insert(&mut self, key: Key, data: Bytes, max_bytes: usize) -> u64 {
        if data.len() > max_bytes || self.entries.contains_key(&key) {
            return 0;
        }
        let mut evicted = 0;
        while self.bytes + data.len() > max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.bytes -= old.len();
                evicted += 1;
            }
        }
        let tick = self.tick();
        self.bytes += data.len();
        self.order.insert(tick, key.clone());
        self.entries.insert(key, (data, tick));
        evicted
    }
}

struct Shared {
    store: SegmentStore,
    max_bytes: usize,
    lru: Mutex<Lru>,
    counters: Counters,
}

/// A byte-bounded, single-flight read cache of segment objects. Clones share one cache.
#[derive(Clone)]
pub struct SegmentCache {
    shared: Arc<Shared>,
}

impl SegmentCache {
    /// Caches reads of `store` within `max_bytes` (see [`DEFAULT_SEGMENT_CACHE_BYTES`]).
    pub fn new(store: SegmentStore, max_bytes: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                max_bytes,
                lru: Mutex::default(),
                counters: Counters::default(),
            }),
        }
    }

    /// The store behind the cache (for writes and deletes, which bypass it).
    pub fn store(&self) -> &SegmentStore {
        &self.shared.store
    }

    /// Reads segment `seq` of the session `epoch` from memory, or from the store once for all
    /// concurrent readers.
    pub async fn get(&self, stream_id: &StreamId, epoch: Epoch, seq: u64) -> GetResult {
        self.get_object(stream_id, epoch, SessionObject::Ts { seq })
            .await
    }

    /// Reads `object` of the session `epoch` (a CMAF segment or init segment too), as
    /// [`SegmentCache::get`] does a segment.
    pub async fn get_object(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        object: SessionObject,
    ) -> GetResult {
        let key = Key {
            stream_id: stream_id.clone(),
            epoch,
            object,
        };
        let counters = &self.shared.counters;
        let mut flight = {
            let mut lru = lock(&self.shared.lru);
            if let Some(data) = lru.get(&key) {
                counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(data);
            }
            counters.misses.fetch_add(1, Ordering::Relaxed);
            match lru.flights.get(&key) {
                Some(flight) => flight.clone(),
                None => self.start_flight(&mut lru, key),
            }
        };
        let deadline = self.shared.store.attempt_timeout() + WAIT_SLACK;
        match timeout(deadline, flight.wait_for(Option::is_some)).await {
            Ok(Ok(result)) => result.clone().unwrap_or_else(|| Err(aborted())),
            Ok(Err(_)) => Err(aborted()),
            Err(_) => Err(StoreError::Exhausted {
                attempts: 1,
                last: ObjectFailure::TimedOut(deadline),
            }),
        }
    }

    /// Starts the one GET for `key`; the caller holds the lock.
    fn start_flight(&self, lru: &mut Lru, key: Key) -> watch::Receiver<Option<GetResult>> {
        let (sender, receiver) = watch::channel(None);
        lru.flights.insert(key.clone(), receiver.clone());
        self.shared
            .counters
            .backend_gets
            .fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let result = shared
                .store
                .get_object(&key.stream_id, key.epoch, key.object)
                .await;
            {
                let mut lru = lock(&shared.lru);
                lru.flights.remove(&key);
                match &result {
                    Ok(data) => {
                        let evicted = lru.insert(key, data.clone(), shared.max_bytes);
                        shared
                            .counters
                            .evictions
                            .fetch_add(evicted, Ordering::Relaxed);
                    }
                    Err(_) => {
                        shared
                            .counters
                            .backend_failures
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let _ = sender.send(Some(result));
        });
        receiver
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        let counters = &self.shared.counters;
        let (bytes, segments) = {
            let lru = lock(&self.shared.lru);
            (lru.bytes, lru.entries.len())
        };
        CacheStats {
            hits: counters.hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            evictions: counters.evictions.load(Ordering::Relaxed),
            backend_gets: counters.backend_gets.load(Ordering::Relaxed),
            backend_failures: counters.backend_failures.load(Ordering::Relaxed),
            cached_bytes: bytes as u64,
            cached_segments: segments as u64,
        }
    }
}

fn aborted() -> StoreError {
    StoreError::Exhausted {
        attempts: 1,
        last: ObjectFailure::Aborted,
    }
}
