//! The contract of [`SegmentStore`], run against every object store it is used with: memory,
//! a local directory, and S3 (a real s3s-fs server started here, SigV4 and all).

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrocast_store::{RetryPolicy, S3Config, SegmentStore, StoreError, s3_object_store};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

const ACCESS_KEY: &str = "AKEXAMPLE";
const SECRET_KEY: &str = "SKEXAMPLE";
const BUCKET: &str = "segments";

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
    let s = unique("st");

    assert!(matches!(
        segments.get(&s, 1, 0).await,
        Err(StoreError::NotFound)
    ));

    let first = Bytes::from_static(b"\x47first segment");
    segments.put(&s, 1, 0, first.clone()).await.unwrap();
    assert_eq!(segments.get(&s, 1, 0).await.unwrap(), first);

    // Keys are create-only: a second write to the same key is refused and changes nothing.
    let overwrite = segments.put(&s, 1, 0, Bytes::from_static(b"other")).await;
    assert!(
        matches!(overwrite, Err(StoreError::AlreadyExists)),
        "{overwrite:?}"
    );
    assert_eq!(segments.get(&s, 1, 0).await.unwrap(), first);

    // A realistic segment size, and the same msn under another epoch is another object.
    let big = Bytes::from((0..2_000_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    segments.put(&s, 2, 0, big.clone()).await.unwrap();
    assert_eq!(segments.get(&s, 2, 0).await.unwrap(), big);
    assert_eq!(segments.get(&s, 1, 0).await.unwrap(), first);

    segments.delete(&s, 1, 0).await.unwrap();
    assert!(matches!(
        segments.get(&s, 1, 0).await,
        Err(StoreError::NotFound)
    ));
    segments.delete(&s, 1, 0).await.unwrap(); // deleting a missing object is fine
    assert_eq!(segments.get(&s, 2, 0).await.unwrap(), big);
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(unique("ferrocast-store-test"));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An s3s-fs server on a free loopback port, serving bucket [`BUCKET`], killed (by PID)
/// on drop.
struct S3Server {
    child: Child,
    port: u16,
    _root: TempDir,
}

impl S3Server {
    fn start() -> Self {
        let root = TempDir::new();
        // s3s-fs serves each subdirectory of its root as a bucket.
        std::fs::create_dir_all(root.0.join(BUCKET)).unwrap();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let spawned = Command::new("s3s-fs")
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(&root.0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                    "s3s-fs not found: run scripts/install-test-deps.sh \
                     (cargo install s3s-fs@0.14.1 --features binary --locked)"
                ),
                Err(error) => panic!("cannot start s3s-fs: {error}"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self {
                        child,
                        port,
                        _root: root,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("s3s-fs did not come up on any of 5 ports");
    }

    fn config(&self) -> S3Config {
        S3Config {
            endpoint: format!("http://127.0.0.1:{}", self.port),
            bucket: BUCKET.into(),
            region: "us-east-1".into(),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            path_style: true,
            allow_http: true,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    contract(Arc::new(LocalFileSystem::new_with_prefix(&dir.0).unwrap())).await;
}

#[tokio::test]
async fn s3_store_keeps_the_contract() {
    install_crypto_provider();
    let server = S3Server::start();
    contract(s3_object_store(&server.config()).unwrap()).await;
}

#[tokio::test]
async fn s3_requests_are_signed() {
    install_crypto_provider();
    let server = S3Server::start();
    let config = S3Config {
        secret_access_key: "wrong".into(),
        ..server.config()
    };
    let segments = SegmentStore::new(s3_object_store(&config).unwrap(), "live", retry());
    let refused = segments.get("st", 1, 0).await;
    assert!(
        matches!(refused, Err(StoreError::Exhausted { .. })),
        "a bad signature is an error, not a missing object: {refused:?}"
    );
}
