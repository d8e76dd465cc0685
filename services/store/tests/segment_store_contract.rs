//! The contract of [`SegmentStore`], run against every object store it is used with: memory,
//! a local directory, and S3 (a real s3s-fs server started here, SigV4 and all).

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::{RetryPolicy, S3Config, SegmentStore, StoreError, s3_object_store};
use ferrocast_testkit::{S3Server, TempDir};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        attempt_timeout: Duration::from_secs(5),
        first_backoff: Duration::from_millis(50),
    }
}

fn unique(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{nanos}-{n}", std::process::id())
}

async fn contract(store: Arc<dyn ObjectStore>) {
    let segments = SegmentStore::new(store, "live", retry());
    let s = StreamId::new(unique("st"));

    assert!(matches!(
        segments.get(&s, Epoch(1), 0).await,
        Err(StoreError::NotFound)
    ));

    let first = Bytes::from_static(b"\x47first segment");
    segments.put(&s, Epoch(1), 0, first.clone()).await.unwrap();
    assert_eq!(segments.get(&s, Epoch(1), 0).await.unwrap(), first);

    // Keys are create-only: a second write to the same key is refused and changes nothing.
    let overwrite = segments
        .put(&s, Epoch(1), 0, Bytes::from_static(b"other"))
        .await;
    assert!(
        matches!(overwrite, Err(StoreError::AlreadyExists)),
        "{overwrite:?}"
    );
    assert_eq!(segments.get(&s, Epoch(1), 0).await.unwrap(), first);

    // A realistic segment size, and the same msn under another epoch is another object.
    let big = Bytes::from((0..2_000_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    segments.put(&s, Epoch(2), 0, big.clone()).await.unwrap();
    assert_eq!(segments.get(&s, Epoch(2), 0).await.unwrap(), big);
    assert_eq!(segments.get(&s, Epoch(1), 0).await.unwrap(), first);

    segments.delete(&s, Epoch(1), 0).await.unwrap();
    assert!(matches!(
        segments.get(&s, Epoch(1), 0).await,
        Err(StoreError::NotFound)
    ));
    segments.delete(&s, Epoch(1), 0).await.unwrap(); // deleting a missing object is fine
    assert_eq!(segments.get(&s, Epoch(2), 0).await.unwrap(), big);

    // A recording's session goes whole (ADR 21), and only it.
    for seq in 0..50 {
        let data = Bytes::from_static(b"\x47ts");
        segments.put(&s, Epoch(3), seq, data).await.unwrap();
    }
    assert_eq!(segments.delete_session(&s, Epoch(3)).await.unwrap(), 50);
    for seq in 0..50 {
        assert!(matches!(
            segments.get(&s, Epoch(3), seq).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(segments.delete_session(&s, Epoch(3)).await.unwrap(), 0);
    assert_eq!(segments.get(&s, Epoch(2), 0).await.unwrap(), big);
}

/// The client configuration for `server`.
fn s3_config(server: &S3Server) -> S3Config {
    let endpoint = server.config();
    S3Config {
        endpoint: endpoint.endpoint,
        bucket: endpoint.bucket,
        region: endpoint.region,
        access_key_id: endpoint.access_key_id,
        secret_access_key: endpoint.secret_access_key,
        path_style: true,
        allow_http: true,
    }
}

fn install_crypto_provider() {
    // Fails only when a provider is already installed (another test did it): fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[tokio::test]
async fn in_memory_store_keeps_the_contract() {
    contract(Arc::new(InMemory::new())).await;
}

#[tokio::test]
async fn local_directory_store_keeps_the_contract() {
    let dir = TempDir::new();
    contract(Arc::new(
        LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn s3_store_keeps_the_contract() {
    install_crypto_provider();
    let server = S3Server::start();
    contract(s3_object_store(&s3_config(&server)).unwrap()).await;
}

#[tokio::test]
async fn s3_requests_are_signed() {
    install_crypto_provider();
    let server = S3Server::start();
    let config = S3Config {
        secret_access_key: "wrong".into(),
        ..s3_config(&server)
    };
    let segments = SegmentStore::new(s3_object_store(&config).unwrap(), "live", retry());
    let refused = segments.get(&StreamId::new("st"), Epoch(1), 0).await;
    assert!(
        matches!(refused, Err(StoreError::Exhausted { .. })),
        "a bad signature is an error, not a missing object: {refused:?}"
    );
}
