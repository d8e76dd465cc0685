//! A small RTMP client for the in-process tests, async over tokio: the plain handshake, the
//! commands an encoder and a player send, media messages (of [`Feed`]), and a reader of the
//! server's replies.
//!
//! It is written with the workspace's pure pieces (`rtmp_chunk` and `amf0` to write,
//! `ferrocast_rtmp`'s bounded chunk reader to read), so it adds no dependency. Whether the
//! server speaks RTMP as independent clients do is the end-to-end suite's question (ffmpeg,
//! ffprobe, OBS); this one asks what the origin does with what it is sent.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use ferrocast_media::amf0::{self, Value};
use ferrocast_media::rtmp_chunk::{self, Header, Media, message_type};
use ferrocast_rtmp::reader::{ChunkReader, Message, ReaderLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::feed::Feed;

/// Longest wait for any answer of the server: far above what a loopback server needs, so
/// reaching it means the answer never came.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// C1, S1 and S2 of the handshake.
const HANDSHAKE_PACKET: usize = 1536;
/// This client never announces a chunk size, so it writes in the initial one.
const CHUNK_SIZE: usize = 128;
/// The chunk stream of this client's commands.
const COMMAND_CHUNK_STREAM: u8 = 3;

/// An `onStatus` the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `status` or `error`.
    pub level: String,
    /// Such as `NetStream.Publish.Start`.
    pub code: String,
}

/// One RTMP client connection.
pub struct RtmpClient {
    socket: TcpStream,
    replies: ChunkReader,
}

impl RtmpClient {
    /// Connects to `addr` and completes the plain handshake (C2 echoes S1).
    pub async fn handshake(addr: SocketAddr) -> Self {
        let mut socket = TcpStream::connect(addr)
            .await
            .expect("connect to the origin");
        socket.set_nodelay(true).expect("set TCP_NODELAY");
        let mut c0_c1 = vec![0u8; 1 + HANDSHAKE_PACKET];
        c0_c1[0] = 3;
        socket.write_all(&c0_c1).await.expect("send C0+C1");
        let mut s0_s1_s2 = vec![0u8; 1 + 2 * HANDSHAKE_PACKET];
        let reading = socket.read_exact(&mut s0_s1_s2);
        let until = Instant::now() + ANSWER_WITHIN;
        timeout_at(until, reading)
            .await
            .expect("S0+S1+S2 in time")
            .expect("read S0+S1+S2");
        let s1 = &s0_s1_s2[1..=HANDSHAKE_PACKET];
        socket.write_all(s1).await.expect("send C2");
        let limits = ReaderLimits {
            max_message_size: 16 * 1024 * 1024,
            max_chunk_streams: 64,
            max_buffered_bytes: 64 * 1024 * 1024,
        };
        Self {
            socket,
            replies: ChunkReader::new(limits),
        }
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.socket.write_all(bytes).await
    }

    /// `connect` to `app`, then `createStream`: the message stream the server created.
    pub async fn open_stream(&mut self, app: &str) -> u32 {
        let object = Value::Object(vec![
            ("app".into(), Value::String(app.into())),
            ("type".into(), Value::String("nonprivate".into())),
            (
                "tcUrl".into(),
                Value::String(format!("rtmp://127.0.0.1/{app}")),
            ),
        ]);
        self.command(0, "connect", 1.0, &[object]).await;
        self.result(1.0).await;
        self.command(0, "createStream", 2.0, &[Value::Null]).await;
        match self.result(2.0).await.get(3) {
            Some(Value::Number(stream)) => *stream as u32,
            other => panic!("createStream answered {other:?}"),
        }
    }

    /// `publish` of `key` on a new stream of `app`: the stream and the status it got.
    pub async fn publish(&mut self, app: &str, key: &str) -> (u32, Status) {
        let stream = self.open_stream(app).await;
        let kind = Value::String("live".into());
        let arguments = [Value::Null, Value::String(key.into()), kind];
        self.command(stream, "publish", 3.0, &arguments).await;
        (stream, self.next_status().await)
    }

    /// `play` of `name` on a new stream of `app`: the first status after any
    /// `NetStream.Play.Reset`.
    pub async fn play(&mut self, app: &str, name: &str) -> Status {
        let stream = self.open_stream(app).await;
        let arguments = [Value::Null, Value::String(name.into())];
        self.command(stream, "play", 3.0, &arguments).await;
        loop {
            let status = self.next_status().await;
            if status.code != "NetStream.Play.Reset" {
                return status;
            }
        }
    }

    /// The sequence headers of [`Feed`], video first, as an encoder sends them.
    pub async fn send_sequence_headers(&mut self, stream: u32) {
        self.send_media(stream, Media::Video, 0, &Feed::avc_sequence_header())
            .await;
        self.send_media(stream, Media::Audio, 0, &Feed::aac_sequence_header())
            .await;
    }

    /// Frames `frames` of [`Feed`]: each video frame, then an audio frame at its time.
    pub async fn send_frames(&mut self, stream: u32, frames: Range<u32>) {
        for n in frames {
            let at = Feed::timestamp_ms(n);
            self.send_media(stream, Media::Video, at, &Feed::video(n))
                .await;
            self.send_media(stream, Media::Audio, at, &Feed::audio(n))
                .await;
        }
    }

    async fn send_media(&mut self, stream: u32, media: Media, at: u32, body: &[u8]) {
        let mut bytes = Vec::new();
        let header = media.header(at, stream);
        rtmp_chunk::serialize_in_chunks(&header, body, CHUNK_SIZE, &mut bytes)
            .expect("test frames fit in one message");
        self.send(&bytes).await.expect("send a media message");
    }

    async fn command(&mut self, stream: u32, name: &str, transaction: f64, arguments: &[Value]) {
        let mut payload = Vec::new();
        amf0::write_string(name, &mut payload);
        amf0::write_value(&Value::Number(transaction), &mut payload);
        for argument in arguments {
            amf0::write_value(argument, &mut payload);
        }
        let header = Header {
            chunk_stream_id: COMMAND_CHUNK_STREAM,
            timestamp_ms: 0,
            type_id: message_type::COMMAND_AMF0,
            message_stream_id: stream,
        };
        let mut bytes = Vec::new();
        rtmp_chunk::serialize_in_chunks(&header, &payload, CHUNK_SIZE, &mut bytes)
            .expect("a command fits in one message");
        self.send(&bytes).await.expect("send a command");
    }

    /// The values of the `_result` to `transaction`: name, transaction, command object, …
    async fn result(&mut self, transaction: f64) -> Vec<Value> {
        loop {
            let values = self.next_command().await;
            let name = values.first().and_then(Value::as_str);
            if values.get(1) == Some(&Value::Number(transaction)) {
                assert_eq!(name, Some("_result"), "answer to {transaction}: {values:?}");
                return values;
            }
        }
    }

    /// The next `onStatus` the server sends.
    pub async fn next_status(&mut self) -> Status {
        loop {
            let values = self.next_command().await;
            if values.first().and_then(Value::as_str) != Some("onStatus") {
                continue;
            }
            let Some(Value::Object(info)) = values.iter().find(|v| matches!(v, Value::Object(_)))
            else {
                panic!("onStatus without an info object: {values:?}");
            };
            let field = |name: &str| {
                let value = info.iter().find(|(key, _)| key == name);
                value
                    .and_then(|(_, value)| value.as_str())
                    .unwrap_or_default()
            };
            return Status {
                level: field("level").to_owned(),
                code: field("code").to_owned(),
            };
        }
    }

    async fn next_command(&mut self) -> Vec<Value> {
        loop {
            let message = self.next_message().await.expect("a command, not the end");
            if message.type_id == message_type::COMMAND_AMF0 {
                return amf0::read_values(&message.payload, amf0::Limits::default())
                    .expect("the server's commands are valid AMF0");
            }
        }
    }

    /// The next whole message; `None` once the server closed the connection.
    pub async fn next_message(&mut self) -> Option<Message> {
        let until = Instant::now() + ANSWER_WITHIN;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let message = self.replies.next_message();
            if let Some(message) = message.expect("the server's chunk stream is valid") {
                return Some(message);
            }
            let reading = self.socket.read(&mut buffer);
            let count = match timeout_at(until, reading).await {
                Ok(Ok(0) | Err(_)) => return None,
                Ok(Ok(count)) => count,
                Err(_) => panic!("no message from the server within {ANSWER_WITHIN:?}"),
            };
            let pushed = self.replies.push(&buffer[..count]);
            pushed.expect("the server's chunk stream is valid");
        }
    }

    /// Reads and drops what the server sends until it closes the connection; panics if it
    /// is still open after `limit`. A reset counts as closed.
    pub async fn closed_within(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            match timeout_at(until, self.socket.read(&mut sink)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(_)) => {}
                Err(_) => panic!("the server kept the connection open for {limit:?}"),
            }
        }
    }
}
