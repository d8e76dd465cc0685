//! An RTMP client connection over `rml_rtmp`: TCP connect, handshake, `connect` to the
//! application, then publish or play. Bytes in → session events out; everything the session
//! produces is written in order. Panics inside `rml_rtmp` become protocol failures.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
    PublishRequestType, StreamMetadata,
};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::errors::{ErrorKind, Failure};
use crate::target::RtmpTarget;

const READ_BUFFER: usize = 16 * 1024;

/// A connected RTMP client session.
pub struct RtmpClient {
    socket: TcpStream,
    session: ClientSession,
    buffer: Box<[u8]>,
    io_timeout: Duration,
    events: VecDeque<ClientSessionEvent>,
    outbound: Vec<u8>,
    /// Bytes read since the last [`RtmpClient::take_counts`].
    bytes_in: u64,
    /// Bytes written since the last [`RtmpClient::take_counts`].
    bytes_out: u64,
}

fn io_failure(error: &std::io::Error) -> Failure {
    Failure::new(ErrorKind::Io, error.to_string())
}

fn protocol(what: impl std::fmt::Debug) -> Failure {
    Failure::new(ErrorKind::Protocol, format!("rtmp: {what:?}"))
}

/// A server that hangs up instead of answering a publish or play request refuses it (as
/// servers do for a bad stream key).
fn closed_means_refused(failure: Failure) -> Failure {
    if failure.kind != ErrorKind::Eof {
        return failure;
    }
    Failure::new(
        ErrorKind::Rejected,
        "rtmp server closed the connection instead of accepting",
    )
}

/// Whether an `onStatus` code answers a publish or play request with a refusal.
fn is_refusal(code: &str) -> bool {
    const REFUSALS: [&str; 6] = [
        "Fail",
        "BadName",
        "NotFound",
        "Denied",
        "Reject",
        "Unauthorized",
    ];
    REFUSALS.iter().any(|word| code.contains(word))
}

fn guarded<T, E: std::fmt::Debug>(call: impl FnOnce() -> Result<T, E>) -> Result<T, Failure> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(protocol),
        Err(_) => Err(Failure::new(ErrorKind::Protocol, "rtmp: rml_rtmp panicked")),
    }
}

impl RtmpClient {
    /// Connects, handshakes and connects to the target's application.
    pub async fn connect(target: &RtmpTarget, io_timeout: Duration) -> Result<Self, Failure> {
        let socket = match timeout(io_timeout, TcpStream::connect(target.addr)).await {
            Err(_) => return Err(Failure::new(ErrorKind::Timeout, "rtmp connect timed out")),
            Ok(Err(error)) => return Err(Failure::new(ErrorKind::Connect, error.to_string())),
            Ok(Ok(socket)) => socket,
        };
        let _ = socket.set_nodelay(true);
        let mut config = ClientSessionConfig::new();
        config.tc_url = Some(target.tc_url.clone());
        let (session, initial) = guarded(|| ClientSession::new(config))?;
        let mut client = Self {
            socket,
            session,
            buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            io_timeout,
            events: VecDeque::new(),
            outbound: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
        };
        let leftover = client.handshake().await?;
        client.queue(initial)?;
        client.handle_bytes(&leftover)?;
        let request = guarded(|| client.session.request_connection(target.app.clone()))?;
        client.queue(vec![request])?;
        client.flush().await?;
        client
            .wait_for(|event| matches!(event, ClientSessionEvent::ConnectionRequestAccepted))
            .await
    }

    /// Asks to publish `stream` live and waits for the answer.
    pub async fn publish(mut self, stream: &str) -> Result<Self, Failure> {
        let kind = PublishRequestType::Live;
        let request = guarded(|| self.session.request_publishing(stream.to_owned(), kind))?;
        self.queue(vec![request])?;
        self.flush().await?;
        self.wait_for(|event| matches!(event, ClientSessionEvent::PublishRequestAccepted))
            .await
            .map_err(closed_means_refused)
    }

    /// Asks to play `stream` and waits for the answer.
    pub async fn play(mut self, stream: &str) -> Result<Self, Failure> {
        let request = guarded(|| self.session.request_playback(stream.to_owned()))?;
        self.queue(vec![request])?;
        self.flush().await?;
        self.wait_for(|event| matches!(event, ClientSessionEvent::PlaybackRequestAccepted))
            .await
            .map_err(closed_means_refused)
    }

    /// Sends `@setDataFrame onMetaData`.
    pub async fn send_metadata(&mut self, metadata: &StreamMetadata) -> Result<(), Failure> {
        let packet = guarded(|| self.session.publish_metadata(metadata))?;
        self.queue(vec![packet])?;
        self.flush().await
    }

    /// Queues one audio or video message; [`RtmpClient::flush`] sends it.
    pub fn queue_media(
        &mut self,
        video: bool,
        data: Bytes,
        timestamp_ms: u32,
    ) -> Result<(), Failure> {
        let time = RtmpTimestamp::new(timestamp_ms);
        let packet = if video {
            guarded(|| self.session.publish_video_data(data, time, false))?
        } else {
            guarded(|| self.session.publish_audio_data(data, time, false))?
        };
        self.queue(vec![packet])
    }

    /// Writes everything queued, within the I/O timeout.
    pub async fn flush(&mut self) -> Result<(), Failure> {
        if self.outbound.is_empty() {
            return Ok(());
        }
        match timeout(self.io_timeout, self.socket.write_all(&self.outbound)).await {
            Err(_) => return Err(Failure::new(ErrorKind::Timeout, "rtmp write timed out")),
            Ok(Err(error)) => return Err(io_failure(&error)),
            Ok(Ok(())) => {}
        }
        self.bytes_out += self.outbound.len() as u64;
        self.outbound.clear();
        Ok(())
    }

    /// Reads once from the socket (cancel-safe); then call [`RtmpClient::handle_read`].
    pub async fn read(&mut self) -> Result<usize, Failure> {
        match self.socket.read(&mut self.buffer).await {
            Ok(0) => Err(Failure::new(
                ErrorKind::Eof,
                "rtmp server closed the connection",
            )),
            Ok(count) => Ok(count),
            Err(error) => Err(io_failure(&error)),
        }
    }

    /// Feeds `count` bytes just read to the session and writes its answers.
    pub async fn handle_read(&mut self, count: usize) -> Result<(), Failure> {
        let buffer = std::mem::take(&mut self.buffer);
        let handled = self.handle_bytes(&buffer[..count]);
        self.buffer = buffer;
        handled?;
        self.flush().await
    }

    /// The next session event, reading as needed within the I/O timeout.
    pub async fn next_event(&mut self) -> Result<ClientSessionEvent, Failure> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            let count = match timeout(self.io_timeout, self.read()).await {
                Err(_) => return Err(Failure::new(ErrorKind::Timeout, "rtmp read timed out")),
                Ok(read) => read?,
            };
            self.handle_read(count).await?;
        }
    }

    /// Drops queued events (a publisher has no use for them).
    pub fn discard_events(&mut self) {
        self.events.clear();
    }

    /// Bytes read and written since the last call.
    pub fn take_counts(&mut self) -> (u64, u64) {
        let counts = (self.bytes_in, self.bytes_out);
        self.bytes_in = 0;
        self.bytes_out = 0;
        counts
    }

    async fn wait_for(
        mut self,
        accepted: impl Fn(&ClientSessionEvent) -> bool,
    ) -> Result<Self, Failure> {
        loop {
            let event = self.next_event().await?;
            if accepted(&event) {
                return Ok(self);
            }
            match event {
                ClientSessionEvent::ConnectionRequestRejected { description } => {
                    return Err(Failure::new(ErrorKind::Rejected, description));
                }
                ClientSessionEvent::UnhandleableOnStatusCode { code } if is_refusal(&code) => {
                    return Err(Failure::new(ErrorKind::Rejected, code));
                }
                ClientSessionEvent::UnhandleableAmf0Command { command_name, .. }
                    if command_name == "_error" =>
                {
                    return Err(Failure::new(ErrorKind::Rejected, "rtmp _error answer"));
                }
                _ => {}
            }
        }
    }

    fn handle_bytes(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.bytes_in += bytes.len() as u64;
        let results = guarded(|| self.session.handle_input(bytes))?;
        self.queue(results)
    }

    fn queue(&mut self, results: Vec<ClientSessionResult>) -> Result<(), Failure> {
        for result in results {
            match result {
                ClientSessionResult::OutboundResponse(packet) => {
                    self.outbound.extend_from_slice(&packet.bytes);
                }
                ClientSessionResult::RaisedEvent(event) => self.events.push_back(event),
                ClientSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    /// The client side of the RTMP handshake; returns bytes read past its end.
    async fn handshake(&mut self) -> Result<Vec<u8>, Failure> {
        let mut handshake = Handshake::new(PeerType::Client);
        let hello = guarded(|| handshake.generate_outbound_p0_and_p1())?;
        self.outbound.extend_from_slice(&hello);
        self.flush().await?;
        loop {
            let count = match timeout(self.io_timeout, self.read()).await {
                Err(_) => return Err(Failure::new(ErrorKind::Timeout, "rtmp handshake timed out")),
                Ok(read) => read?,
            };
            self.bytes_in += count as u64;
            let buffer = &self.buffer[..count];
            match guarded(|| handshake.process_bytes(buffer))? {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    self.outbound.extend_from_slice(&response_bytes);
                    self.flush().await?;
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    self.outbound.extend_from_slice(&response_bytes);
                    self.flush().await?;
                    // `handle_bytes` counts these again.
                    self.bytes_in -= remaining_bytes.len() as u64;
                    return Ok(remaining_bytes);
                }
            }
        }
    }
}
