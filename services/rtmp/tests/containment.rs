//! Hostile peers over real sockets: each ends its own connection with a clear error, never a
//! parser panic, and the next peer is served.

use std::io::Write;
use std::time::Duration;

use ferrocast_rtmp::testing::{
    client_handshake, deeply_nested_connect, message_chunks, set_chunk_size,
    set_data_frame_without_metadata,
};
use ferrocast_rtmp::{Connection, Limits, RtmpError};
use tokio::net::TcpListener;

/// Serves one connection per input with `limits`, and returns how each ended.
async fn outcomes(inputs: Vec<Vec<u8>>, limits: Limits) -> Vec<Result<(), RtmpError>> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = inputs.len();
    let server = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for _ in 0..count {
            let (socket, _) = listener.accept().await.expect("accept");
            let outcome = async {
                let mut connection = Connection::handshake(socket, limits.clone()).await?;
                while connection.next_event().await?.is_some() {}
                Ok(())
            };
            outcomes.push(outcome.await);
        }
        outcomes
    });
    tokio::task::spawn_blocking(move || {
        for input in inputs {
            let mut peer = std::net::TcpStream::connect(addr).expect("connect");
            client_handshake(&mut peer).expect("handshake");
            // The server may close before all of it is written.
            let _ = peer.write_all(&input);
            let _ = peer.shutdown(std::net::Shutdown::Write);
            peer.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let _ = std::io::copy(&mut peer, &mut std::io::sink());
        }
    })
    .await
    .expect("clients");
    server.await.expect("server task")
}

#[tokio::test]
async fn hostile_messages_end_their_connection_with_a_clear_error() {
    let mut huge_after_max_chunk_size = set_chunk_size(0x7FFF_FFFF);
    huge_after_max_chunk_size.extend(message_chunks(4, 9, 1, &vec![0; 1 << 20], 0x7FFF_FFFF));
    let inputs = vec![
        // 10,000 levels are about 70 KB: over what an unauthorized peer may send at once.
        deeply_nested_connect(10_000),
        deeply_nested_connect(5_000),
        set_chunk_size(0),
        huge_after_max_chunk_size,
        // A header type that continues nothing.
        vec![0x45, 0, 0, 0],
    ];
    let outcomes = outcomes(inputs, Limits::default()).await;
    let described: Vec<String> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Err(error) => error.to_string(),
            Ok(()) => "closed cleanly".into(),
        })
        .collect();
    assert!(
        described[0].contains("exceeds the limit of 65536"),
        "{described:?}"
    );
    assert!(described[1].contains("amf0 nesting depth"), "{described:?}");
    assert!(
        described[2].contains("invalid rtmp chunk size 0"),
        "{described:?}"
    );
    assert!(described[3].contains("exceeds the limit"), "{described:?}");
    assert!(described[4].contains("continues a header"), "{described:?}");
}

#[tokio::test]
async fn set_data_frame_without_metadata_is_left_out_not_a_panic() {
    let outcomes = outcomes(vec![set_data_frame_without_metadata()], Limits::default()).await;
    assert!(matches!(outcomes[0], Ok(())), "{:?}", outcomes[0]);
}

#[tokio::test]
async fn a_peer_that_never_publishes_is_cut_at_the_start_deadline() {
    let limits = Limits {
        start_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        let mut connection = Connection::handshake(socket, limits).await?;
        while connection.next_event().await?.is_some() {}
        Ok::<_, RtmpError>(())
    });
    let client = tokio::task::spawn_blocking(move || {
        let mut peer = std::net::TcpStream::connect(addr).expect("connect");
        client_handshake(&mut peer).expect("handshake");
        // Keep sending small, legal control messages: a window acknowledgement size.
        for _ in 0..20 {
            let message = message_chunks(2, 5, 0, &2_500_000u32.to_be_bytes(), 128);
            if peer.write_all(&message).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let outcome = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("cut well before the client gives up")
        .expect("server task");
    assert!(
        matches!(outcome, Err(RtmpError::StartTimeout(_))),
        "{outcome:?}"
    );
    client.await.expect("client");
}
