//! The timeouts of one connection, in paused time over an in-memory socket: the three
//! slow-loris clients of issue 10 (nothing, one byte a second, a request line only), an idle
//! kept-alive connection, a slow second request, an endless response, and the drain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::*;

const HEADER: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(30);
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: edge\r\n\r\n";

fn limits() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: HEADER,
        idle_timeout: IDLE,
        max_connections: 10,
    }
}

fn router() -> Router {
    let endless = || async {
        let ticks = futures_ticks(60);
        Body::from_stream(ticks)
    };
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/stream", get(endless))
}

/// One chunk a second for `seconds` seconds.
fn futures_ticks(
    seconds: u32,
) -> impl futures::Stream<Item = Result<&'static str, std::io::Error>> {
    futures::stream::unfold(0, move |sent| async move {
        if sent == seconds {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some((Ok("tick\n"), sent + 1))
    })
}

fn stop() -> Stop {
    Stop {
        draining: CancellationToken::new(),
        closing: CancellationToken::new(),
    }
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}

/// Serves `server` until it closes; how it closed and when, from the start.
async fn serve_timed(server: DuplexStream, stop: &Stop) -> (Closed, Duration) {
    let started = Instant::now();
    let closed = serve(
        server,
        Vec::new(),
        peer(),
        router(),
        &limits(),
        stop,
        |_| {},
    )
    .await;
    (closed, started.elapsed())
}

/// Reads until `pattern` has arrived.
async fn read_until(client: &mut DuplexStream, pattern: &[u8]) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !received.windows(pattern.len()).any(|w| w == pattern) {
        let n = client.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before {pattern:?}: {received:?}");
        received.extend_from_slice(&buf[..n]);
    }
    received
}

fn about(elapsed: Duration, expected: Duration) -> bool {
    elapsed >= expected && elapsed < expected + Duration::from_millis(100)
}

#[tokio::test(start_paused = true)]
async fn a_client_that_sends_nothing_is_closed_at_the_header_timeout() {
    let (_client, server) = tokio::io::duplex(64 * 1024);
    let (closed, elapsed) = serve_timed(server, &stop()).await;
    assert_eq!(closed, Closed::HeaderTimeout);
    assert!(about(elapsed, HEADER), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_client_sending_one_byte_a_second_is_closed_at_the_header_timeout() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let trickle = tokio::spawn(async move {
        for byte in REQUEST.iter().cycle().take(100) {
            if client.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let (closed, elapsed) = serve_timed(server, &stop()).await;
    assert_eq!(closed, Closed::HeaderTimeout);
    assert!(about(elapsed, HEADER), "{elapsed:?}");
    trickle.abort();
}

#[tokio::test(start_paused = true)]
async fn a_client_sending_only_a_request_line_is_closed_at_the_header_timeout() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let (closed, elapsed) = serve_timed(server, &stop()).await;
    assert_eq!(closed, Closed::HeaderTimeout);
    assert!(about(elapsed, HEADER), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_kept_alive_connection_may_idle_for_the_idle_timeout() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let exchange = tokio::spawn(async move {
        client.write_all(REQUEST).await.unwrap();
        read_until(&mut client, b"ok").await;
        let answered = Instant::now();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        answered.elapsed()
    });
    let (closed, _) = serve_timed(server, &stop()).await;
    assert_eq!(closed, Closed::IdleTimeout);
    let idle = exchange.await.unwrap();
    assert!(about(idle, IDLE), "closed {idle:?} after the response");
}

#[tokio::test(start_paused = true)]
async fn the_next_request_has_the_header_timeout_from_its_first_byte() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let exchange = tokio::spawn(async move {
        client.write_all(REQUEST).await.unwrap();
        read_until(&mut client, b"ok").await;
        tokio::time::sleep(Duration::from_secs(25)).await;
        client.write_all(b"GET / HT").await.unwrap();
        let first_byte = Instant::now();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        first_byte.elapsed()
    });
    let (closed, _) = serve_timed(server, &stop()).await;
    assert_eq!(closed, Closed::HeaderTimeout);
    let after_first_byte = exchange.await.unwrap();
    assert!(about(after_first_byte, HEADER), "{after_first_byte:?}");
}

#[tokio::test(start_paused = true)]
async fn a_long_response_is_not_cut_by_either_timeout() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let viewer = tokio::spawn(async move {
        client
            .write_all(b"GET /stream HTTP/1.1\r\nhost: edge\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut body = Vec::new();
        client.read_to_end(&mut body).await.unwrap();
        String::from_utf8_lossy(&body).matches("tick").count()
    });
    let (closed, elapsed) = serve_timed(server, &stop()).await;
    assert_eq!(closed, Closed::Done);
    assert!(about(elapsed, Duration::from_secs(60)), "{elapsed:?}");
    assert_eq!(viewer.await.unwrap(), 60);
}

#[tokio::test(start_paused = true)]
async fn the_drain_closes_idle_connections_at_once_and_busy_ones_at_the_deadline() {
    let stop = stop();
    let (idle_client, idle_server) = tokio::io::duplex(64 * 1024);
    let (mut busy_client, busy_server) = tokio::io::duplex(64 * 1024);
    busy_client
        .write_all(b"GET /stream HTTP/1.1\r\nhost: edge\r\n\r\n")
        .await
        .unwrap();
    let idle = serve_timed(idle_server, &stop);
    let busy = serve_timed(busy_server, &stop);
    let drain = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.draining.cancel();
        tokio::time::sleep(Duration::from_secs(5)).await;
        stop.closing.cancel();
    };
    let ((idle_closed, idle_elapsed), (busy_closed, busy_elapsed), ()) =
        tokio::join!(idle, busy, drain);
    assert_eq!(idle_closed, Closed::Done);
    assert!(
        about(idle_elapsed, Duration::from_secs(2)),
        "{idle_elapsed:?}"
    );
    assert_eq!(busy_closed, Closed::Drained);
    assert!(
        about(busy_elapsed, Duration::from_secs(7)),
        "{busy_elapsed:?}"
    );
    drop((idle_client, busy_client));
}

#[tokio::test]
async fn the_socket_wrapper_keeps_vectored_writes_so_hyper_queues_shared_chunks() {
    // Without vectored writes hyper copies every body chunk into its own buffer; with them
    // it queues the chunks (the hub's shared tags) and hands them to `writev`.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let inner = prepare(client, Duration::from_secs(1));
    let counted = Counted::new(inner, Vec::new(), ReadCount::default());
    assert!(counted.is_write_vectored());
}

#[tokio::test]
async fn bytes_read_before_hyper_are_read_again_first_and_counted() {
    let (client, server) = tokio::io::duplex(64);
    drop(client);
    let reads = ReadCount::default();
    let mut counted = Counted::new(server, REQUEST.to_vec(), reads.clone());
    let mut read = Vec::new();
    counted.read_to_end(&mut read).await.unwrap();
    assert_eq!(read, REQUEST);
    assert_eq!(reads.get(), REQUEST.len() as u64);
}
