//! Play at socket level: an independent RTMP client (`rml_rtmp`'s `ClientSession`) reads the
//! pre-serialized messages a [`Player`] writes, and a refused play reaches it as an error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use ferrocast_media::rtmp_chunk::{self, Media};
use ferrocast_rtmp::testing::client_handshake;
use ferrocast_rtmp::{Connection, Event, Limits, Player, RtmpError};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
};
use tokio::net::TcpListener;

/// What the client saw, in order.
#[derive(Debug, PartialEq)]
enum Seen {
    Accepted,
    Metadata { width: Option<u32> },
    Video { timestamp_ms: u32, len: usize },
    Audio { timestamp_ms: u32, len: usize },
}

/// Connects, plays `key`, and collects events until `wanted` media/metadata events arrived or
/// the server closed. Runs on a blocking thread.
fn play(addr: SocketAddr, key: &str, wanted: usize) -> (Vec<Seen>, Vec<String>, TcpStream) {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client_handshake(&mut socket).unwrap();
    let (mut session, _) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    let send = |socket: &mut TcpStream, result: ClientSessionResult| {
        if let ClientSessionResult::OutboundResponse(packet) = result {
            socket.write_all(&packet.bytes).unwrap();
        }
    };
    send(
        &mut socket,
        session.request_connection("live".into()).unwrap(),
    );
    let mut seen = Vec::new();
    let mut other = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    while seen.len() < wanted {
        let count = match socket.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        for result in session.handle_input(&buffer[..count]).unwrap() {
            let event = match result {
                ClientSessionResult::RaisedEvent(event) => event,
                outbound => {
                    send(&mut socket, outbound);
                    continue;
                }
            };
            match event {
                ClientSessionEvent::ConnectionRequestAccepted => {
                    let request = session.request_playback(key.into()).unwrap();
                    send(&mut socket, request);
                }
                ClientSessionEvent::PlaybackRequestAccepted => seen.push(Seen::Accepted),
                ClientSessionEvent::StreamMetadataReceived { metadata } => {
                    seen.push(Seen::Metadata {
                        width: metadata.video_width,
                    });
                }
                ClientSessionEvent::VideoDataReceived { timestamp, data } => {
                    seen.push(Seen::Video {
                        timestamp_ms: timestamp.value,
                        len: data.len(),
                    });
                }
                ClientSessionEvent::AudioDataReceived { timestamp, data } => {
                    seen.push(Seen::Audio {
                        timestamp_ms: timestamp.value,
                        len: data.len(),
                    });
                }
                event => other.push(format!("{event:?}")),
            }
        }
    }
    (seen, other, socket)
}

/// An `onMetaData` data message body: the name, then an ECMA array with `width`.
fn on_metadata(width: f64) -> Vec<u8> {
    let mut body = vec![0x02, 0x00, 10];
    body.extend_from_slice(b"onMetaData");
    body.extend_from_slice(&[0x08, 0, 0, 0, 1, 0x00, 5]);
    body.extend_from_slice(b"width");
    body.push(0x00);
    body.extend_from_slice(&width.to_be_bytes());
    body.extend_from_slice(&[0, 0, 9]);
    body
}

async fn accept_one(listener: &TcpListener) -> (Connection, u32, u32, String) {
    let (socket, _) = listener.accept().await.unwrap();
    let mut connection = Connection::handshake(socket, Limits::default())
        .await
        .unwrap();
    loop {
        match connection.next_event().await.unwrap() {
            Some(Event::PlayRequested {
                request_id,
                key,
                stream_id,
                ..
            }) => return (connection, request_id, stream_id, key),
            Some(_) => {}
            None => panic!("client closed before play"),
        }
    }
}

#[tokio::test]
async fn player_receives_shared_messages_in_order() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::task::spawn_blocking(move || play(addr, "abc", 5));

    let (connection, request_id, stream_id, key) = accept_one(&listener).await;
    assert_eq!(key, "abc");
    assert_eq!(stream_id, rtmp_chunk::SHARED_MESSAGE_STREAM_ID);
    let mut player: Player = connection.accept_play(request_id, stream_id).await.unwrap();
    assert!(player.uses_shared_serialization());
    let big_video = vec![0x27; 2 * rtmp_chunk::CHUNK_SIZE + 100];
    let extended_ms = 0x0100_0005;
    let messages: Vec<Bytes> = [
        rtmp_chunk::media_message(Media::Data, 0, stream_id, &on_metadata(1280.0)),
        rtmp_chunk::media_message(Media::Video, 40, stream_id, &big_video),
        rtmp_chunk::media_message(Media::Audio, 41, stream_id, &[0xAF, 1, 2, 3]),
        rtmp_chunk::media_message(Media::Video, extended_ms, stream_id, &big_video[..5000]),
    ]
    .into_iter()
    .map(|message| Bytes::from(message.unwrap()))
    .collect();
    player.send(&messages[..1]).await.unwrap();
    player.send(&messages[1..]).await.unwrap();

    let (seen, other, socket) = client.await.unwrap();
    drop(socket);
    assert_eq!(
        seen,
        vec![
            Seen::Accepted,
            Seen::Metadata { width: Some(1280) },
            Seen::Video {
                timestamp_ms: 40,
                len: big_video.len()
            },
            Seen::Audio {
                timestamp_ms: 41,
                len: 4
            },
            Seen::Video {
                timestamp_ms: extended_ms,
                len: 5000
            },
        ],
        "other events: {other:?}"
    );
    // The client hung up: the player sees it stop.
    tokio::time::timeout(Duration::from_secs(5), player.stopped())
        .await
        .expect("stop noticed")
        .unwrap();
}

#[tokio::test]
async fn refused_play_reaches_the_client_and_the_connection_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::task::spawn_blocking(move || play(addr, "nope", 1));

    let (mut connection, _, stream_id, _) = accept_one(&listener).await;
    connection
        .reject_play(stream_id, "NetStream.Play.StreamNotFound", "no such stream")
        .await
        .unwrap();
    drop(connection);

    let (seen, other, _) = client.await.unwrap();
    assert!(seen.is_empty(), "{seen:?}");
    assert!(
        other
            .iter()
            .any(|event| event.contains("NetStream.Play.StreamNotFound")),
        "{other:?}"
    );
}

#[tokio::test]
async fn stalled_player_fails_the_write_within_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // A client that plays, then never reads again.
    let client = tokio::task::spawn_blocking(move || play(addr, "slow", 1));
    let (socket, _) = listener.accept().await.unwrap();
    let limits = Limits {
        write_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let mut connection = Connection::handshake(socket, limits).await.unwrap();
    let (request_id, stream_id) = loop {
        if let Some(Event::PlayRequested {
            request_id,
            stream_id,
            ..
        }) = connection.next_event().await.unwrap()
        {
            break (request_id, stream_id);
        }
    };
    let mut player = connection.accept_play(request_id, stream_id).await.unwrap();
    // The client keeps its socket open and reads nothing more.
    let (seen, _, _unread) = client.await.unwrap();
    assert_eq!(seen, vec![Seen::Accepted]);
    let frame =
        Bytes::from(rtmp_chunk::media_message(Media::Video, 0, stream_id, &[0; 60_000]).unwrap());
    let many: Vec<Bytes> = std::iter::repeat_n(frame, 400).collect();
    let outcome = tokio::time::timeout(Duration::from_secs(10), player.send(&many))
        .await
        .expect("the write deadline ends the send");
    assert!(
        matches!(outcome, Err(RtmpError::WriteTimeout(_))),
        "{outcome:?}"
    );
}
