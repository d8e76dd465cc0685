//! A peer that makes the RTMP parser panic loses its own connection and nothing else.

use std::io::Write;

use ferrocast_rtmp::testing::{client_handshake, set_data_frame_without_metadata};
use ferrocast_rtmp::{Connection, Limits, RtmpError};
use tokio::net::TcpListener;

#[tokio::test]
async fn parser_panic_ends_only_that_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let (socket, _) = listener.accept().await.expect("accept");
            let mut connection = Connection::handshake(socket, Limits::default())
                .await
                .expect("handshake");
            outcomes.push(connection.next_event().await);
        }
        outcomes
    });
    let clients = tokio::task::spawn_blocking(move || {
        let mut evil = std::net::TcpStream::connect(addr).expect("connect");
        client_handshake(&mut evil).expect("handshake");
        evil.write_all(&set_data_frame_without_metadata())
            .expect("send");
        // A well-behaved peer after it is still served.
        let mut good = std::net::TcpStream::connect(addr).expect("connect");
        client_handshake(&mut good).expect("second handshake after the panic");
        drop(good);
        evil
    });
    let outcomes = server.await.expect("server task survived the panic");
    drop(clients.await);
    assert!(
        matches!(outcomes[0], Err(RtmpError::ParserPanicked)),
        "{:?}",
        outcomes[0]
    );
    assert!(matches!(outcomes[1], Ok(None)), "{:?}", outcomes[1]);
}
