//! [`SegmentCache`]: single flight, byte-bounded LRU, no negative caching. GETs are counted by
//! a wrapping object store, independently of the cache's own statistics.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::{RetryPolicy, SegmentCache, SegmentStore, StoreError};
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// An in-memory store that counts GETs and makes each take a while, so concurrent readers
/// really overlap.
#[derive(Debug)]
struct CountingStore {
    inner: InMemory,
    gets: AtomicUsize,
    delay: Duration,
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore")
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn setup(delay: Duration, max_bytes: usize) -> (Arc<CountingStore>, SegmentCache) {
    let counting = Arc::new(CountingStore {
        inner: InMemory::new(),
        gets: AtomicUsize::new(0),
        delay,
    });
    let store = SegmentStore::new(counting.clone(), "live", RetryPolicy::default());
    (counting, SegmentCache::new(store, max_bytes))
}

fn segment(len: usize, fill: u8) -> Bytes {
    Bytes::from(vec![fill; len])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_readers_cause_one_backend_get() {
    let (counting, cache) = setup(Duration::from_millis(200), 1 << 20);
    let data = segment(100_000, 7);
    cache
        .store()
        .put(&StreamId::new("st"), Epoch(1), 42, data.clone())
        .await
        .unwrap();

    let readers: Vec<_> = (0..1000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(&StreamId::new("st"), Epoch(1), 42).await })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap().unwrap(), data);
    }
    assert_eq!(
        counting.gets.load(Ordering::SeqCst),
        1,
        "one GET to the store"
    );
    let stats = cache.stats();
    assert_eq!(stats.backend_gets, 1);
    assert_eq!(stats.hits + stats.misses, 1000);

    // Later readers are served from memory.
    assert_eq!(
        cache.get(&StreamId::new("st"), Epoch(1), 42).await.unwrap(),
        data
    );
    assert_eq!(counting.gets.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().hits, stats.hits + 1);
}

#[tokio::test]
async fn a_cancelled_first_reader_does_not_cancel_the_get() {
    let (counting, cache) = setup(Duration::from_millis(100), 1 << 20);
    cache
        .store()
        .put(&StreamId::new("st"), Epoch(1), 0, segment(10, 1))
        .await
        .unwrap();
    let first = tokio::time::timeout(
        Duration::from_millis(10),
        cache.get(&StreamId::new("st"), Epoch(1), 0),
    )
    .await;
    assert!(first.is_err(), "the first reader gave up");
    assert_eq!(
        cache.get(&StreamId::new("st"), Epoch(1), 0).await.unwrap(),
        segment(10, 1)
    );
    assert_eq!(counting.gets.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn least_recently_used_segments_are_evicted_by_size() {
    let (counting, cache) = setup(Duration::ZERO, 250);
    for msn in 0..4 {
        let data = segment(100, msn as u8);
        cache
            .store()
            .put(&StreamId::new("st"), Epoch(1), msn, data)
            .await
            .unwrap();
    }
    cache.get(&StreamId::new("st"), Epoch(1), 0).await.unwrap();
    cache.get(&StreamId::new("st"), Epoch(1), 1).await.unwrap();
    cache.get(&StreamId::new("st"), Epoch(1), 0).await.unwrap(); // 0 is now more recent than 1
    assert_eq!(cache.stats().cached_bytes, 200);

    cache.get(&StreamId::new("st"), Epoch(1), 2).await.unwrap(); // 300 > 250: evicts 1
    let stats = cache.stats();
    assert_eq!((stats.evictions, stats.cached_bytes), (1, 200));
    let before = counting.gets.load(Ordering::SeqCst);
    assert_eq!(
        cache.get(&StreamId::new("st"), Epoch(1), 0).await.unwrap(),
        segment(100, 0)
    );
    assert_eq!(counting.gets.load(Ordering::SeqCst), before, "0 stayed");
    assert_eq!(
        cache.get(&StreamId::new("st"), Epoch(1), 1).await.unwrap(),
        segment(100, 1)
    );
    assert_eq!(
        counting.gets.load(Ordering::SeqCst),
        before + 1,
        "1 was evicted"
    );

    // A segment larger than the whole budget is served but not kept.
    cache
        .store()
        .put(&StreamId::new("st"), Epoch(1), 9, segment(1000, 9))
        .await
        .unwrap();
    assert_eq!(
        cache
            .get(&StreamId::new("st"), Epoch(1), 9)
            .await
            .unwrap()
            .len(),
        1000
    );
    assert!(cache.stats().cached_bytes <= 250);
    cache.get(&StreamId::new("st"), Epoch(1), 9).await.unwrap();
    assert_eq!(counting.gets.load(Ordering::SeqCst), before + 3);
}

#[tokio::test]
async fn not_found_is_not_cached() {
    let (counting, cache) = setup(Duration::ZERO, 1 << 20);
    assert!(matches!(
        cache.get(&StreamId::new("st"), Epoch(1), 5).await,
        Err(StoreError::NotFound)
    ));
    cache
        .store()
        .put(&StreamId::new("st"), Epoch(1), 5, segment(10, 5))
        .await
        .unwrap();
    assert_eq!(
        cache.get(&StreamId::new("st"), Epoch(1), 5).await.unwrap(),
        segment(10, 5)
    );
    assert_eq!(counting.gets.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().backend_gets, 2);
}
