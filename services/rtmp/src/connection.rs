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

use crate::{Limits, RtmpError};

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
    /// The peer wants to play `rtmp://host/<app>/<key>`.
    PlayRequested {
        /// Id to answer the request with.
        request_id: u32,
        /// The application name.
        app: String,
        /// The stream name asked for.
        key: String,
    },
}

/// A server-side RTMP connection after a successful handshake.
pub struct Connection {
    socket: TcpStream,
    session: ServerSession,
    limits: Limits,
    read_buffer: Vec<u8>,
    events: VecDeque<Event>,
    unproductive_bytes: usize,
}

impl Connection {
    /// Performs the RTMP handshake within `limits.handshake_timeout` and opens the session.
    pub async fn handshake(mut socket: TcpStream, limits: Limits) -> Result<Self, RtmpError> {
        let deadline = limits.handshake_timeout;
        let leftover = timeout(deadline, exchange_handshake(&mut socket))
            .await
            .map_err(|_| RtmpError::HandshakeTimeout(deadline))??;
        let (session, initial) = guarded(|| ServerSession::new(ServerSessionConfig::new()))?;
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

    async fn feed(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
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
        self.handle_results(results).await
    }

    async fn handle_results(&mut self, results: Vec<ServerSessionResult>) -> Result<(), RtmpError> {
        let mut outbound = Vec::new();
        for result in results {
            match result {
                ServerSessionResult::OutboundResponse(packet) => outbound.extend(packet.bytes),
                ServerSessionResult::RaisedEvent(event) => self.on_event(event, &mut outbound)?,
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        if outbound.is_empty() {
            return Ok(());
        }
        let deadline = self.limits.write_timeout;
        timeout(deadline, self.socket.write_all(&outbound))
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
                ..
            } => Event::PlayRequested {
                request_id,
                app: app_name,
                key: stream_key,
            },
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
