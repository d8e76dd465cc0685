//! An attacker's RTMP client: raw chunks with any header type (0 to 3, extended timestamps),
//! any chunk size, Set Chunk Size, Abort, and AMF0 commands built here (among them a
//! `connect` nested to any depth). Replies from the server, which is well-formed, are read
//! with `rml_rtmp`'s chunk reader. Blocking `std::net`, so a test can drive many at once
//! from plain threads; every read has a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferrocast_media::amf0::{self, Value};
use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::rml_amf0::Amf0Value;

/// RTMP message type ids used here.
pub mod message_type {
    /// Set Chunk Size.
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message.
    pub const ABORT: u8 = 2;
    /// Window Acknowledgement Size.
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Audio.
    pub const AUDIO: u8 = 8;
    /// Video.
    pub const VIDEO: u8 = 9;
    /// AMF0 data (`@setDataFrame`).
    pub const DATA_AMF0: u8 = 18;
    /// AMF0 command.
    pub const COMMAND_AMF0: u8 = 20;
}

/// Chunk stream of protocol control messages.
pub const CONTROL_CHUNK_STREAM: u32 = 2;
/// Chunk stream this client sends `connect` and `createStream` on.
pub const COMMAND_CHUNK_STREAM: u32 = 3;
/// Timestamps from this value up go in the extended timestamp field.
const EXTENDED: u32 = 0xFF_FFFF;
/// The chunk size both sides start with.
pub const DEFAULT_CHUNK_SIZE: usize = 128;

/// The message header of one chunk, by header type.
#[derive(Debug, Clone, Copy)]
pub enum Header {
    /// Type 0: absolute timestamp, length, type and message stream id.
    Full {
        /// Absolute timestamp (extended when 0xFFFFFF or more).
        timestamp: u32,
        /// Message length.
        length: u32,
        /// Message type id.
        type_id: u8,
        /// Message stream id.
        stream_id: u32,
    },
    /// Type 1: timestamp delta, length and type; the message stream of the previous chunk.
    Delta {
        /// Timestamp delta.
        delta: u32,
        /// Message length.
        length: u32,
        /// Message type id.
        type_id: u8,
    },
    /// Type 2: only a timestamp delta; length, type and stream as before.
    DeltaOnly {
        /// Timestamp delta.
        delta: u32,
    },
    /// Type 3: nothing; a continuation, or a new message exactly like the previous one.
    /// `extended` repeats the extended timestamp of the chunk stream's last header, as
    /// ffmpeg and librtmp do.
    Continuation {
        /// The extended timestamp to repeat, if the stream's last header had one.
        extended: Option<u32>,
    },
}

impl Header {
    /// A Type 0 header.
    pub fn full(timestamp: u32, length: usize, type_id: u8, stream_id: u32) -> Self {
        let length = u32::try_from(length).expect("test messages fit in u32");
        Header::Full {
            timestamp,
            length,
            type_id,
            stream_id,
        }
    }

    /// The timestamp field the header carries, if any.
    fn time_field(&self) -> Option<u32> {
        match *self {
            Header::Full { timestamp, .. } => Some(timestamp),
            Header::Delta { delta, .. } | Header::DeltaOnly { delta } => Some(delta),
            Header::Continuation { .. } => None,
        }
    }
}

/// Appends one chunk header (basic header, message header, extended timestamp).
pub fn write_header(chunk_stream: u32, header: Header, out: &mut Vec<u8>) {
    let format: u8 = match header {
        Header::Full { .. } => 0,
        Header::Delta { .. } => 1,
        Header::DeltaOnly { .. } => 2,
        Header::Continuation { .. } => 3,
    };
    match chunk_stream {
        2..=63 => out.push(format << 6 | chunk_stream as u8),
        64..=319 => out.extend_from_slice(&[format << 6, (chunk_stream - 64) as u8]),
        _ => {
            let id = chunk_stream - 64;
            out.extend_from_slice(&[format << 6 | 1, id as u8, (id >> 8) as u8]);
        }
    }
    let time = header.time_field();
    if let Some(time) = time {
        out.extend_from_slice(&time.min(EXTENDED).to_be_bytes()[1..]);
    }
    match header {
        Header::Full {
            length,
            type_id,
            stream_id,
            ..
        } => {
            out.extend_from_slice(&length.to_be_bytes()[1..]);
            out.push(type_id);
            out.extend_from_slice(&stream_id.to_le_bytes());
        }
        Header::Delta {
            length, type_id, ..
        } => {
            out.extend_from_slice(&length.to_be_bytes()[1..]);
            out.push(type_id);
        }
        Header::DeltaOnly { .. } => {}
        Header::Continuation { extended } => {
            if let Some(extended) = extended {
                out.extend_from_slice(&extended.to_be_bytes());
            }
        }
    }
    if let Some(time) = time.filter(|&time| time >= EXTENDED) {
        out.extend_from_slice(&time.to_be_bytes());
    }
}

/// One message as chunks of at most `chunk_size` payload bytes: `header` on the first,
/// Type 3 on the rest. Each chunk is returned apart, so a caller can interleave others.
pub fn chunks(
    chunk_stream: u32,
    header: Header,
    payload: &[u8],
    chunk_size: usize,
) -> Vec<Vec<u8>> {
    let extended = header.time_field().filter(|&time| time >= EXTENDED);
    let mut chunks = Vec::new();
    for (n, piece) in payload.chunks(chunk_size.max(1)).enumerate() {
        let mut chunk = Vec::with_capacity(piece.len() + 18);
        let this = if n == 0 {
            header
        } else {
            Header::Continuation { extended }
        };
        write_header(chunk_stream, this, &mut chunk);
        chunk.extend_from_slice(piece);
        chunks.push(chunk);
    }
    if payload.is_empty() {
        let mut chunk = Vec::new();
        write_header(chunk_stream, header, &mut chunk);
        chunks.push(chunk);
    }
    chunks
}

/// One message, all its chunks in a row.
pub fn message(chunk_stream: u32, header: Header, payload: &[u8], chunk_size: usize) -> Vec<u8> {
    chunks(chunk_stream, header, payload, chunk_size).concat()
}

/// A protocol control message carrying one 32-bit value (Set Chunk Size, Abort, Window
/// Acknowledgement Size) on chunk stream 2, message stream 0.
pub fn control(type_id: u8, value: u32) -> Vec<u8> {
    let header = Header::full(0, 4, type_id, 0);
    message(
        CONTROL_CHUNK_STREAM,
        header,
        &value.to_be_bytes(),
        DEFAULT_CHUNK_SIZE,
    )
}

/// An AMF0 command message: name, transaction id, then `arguments` as already-encoded
/// AMF0 values (the command object first).
pub fn command(
    stream_id: u32,
    name: &str,
    transaction: f64,
    arguments: &[u8],
    chunk_size: usize,
) -> Vec<u8> {
    let mut payload = Vec::with_capacity(32 + arguments.len());
    amf0::write_string(name, &mut payload);
    amf0::write_value(&Value::Number(transaction), &mut payload);
    payload.extend_from_slice(arguments);
    let chunk_stream = if stream_id == 0 {
        COMMAND_CHUNK_STREAM
    } else {
        8
    };
    let header = Header::full(0, payload.len(), message_type::COMMAND_AMF0, stream_id);
    message(chunk_stream, header, &payload, chunk_size)
}

/// The command object of `connect` to `app`, as an encoder sends it.
pub fn connect_object(app: &str, tc_url: &str) -> Vec<u8> {
    let mut object = Vec::new();
    let properties = [
        ("app", Value::String(app.to_owned())),
        ("type", Value::String("nonprivate".into())),
        (
            "flashVer",
            Value::String("FMLE/3.0 (compatible; ferrocast-e2e)".into()),
        ),
        ("tcUrl", Value::String(tc_url.to_owned())),
    ];
    amf0::write_object(&properties, &mut object);
    object
}

/// A `connect` command object for `app` with one more property nested `depth` objects deep
/// (`{app, a: {a: {...}}}`): 7 bytes a level, so 10,000 levels are about 70 KB.
pub fn deep_connect_object(app: &str, depth: usize) -> Vec<u8> {
    const OBJECT: u8 = 0x03;
    const OBJECT_END: [u8; 3] = [0x00, 0x00, 0x09];
    let mut object = vec![OBJECT];
    object.extend_from_slice(&3u16.to_be_bytes());
    object.extend_from_slice(b"app");
    amf0::write_string(app, &mut object);
    for _ in 0..depth {
        object.extend_from_slice(&1u16.to_be_bytes());
        object.push(b'a');
        object.push(OBJECT);
    }
    for _ in 0..=depth {
        object.extend_from_slice(&OBJECT_END);
    }
    object
}

/// The arguments of `publish`: null command object, the stream name (the key), "live".
pub fn publish_arguments(key: &str) -> Vec<u8> {
    let mut arguments = Vec::new();
    amf0::write_null(&mut arguments);
    amf0::write_string(key, &mut arguments);
    amf0::write_string("live", &mut arguments);
    arguments
}

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
        self.socket
            .set_read_timeout(Some(Duration::from_secs(10)))?;
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
