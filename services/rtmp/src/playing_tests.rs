use bytes::Bytes;
use ferrocast_media::amf0::{self, Value};
use ferrocast_media::rtmp_chunk::message_type;

use super::*;
use crate::reader::ReaderLimits;
use crate::testing::message_chunks;
use crate::{Event, Limits, Session};

fn command(values: &[Value], message_stream_id: u32) -> Vec<u8> {
    let mut payload = Vec::new();
    for value in values {
        amf0::write_value(value, &mut payload);
    }
    message_chunks(
        3,
        message_type::COMMAND_AMF0,
        message_stream_id,
        &payload,
        128,
    )
}

fn name(text: &str) -> Value {
    Value::String(text.into())
}

/// A session that connected, asked for acknowledgements every `window` bytes, created
/// stream 1 and had its play accepted there.
fn playing(window: u32) -> PlaySession {
    let (mut session, _) = Session::new(Limits::default()).unwrap();
    let app = Value::Object(vec![("app".into(), name("live"))]);
    let mut bytes = command(&[name("connect"), Value::Number(1.0), app], 0);
    bytes.extend(message_chunks(
        2,
        message_type::WINDOW_ACK_SIZE,
        0,
        &window.to_be_bytes(),
        128,
    ));
    bytes.extend(command(
        &[name("createStream"), Value::Number(2.0), Value::Null],
        0,
    ));
    let play = [name("play"), Value::Number(3.0), Value::Null, name("key")];
    bytes.extend(command(&play, 1));
    let mut outbound = Vec::new();
    session.receive(&bytes, &mut outbound).unwrap();
    let request_id = std::iter::from_fn(|| session.next_event())
        .find_map(|event| match event {
            Event::PlayRequested {
                request_id,
                stream_id: 1,
                ..
            } => Some(request_id),
            _ => None,
        })
        .expect("the play request");
    session
        .accept_play(request_id, |_| true, &mut outbound)
        .unwrap();
    session.into_playing(1)
}

/// The messages in `bytes`, as a player reads them.
fn read(bytes: &[u8]) -> Vec<Message> {
    let mut reader = ChunkReader::new(ReaderLimits {
        max_message_size: 1024,
        max_chunk_streams: 8,
        max_buffered_bytes: 4096,
    });
    reader.push(bytes).unwrap();
    std::iter::from_fn(|| reader.next_message().unwrap()).collect()
}

#[test]
fn a_ping_is_answered_with_its_timestamp() {
    let mut session = playing(2_500_000);
    let ping = [0, 6, 0, 0, 0x12, 0x34];
    let mut outbound = Vec::new();
    let bytes = message_chunks(2, message_type::USER_CONTROL, 0, &ping, 128);
    assert!(session.receive(&bytes, &mut outbound).unwrap());
    let replies = read(&outbound);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].type_id, message_type::USER_CONTROL);
    assert_eq!(
        replies[0].payload,
        Bytes::from_static(&[0, 7, 0, 0, 0x12, 0x34])
    );
}

#[test]
fn acknowledgements_follow_the_window_the_player_set_before_playing() {
    let mut session = playing(100);
    let mut outbound = Vec::new();
    let buffer_length = [0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8];
    let message = message_chunks(2, message_type::USER_CONTROL, 0, &buffer_length, 128);
    let mut sent = 0;
    while outbound.is_empty() {
        assert!(session.receive(&message, &mut outbound).unwrap());
        sent += message.len();
        assert!(sent < 200, "no acknowledgement after {sent} bytes");
    }
    let replies = read(&outbound);
    assert_eq!(replies[0].type_id, message_type::ACKNOWLEDGEMENT);
    let sequence = u32::from_be_bytes(replies[0].payload[..].try_into().unwrap());
    assert!(
        sequence as usize > sent,
        "the count includes the bytes before play"
    );
}

#[test]
fn deleting_or_closing_the_played_stream_ends_the_play_and_others_do_not() {
    let delete = |id: f64| {
        command(
            &[
                name("deleteStream"),
                Value::Number(4.0),
                Value::Null,
                Value::Number(id),
            ],
            0,
        )
    };
    let close = |on: u32| command(&[name("closeStream"), Value::Number(0.0), Value::Null], on);
    let mut outbound = Vec::new();
    for (bytes, ends) in [
        (delete(1.0), true),
        (delete(2.0), false),
        (close(1), true),
        (close(2), false),
        (
            command(&[name("pause"), Value::Number(5.0), Value::Null], 1),
            false,
        ),
    ] {
        let plays_on = playing(2_500_000).receive(&bytes, &mut outbound).unwrap();
        assert_eq!(plays_on, !ends);
    }
    assert!(outbound.is_empty(), "none of these is answered");
}

#[test]
fn hostile_input_after_play_is_refused() {
    let mut outbound = Vec::new();
    let short_window = message_chunks(2, message_type::WINDOW_ACK_SIZE, 0, &[1, 2], 128);
    assert!(playing(1).receive(&short_window, &mut outbound).is_err());
    let mut session = playing(1);
    for _ in 0..8 {
        let play = [name("play"), Value::Number(6.0), Value::Null, name("key")];
        if session.receive(&command(&play, 1), &mut outbound).is_err() {
            return;
        }
    }
    panic!("play commands after play are not capped");
}
