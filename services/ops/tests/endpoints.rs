//! The ops endpoints over real sockets: readiness through a process's life, loopback-only
//! drain, and 404 for metrics when no recorder is installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use ferrocast_ops::{Health, OpsState, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: ops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).await.unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn readiness_follows_start_and_drain() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (health, drain, stop) = (
        Health::default(),
        CancellationToken::new(),
        CancellationToken::new(),
    );
    health.follow(&drain);
    let state = OpsState {
        health: health.clone(),
        metrics: None,
        collectors: Vec::new(),
        drain: drain.clone(),
    };
    let server = tokio::spawn(serve(listener, state, stop.clone()));

    assert_eq!(request(addr, "GET", "/healthz").await.0, 200);
    assert_eq!(
        request(addr, "GET", "/readyz").await,
        (503, "starting\n".into())
    );
    health.set_ready();
    assert_eq!(
        request(addr, "GET", "/readyz").await,
        (200, "ready\n".into())
    );
    assert_eq!(request(addr, "GET", "/metrics").await.0, 404);

    assert_eq!(request(addr, "POST", "/drain").await.0, 202);
    assert!(drain.is_cancelled());
    let (status, body) = request(addr, "GET", "/readyz").await;
    assert_eq!((status, body.as_str()), (503, "draining\n"));
    assert_eq!(request(addr, "GET", "/healthz").await.0, 200);

    stop.cancel();
    server.await.unwrap();
}
