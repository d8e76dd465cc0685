//! Feeds arbitrary bytes to a whole server session (`ferrocast_rtmp::Session`): our chunk
//! reader and screen, then `rml_rtmp`'s session state machine behind them. The input
//! starts after a well-formed `connect` and `createStream`, so the fuzzer reaches
//! `publish`, `play`, metadata and media handling rather than only the first command.
//!
//! Beyond "no panic" it asserts that `rml_rtmp` never panics behind our front (its panic
//! guard is the last line, not the defence), and that an accepted publish's events come out.
//! An accepted play turns the session into a `PlaySession`, which takes the rest of the input.
#![no_main]

use ferrocast_media::amf0::{self, Value};
use ferrocast_rtmp::testing::message_chunks;
use ferrocast_rtmp::{Event, Limits, RtmpError, Session};
use libfuzzer_sys::fuzz_target;

fn command(values: &[Value], message_stream_id: u32) -> Vec<u8> {
    let mut payload = Vec::new();
    for value in values {
        amf0::write_value(value, &mut payload);
    }
    message_chunks(3, 20, message_stream_id, &payload, 128)
}

fn opening() -> Vec<u8> {
    let app = Value::Object(vec![("app".into(), Value::String("live".into()))]);
    let mut bytes = command(
        &[Value::String("connect".into()), Value::Number(1.0), app],
        0,
    );
    bytes.extend(command(
        &[
            Value::String("createStream".into()),
            Value::Number(2.0),
            Value::Null,
        ],
        0,
    ));
    bytes
}

fuzz_target!(|data: &[u8]| {
    let (mut session, _) = Session::new(Limits::default()).expect("a session opens");
    let mut outbound = Vec::new();
    session
        .receive(&opening(), &mut outbound)
        .expect("connect and createStream");
    let mut pieces = data.chunks(512);
    let mut played = None;
    for piece in pieces.by_ref() {
        let received = session.receive(piece, &mut outbound);
        while let Some(event) = session.next_event() {
            let (Event::PublishRequested { request_id, .. }
            | Event::PlayRequested { request_id, .. }) = event
            else {
                continue;
            };
            let accepted = session.accept(request_id, &mut outbound);
            assert!(!matches!(accepted, Err(RtmpError::ParserPanicked)));
            if let Event::PlayRequested { stream_id, .. } = event {
                played = Some(stream_id);
            }
        }
        match received {
            Err(RtmpError::ParserPanicked) => panic!("rml_rtmp panicked behind the front"),
            Err(_) => return,
            Ok(()) => {}
        }
        outbound.clear();
        if played.is_some() {
            break;
        }
    }
    // A player goes on without rml_rtmp: the rest of the input is what it sends.
    let Some(stream_id) = played else {
        return;
    };
    let mut playing = session.into_playing(stream_id);
    for piece in pieces {
        match playing.receive(piece, &mut outbound) {
            Ok(true) => outbound.clear(),
            Ok(false) | Err(_) => return,
        }
    }
});
