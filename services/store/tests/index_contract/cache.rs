//! The cache over each index: it follows change notifications, loads once per flight and
//! honours the flush marker.

use super::*;

#[tokio::test]
async fn cached_memory_index_follows_notifications() {
    cache_follows_notifications(Arc::new(MemoryIndex::new())).await;
}

#[tokio::test]
async fn cached_disk_index_follows_notifications() {
    let dir = TempDir::new();
    let disk = DiskIndex::open(&dir.path().join("index.redb")).unwrap();
    cache_follows_notifications(Arc::new(disk)).await;
}

#[tokio::test]
async fn cached_redis_index_follows_notifications() {
    let server = RedisServer::start();
    let index = redis_index(&server);
    // Subscribe first, so the listener's first flush marker cannot land mid-test.
    wait_subscribed(&mut index.changes()).await;
    cache_follows_notifications(Arc::new(index)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_index_single_flight_and_flush_marker() {
    let memory = Arc::new(MemoryIndex::new());
    let counting =
        Arc::new(ScriptedIndex::over(memory.clone()).with_load_delay(Duration::from_millis(100)));
    let cache = Arc::new(long_lived_cache(counting.clone()));
    let s = unique_stream();
    memory.open_session(&s, Epoch(1)).await.unwrap();

    let loads: Vec<_> = (0..200)
        .map(|_| {
            let cache = cache.clone();
            let s = s.clone();
            tokio::spawn(async move { cache.load(&s).await })
        })
        .collect();
    for load in loads {
        assert!(load.await.unwrap().unwrap().is_some());
    }
    assert_eq!(
        counting.loads(),
        1,
        "200 concurrent misses, one backend load"
    );

    // A lagged receiver flushes everything: overflow the notification buffer with other ids.
    for n in 0..2000 {
        memory
            .open_session(&StreamId::new(format!("{s}-other-{n}")), Epoch(1))
            .await
            .unwrap();
    }
    cache.load(&s).await.unwrap();
    assert_eq!(
        counting.loads(),
        2,
        "lagging behind notifications flushed the cache"
    );
}
