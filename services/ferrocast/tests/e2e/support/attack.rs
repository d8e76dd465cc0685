//! An attacker's RTMP client: raw chunks with any header type (0 to 3, extended timestamps),
//! any chunk size, Set Chunk Size, Abort, and AMF0 commands built here (among them a
//! `connect` nested to any depth). Replies from the server, which is well-formed, are read
//! with `rml_rtmp`'s chunk reader. Blocking `std::net`, so a test can drive many at once
//! from plain threads; every read has a deadline.

mod wire;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferrocast_media::amf0;
use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::rml_amf0::Amf0Value;

pub use wire::*;

/// What the server answered with a status: an `onStatus` (or `_error`) command.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// `onStatus`, `_error`, ...
    pub command: String,
    /// The message stream it came on.
    pub message_stream_id: u32,
    /// `level` of the info object.
    pub level: String,
    /// `code` of the info object.
    pub code: String,
    /// `description` of the info object.
    pub description: String,
}

/// Why the connection stopped answering.
#[derive(Debug)]
pub enum Ended {
    /// The server closed it (EOF or reset) after this long.
    Closed(Duration),
    /// Still open when the deadline passed.
    StillOpen,
}

/// A raw RTMP client connection.
pub struct Attacker {
    socket: TcpStream,
    replies: ChunkDeserializer,
}

impl Attacker {
    /// Opens a TCP connection to `addr` (`host:port`).
    pub fn connect(addr: &str) -> std::io::Result<Self> {
        let socket = TcpStream::connect(addr)?;
        socket.set_nodelay(true)?;
        socket.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(Self {
            socket,
            replies: ChunkDeserializer::new(),
        })
    }

    /// The plain client handshake (C0+C1, S0+S1+S2, C2), bounded by 10 s.
    pub fn handshake(&mut self) -> std::io::Result<()> {
        self.handshake_within(Duration::from_secs(10))
    }

    /// The plain client handshake, each read bounded by `limit`.
    pub fn handshake_within(&mut self, limit: Duration) -> std::io::Result<()> {
        self.socket.set_read_timeout(Some(limit))?;
        ferrocast_rtmp::testing::client_handshake(&mut self.socket)
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.socket.write_all(bytes)
    }

    /// `connect` to `app` on message stream 0 (transaction 1).
    pub fn send_connect(&mut self, app: &str) -> std::io::Result<()> {
        let tc_url = format!("rtmp://{}/{app}", self.socket.peer_addr()?);
        let object = connect_object(app, &tc_url);
        self.send(&command(0, "connect", 1.0, &object, DEFAULT_CHUNK_SIZE))
    }

    /// `connect`, `createStream` and `publish` of `key`, answered within `deadline`: the
    /// message stream created and the status the publish got.
    pub fn publish(
        &mut self,
        app: &str,
        key: &str,
        deadline: Duration,
    ) -> Result<(u32, Status), String> {
        let until = Instant::now() + deadline;
        let stream_id = self.create_stream(app, until)?;
        let status = self.request_publish(stream_id, key, until)?;
        Ok((stream_id, status))
    }

    /// `connect` to `app` and `createStream`, answered by `until`: the message stream id.
    pub fn create_stream(&mut self, app: &str, until: Instant) -> Result<u32, String> {
        self.send_connect(app)
            .map_err(|e| format!("send connect: {e}"))?;
        self.wait_result(1.0, until)?;
        let mut null = Vec::new();
        amf0::write_null(&mut null);
        let create = command(0, "createStream", 2.0, &null, DEFAULT_CHUNK_SIZE);
        self.send(&create)
            .map_err(|e| format!("send createStream: {e}"))?;
        match self.wait_result(2.0, until)?.get(1) {
            Some(Amf0Value::Number(id)) => Ok(*id as u32),
            other => Err(format!("createStream answered {other:?}")),
        }
    }

    /// `publish` of `key` on `stream_id`: the status it got by `until`.
    pub fn request_publish(
        &mut self,
        stream_id: u32,
        key: &str,
        until: Instant,
    ) -> Result<Status, String> {
        let arguments = publish_arguments(key);
        let publish = command(stream_id, "publish", 3.0, &arguments, DEFAULT_CHUNK_SIZE);
        self.send(&publish)
            .map_err(|e| format!("send publish: {e}"))?;
        self.next_status(until)
    }

    /// `play` of `name` on `stream_id`: the first status it got by `until`.
    pub fn request_play(
        &mut self,
        stream_id: u32,
        name: &str,
        until: Instant,
    ) -> Result<Status, String> {
        let mut arguments = Vec::new();
        amf0::write_null(&mut arguments);
        amf0::write_string(name, &mut arguments);
        let play = command(stream_id, "play", 3.0, &arguments, DEFAULT_CHUNK_SIZE);
        self.send(&play).map_err(|e| format!("send play: {e}"))?;
        self.next_status(until)
    }

    /// The arguments of the `_result` to `transaction` (the command object first).
    fn wait_result(&mut self, transaction: f64, until: Instant) -> Result<Vec<Amf0Value>, String> {
        loop {
            let (_, message) = self.next_message(until)?;
            if let RtmpMessage::Amf0Command {
                command_name,
                transaction_id,
                command_object,
                additional_arguments,
            } = message
            {
                if transaction_id == transaction && command_name == "_result" {
                    let mut values = vec![command_object];
                    values.extend(additional_arguments);
                    return Ok(values);
                }
                if transaction_id == transaction || command_name == "_error" {
                    return Err(format!(
                        "{command_name} to transaction {transaction}: {additional_arguments:?}"
                    ));
                }
            }
        }
    }

    /// The next `onStatus` or `_error` from the server.
    pub fn next_status(&mut self, until: Instant) -> Result<Status, String> {
        loop {
            let (message_stream_id, message) = self.next_message(until)?;
            let RtmpMessage::Amf0Command {
                command_name,
                additional_arguments,
                ..
            } = message
            else {
                continue;
            };
            if command_name != "onStatus" && command_name != "_error" {
                continue;
            }
            let info = additional_arguments
                .into_iter()
                .find_map(|value| match value {
                    Amf0Value::Object(properties) => Some(properties),
                    _ => None,
                });
            let field = |name: &str| match info.as_ref().and_then(|info| info.get(name)) {
                Some(Amf0Value::Utf8String(text)) => text.clone(),
                _ => String::new(),
            };
            return Ok(Status {
                level: field("level"),
                code: field("code"),
                description: field("description"),
                command: command_name,
                message_stream_id,
            });
        }
    }

    /// The next whole message from the server, with its message stream id. Set Chunk Size
    /// is applied on the way.
    fn next_message(&mut self, until: Instant) -> Result<(u32, RtmpMessage), String> {
        let mut buffer = [0u8; 16 * 1024];
        let mut received = 0;
        loop {
            // The reader keeps what it is given: each byte goes in once, then it is drained.
            let payload = self.replies.get_next_message(&buffer[..received]);
            if let Some(payload) = payload.map_err(|e| format!("server chunk stream: {e:?}"))? {
                let stream_id = payload.message_stream_id;
                let message = payload
                    .to_rtmp_message()
                    .map_err(|e| format!("server message: {e:?}"))?;
                if let RtmpMessage::SetChunkSize { size } = message {
                    let size = size as usize;
                    self.replies
                        .set_max_chunk_size(size)
                        .map_err(|e| format!("{e:?}"))?;
                }
                return Ok((stream_id, message));
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("no reply before the deadline".into());
            }
            self.socket
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            received = self
                .socket
                .read(&mut buffer)
                .map_err(|e| format!("read: {e}"))?;
            if received == 0 {
                return Err("the server closed the connection".into());
            }
        }
    }

    /// Reads and discards until the server closes the connection, at most until `until`.
    /// `since` is when the case started, which the returned duration counts from.
    pub fn wait_closed(&mut self, since: Instant, until: Instant) -> Ended {
        let mut sink = [0u8; 16 * 1024];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ended::StillOpen;
            }
            if self.socket.set_read_timeout(Some(left)).is_err() {
                return Ended::Closed(since.elapsed());
            }
            match self.socket.read(&mut sink) {
                Ok(0) => return Ended::Closed(since.elapsed()),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return Ended::Closed(since.elapsed()),
            }
        }
    }
    /// Writes `bytes` one at a time, `pace` apart, until the server closes the connection
    /// or `until` passes; the time from `since` to the close.
    pub fn dribble(
        &mut self,
        bytes: &[u8],
        pace: Duration,
        since: Instant,
        until: Instant,
    ) -> Ended {
        for byte in bytes.iter().cycle() {
            if Instant::now() >= until {
                return Ended::StillOpen;
            }
            if self.socket.write_all(&[*byte]).is_err() {
                return Ended::Closed(since.elapsed());
            }
            // Waiting for an answer paces the bytes, and sees the close as it happens.
            let next = (Instant::now() + pace).min(until);
            if let Ended::Closed(after) = self.wait_closed(since, next) {
                return Ended::Closed(after);
            }
        }
        Ended::StillOpen
    }
}
