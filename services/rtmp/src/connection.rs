//! One RTMP server connection: handshake, then a loop that turns bytes into [`Event`]s.

use std::collections::VecDeque;
use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::{Limits, Player, RtmpError, chunk, status};

pub use rml_rtmp::sessions::StreamMetadata;

/// What the peer asked for or sent. Requests carry a `request_id` to answer with
/// [`Connection::accept`] or [`Connection::reject`].
#[derive(Debug)]
pub enum Event {
    /// The peer wants to publish `rtmp://host/<app>/<key>`.
    PublishRequested {
        /// Id to answer the request with.
        request_id: u32,
        /// The application name (`live`).
        app: String,
        /// The stream key: a secret, never log it.
        key: String,
    },
    /// `@setDataFrame` / `onMetaData` from the publisher.
    Metadata(StreamMetadata),
    /// An FLV audio tag body.
    Audio {
        /// RTMP timestamp in milliseconds (32-bit, wraps).
        timestamp_ms: u32,
        /// The tag body.
        data: Bytes,
    },
    /// An FLV video tag body.
    Video {
        /// RTMP timestamp in milliseconds (32-bit, wraps).
        timestamp_ms: u32,
        /// The tag body.
        data: Bytes,
    },
    /// The publisher sent FCUnpublish/deleteStream/closeStream.
    PublishFinished,
    /// The peer wants to play `rtmp://host/<app>/<key>`: answer with
    /// [`Connection::accept_play`] or [`Connection::reject_play`].
    PlayRequested {
        /// Id to answer the request with.
        request_id: u32,
        /// The application name.
        app: String,
        /// The stream name asked for.
        key: String,
        /// The message stream the player plays on.
        stream_id: u32,
    },
    /// The player sent deleteStream/closeStream.
    PlayFinished,
}

/// A server-side RTMP connection after a successful handshake.
pub struct Connection {
    pub(crate) socket: TcpStream,
    session: ServerSession,
    pub(crate) limits: Limits,
    pub(crate) read_buffer: Vec<u8>,
    pub(crate) events: VecDeque<Event>,
    unproductive_bytes: usize,
}

impl Connection {
    /// Performs the RTMP handshake within `limits.handshake_timeout` and opens the session.
    pub async fn handshake(mut socket: TcpStream, limits: Limits) -> Result<Self, RtmpError> {
        let deadline = limits.handshake_timeout;
        let leftover = timeout(deadline, exchange_handshake(&mut socket))
            .await
            .map_err(|_| RtmpError::HandshakeTimeout(deadline))??;
        let mut session_config = ServerSessionConfig::new();
        // The pre-serialized frames players share are chunked at this size.
        session_config.chunk_size = chunk::CHUNK_SIZE as u32;
        let (session, initial) = guarded(|| ServerSession::new(session_config))?;
        let mut connection = Self {
            socket,
            session,
            read_buffer: vec![0; limits.read_buffer_bytes],
            limits,
            events: VecDeque::new(),
            unproductive_bytes: 0,
        };
        connection.handle_results(initial).await?;
        if !leftover.is_empty() {
            connection.feed(&leftover).await?;
        }
        Ok(connection)
    }

    /// Waits for the next event. `Ok(None)` means the peer closed the connection.
    pub async fn next_event(&mut self) -> Result<Option<Event>, RtmpError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            let idle = self.limits.idle_timeout;
            let read = timeout(idle, self.socket.read(&mut self.read_buffer)).await;
            let count = read.map_err(|_| RtmpError::IdleTimeout(idle))??;
            if count == 0 {
                return Ok(None);
            }
            // Lend the buffer out so `feed` can borrow `self` mutably without a copy.
            let buffer = std::mem::take(&mut self.read_buffer);
            let fed = self.feed(&buffer[..count]).await;
            self.read_buffer = buffer;
            fed?;
        }
    }

    /// Accepts a publish or play request.
    pub async fn accept(&mut self, request_id: u32) -> Result<(), RtmpError> {
        let results = guarded(|| self.session.accept_request(request_id))?;
        self.handle_results(results).await
    }

    /// Refuses a request with an RTMP `_error` status such as `NetStream.Publish.BadName`.
    pub async fn reject(
        &mut self,
        request_id: u32,
        code: &str,
        description: &str,
    ) -> Result<(), RtmpError> {
        let results = guarded(|| self.session.reject_request(request_id, code, description))?;
        self.handle_results(results).await
    }

    /// Accepts a play request on message stream `stream_id` (from [`Event::PlayRequested`]):
    /// sends the play statuses (`NetStream.Play.Reset`/`Start`, StreamBegin,
    /// `|RtmpSampleAccess`) and a Set Chunk Size of [`chunk::CHUNK_SIZE`], and turns the
    /// connection into a [`Player`] that writes pre-serialized media.
    pub async fn accept_play(
        mut self,
        request_id: u32,
        stream_id: u32,
    ) -> Result<Player, RtmpError> {
        let mut results = guarded(|| self.session.accept_request(request_id))?;
        // rml_rtmp adds `|RtmpSampleAccess` and a `NetStream.Data.Start` data message stamped
        // with its session clock; ffmpeg turns data messages with a non-zero timestamp into
        // extra streams (a "text" subtitle, a "data" track). They are alone on its data chunk
        // stream, and it sends nothing more there, so leave them out and send our own
        // `|RtmpSampleAccess` at timestamp 0.
        results.retain(|result| !is_rml_data_message(result));
        let mut outbound = Vec::new();
        self.collect(results, &mut outbound)?;
        status::write_sample_access(stream_id, &mut outbound);
        // On chunk stream 2 like rml_rtmp's own control messages. Its next one there (an
        // acknowledgement or ping response, on message stream 0) gets a full Type 0 header,
        // because its previous one was the StreamBegin above, on the player's stream.
        chunk::write_set_chunk_size(&mut outbound);
        self.write_all(&outbound).await?;
        Ok(Player::new(self, stream_id))
    }

    /// Refuses a play request with an `onStatus` of level `error`, such as
    /// `NetStream.Play.StreamNotFound`. Players give up on it; end the connection after.
    pub async fn reject_play(
        &mut self,
        stream_id: u32,
        code: &str,
        description: &str,
    ) -> Result<(), RtmpError> {
        let mut outbound = Vec::new();
        status::write_error(stream_id, code, description, &mut outbound);
        self.write_all(&outbound).await
    }

    async fn feed(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        let mut outbound = Vec::new();
        self.ingest(bytes, &mut outbound)?;
        self.write_all(&outbound).await
    }

    /// Feeds received bytes to the session: events are queued, replies appended to `outbound`.
    pub(crate) fn ingest(&mut self, bytes: &[u8], outbound: &mut Vec<u8>) -> Result<(), RtmpError> {
        let results = guarded(|| self.session.handle_input(bytes))?;
        let produced = results
            .iter()
            .any(|result| matches!(result, ServerSessionResult::RaisedEvent(_)));
        if produced {
            self.unproductive_bytes = 0;
        } else {
            self.unproductive_bytes += bytes.len();
            if self.unproductive_bytes > self.limits.max_unproductive_bytes {
                return Err(RtmpError::Unproductive(self.unproductive_bytes));
            }
        }
        self.collect(results, outbound)
    }

    async fn handle_results(&mut self, results: Vec<ServerSessionResult>) -> Result<(), RtmpError> {
        let mut outbound = Vec::new();
        self.collect(results, &mut outbound)?;
        self.write_all(&outbound).await
    }

    fn collect(
        &mut self,
        results: Vec<ServerSessionResult>,
        outbound: &mut Vec<u8>,
    ) -> Result<(), RtmpError> {
        for result in results {
            match result {
                ServerSessionResult::OutboundResponse(packet) => outbound.extend(packet.bytes),
                ServerSessionResult::RaisedEvent(event) => self.on_event(event, outbound)?,
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let deadline = self.limits.write_timeout;
        timeout(deadline, self.socket.write_all(bytes))
            .await
            .map_err(|_| RtmpError::WriteTimeout(deadline))??;
        Ok(())
    }

    fn on_event(
        &mut self,
        event: ServerSessionEvent,
        outbound: &mut Vec<u8>,
    ) -> Result<(), RtmpError> {
        let event = match event {
            // Connecting to an application carries no decision: the app is checked at publish.
            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                let accepted = guarded(|| self.session.accept_request(request_id))?;
                for result in accepted {
                    if let ServerSessionResult::OutboundResponse(packet) = result {
                        outbound.extend(packet.bytes);
                    }
                }
                return Ok(());
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => Event::PublishRequested {
                request_id,
                app: app_name,
                key: stream_key,
            },
            ServerSessionEvent::PublishStreamFinished { .. } => Event::PublishFinished,
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => Event::Metadata(metadata),
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => Event::Audio {
                timestamp_ms: timestamp.value,
                data,
            },
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => Event::Video {
                timestamp_ms: timestamp.value,
                data,
            },
            ServerSessionEvent::PlayStreamRequested {
                request_id,
                app_name,
                stream_key,
                stream_id,
                ..
            } => Event::PlayRequested {
                request_id,
                app: app_name,
                key: stream_key,
                stream_id,
            },
            ServerSessionEvent::PlayStreamFinished { .. } => Event::PlayFinished,
            _ => return Ok(()),
        };
        self.events.push_back(event);
        Ok(())
    }
}

async fn exchange_handshake(socket: &mut TcpStream) -> Result<Vec<u8>, RtmpError> {
    let mut handshake = Handshake::new(PeerType::Server);
    let mut buffer = vec![0; 4096];
    loop {
        let count = socket.read(&mut buffer).await?;
        if count == 0 {
            return Err(RtmpError::Handshake("peer closed during handshake".into()));
        }
        let received = &buffer[..count];
        let progress = guarded_handshake(|| handshake.process_bytes(received))?;
        match progress {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket.write_all(&response_bytes).await?;
                return Ok(remaining_bytes);
            }
        }
    }
}

/// The chunk stream `rml_rtmp`'s serializer puts AMF0 data messages on.
const RML_DATA_CHUNK_STREAM: u8 = 3;

fn is_rml_data_message(result: &ServerSessionResult) -> bool {
    let ServerSessionResult::OutboundResponse(packet) = result else {
        return false;
    };
    packet
        .bytes
        .first()
        .is_some_and(|basic_header| basic_header & 0x3F == RML_DATA_CHUNK_STREAM)
}

/// Runs a call into `rml_rtmp`, turning its errors and panics into [`RtmpError`].
fn guarded<T, E: Display>(call: impl FnOnce() -> Result<T, E>) -> Result<T, RtmpError> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(RtmpError::Protocol(error.to_string())),
        Err(_) => Err(RtmpError::ParserPanicked),
    }
}

fn guarded_handshake<T, E: Display>(call: impl FnOnce() -> Result<T, E>) -> Result<T, RtmpError> {
    guarded(call).map_err(|error| match error {
        RtmpError::Protocol(message) => RtmpError::Handshake(message),
        other => other,
    })
}
