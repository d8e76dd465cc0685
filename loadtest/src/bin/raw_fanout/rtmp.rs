//! The ceiling's RTMP side: a player is taken through the handshake and `connect`,
//! `createStream` and `play` by `rml_rtmp`'s server session on its own thread, then handed to
//! the fan-out thread, which only writes to it. While any player is connected, each read's
//! tags become RTMP messages once (one Type 0 message each, on message stream 1, in chunks of
//! `rtmp_chunk::CHUNK_SIZE`, as ferrocast sends them), so a player costs the fan-out what an
//! HTTP-FLV viewer does: one write of a shared buffer per read.
//!
//! After `play` the ceiling never reads from a player: players acknowledge every
//! `window_ack_size` bytes (1 GiB, announced by the session), which no run reaches, and
//! send nothing else unasked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{anyhow, bail};
use bytes::Bytes;
use ferrocast_media::rtmp_chunk::{self, Media, SHARED_MESSAGE_STREAM_ID};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

use crate::upstream::{TAG_HEADER_LEN, TAG_TRAILER_LEN, Tag};

/// How long a player may take over any one step before `play` is accepted.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes asked of the socket per read before `play`.
const READ_SIZE: usize = 4096;

/// Takes a player through the handshake and its commands; returns once its `play` is
/// accepted and answered, with nothing of the stream sent yet.
pub fn accept_player(mut stream: TcpStream) -> anyhow::Result<TcpStream> {
    stream.set_read_timeout(Some(STEP_TIMEOUT))?;
    stream.set_write_timeout(Some(STEP_TIMEOUT))?;
    let mut buffer = [0; READ_SIZE];
    let mut handshake = Handshake::new(PeerType::Server);
    let mut input = loop {
        let count = read_some(&mut stream, &mut buffer)?;
        match handshake
            .process_bytes(&buffer[..count])
            .map_err(rtmp_error)?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                stream.write_all(&response_bytes)?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                stream.write_all(&response_bytes)?;
                break remaining_bytes;
            }
        }
    };
    // Announces the chunk size the fan-out's messages are cut to.
    let config = ServerSessionConfig {
        chunk_size: rtmp_chunk::CHUNK_SIZE as u32,
        ..ServerSessionConfig::new()
    };
    let (mut session, mut results) = ServerSession::new(config).map_err(rtmp_error)?;
    loop {
        results.extend(session.handle_input(&input).map_err(rtmp_error)?);
        let mut out = Vec::new();
        let mut playing = false;
        while !results.is_empty() {
            for result in std::mem::take(&mut results) {
                match result {
                    ServerSessionResult::OutboundResponse(packet) => {
                        out.extend_from_slice(&packet.bytes);
                    }
                    ServerSessionResult::RaisedEvent(event) => {
                        let (request_id, play) = match event {
                            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                                (request_id, false)
                            }
                            ServerSessionEvent::PlayStreamRequested {
                                request_id,
                                stream_id,
                                ..
                            } => {
                                if stream_id != SHARED_MESSAGE_STREAM_ID {
                                    bail!("play on message stream {stream_id}, not the first");
                                }
                                (request_id, true)
                            }
                            ServerSessionEvent::PublishStreamRequested { .. } => {
                                bail!("the ceiling only plays")
                            }
                            _ => continue,
                        };
                        results.extend(session.accept_request(request_id).map_err(rtmp_error)?);
                        playing |= play;
                    }
                    ServerSessionResult::UnhandleableMessageReceived(_) => {}
                }
            }
        }
        stream.write_all(&out)?;
        if playing {
            return Ok(stream);
        }
        let count = read_some(&mut stream, &mut buffer)?;
        input = buffer[..count].to_vec();
    }
}

/// The RTMP messages of `tags`, serialized straight into one buffer; kinds RTMP does not
/// carry are left out.
pub fn messages<'a>(tags: impl IntoIterator<Item = &'a Tag>) -> Bytes {
    let mut all = Vec::new();
    for tag in tags {
        append_message(&tag.bytes, &mut all);
    }
    Bytes::from(all)
}

/// Appends one whole FLV tag as an RTMP message.
fn append_message(tag: &[u8], out: &mut Vec<u8>) {
    let media = match tag[0] & 0x1f {
        8 => Media::Audio,
        9 => Media::Video,
        // The script tag's body is `onMetaData` and its array: the data message players
        // expect.
        18 => Media::Data,
        _ => return,
    };
    let timestamp = u32::from(tag[7]) << 24
        | u32::from(tag[4]) << 16
        | u32::from(tag[5]) << 8
        | u32::from(tag[6]);
    let body = &tag[TAG_HEADER_LEN..tag.len() - TAG_TRAILER_LEN];
    let header = media.header(timestamp, SHARED_MESSAGE_STREAM_ID);
    // A body too long for one RTMP message cannot be sent: `serialize` then writes nothing,
    // and the tag is left out, as a server would leave it.
    let _ = rtmp_chunk::serialize(&header, body, out);
}

fn read_some(stream: &mut TcpStream, buffer: &mut [u8]) -> anyhow::Result<usize> {
    match stream.read(buffer)? {
        0 => bail!("the player closed the connection"),
        count => Ok(count),
    }
}

fn rtmp_error(error: impl std::fmt::Debug) -> anyhow::Error {
    anyhow!("rtmp: {error:?}")
}
