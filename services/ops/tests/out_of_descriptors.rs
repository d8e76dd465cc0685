//! The ops port answers `/healthz` while the process has no file descriptor left: its
//! listener gives up its spare descriptor to accept the probe. Alone in its test binary,
//! because it lowers the process's open-file limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write;
use std::time::Duration;

use ferrocast_ops::{Health, OpsState, serve};
use rlimit::Resource;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "current_thread")]
async fn healthz_answers_when_every_descriptor_is_taken() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = OpsState {
        health: Health::default(),
        metrics: None,
        collectors: Vec::new(),
        drain: CancellationToken::new(),
    };
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, state, stop.clone()));
    // On this one thread the server runs only when the test awaits: let it reach `accept`,
    // holding its spare descriptor.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }

    let mut probe = std::net::TcpStream::connect(addr).unwrap();
    let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let (soft, hard) = Resource::NOFILE.get().unwrap();
    Resource::NOFILE.set(open_now + 16, hard).unwrap();
    let mut hoard = Vec::new();
    let exhausted = loop {
        match File::open("/dev/null") {
            Ok(file) => hoard.push(file),
            Err(error) => break error,
        }
    };
    assert_eq!(exhausted.raw_os_error(), Some(libc::EMFILE), "{exhausted}");

    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: ops\r\nconnection: close\r\n\r\n")
        .unwrap();
    probe.set_nonblocking(true).unwrap();
    let mut probe = tokio::net::TcpStream::from_std(probe).unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), probe.read_to_string(&mut answer))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");

    drop(hoard);
    Resource::NOFILE.set(soft, hard).unwrap();
    stop.cancel();
    server.await.unwrap();
}
