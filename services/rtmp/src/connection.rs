//! One RTMP server connection over a socket: the handshake, then a loop that reads bytes into
//! the [`Session`] and writes its replies, under the deadlines of [`Limits`].

use ferrocast_media::rtmp_chunk;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use crate::handshake::{C0_C1_LEN, C2_LEN, ServerHandshake};
use crate::session::{Event, Session};
use crate::{Limits, Player, RtmpError, status};

/// A server-side RTMP connection after a successful handshake.
pub struct Connection {
    pub(crate) socket: TcpStream,
    pub(crate) session: Session,
    pub(crate) limits: Limits,
    pub(crate) read_buffer: Vec<u8>,
    /// Until a publish or play is accepted, the connection must get there by this instant.
    start_deadline: Instant,
}

impl Connection {
    /// Performs the RTMP handshake within `limits.handshake_timeout` and opens the session.
    pub async fn handshake(mut socket: TcpStream, limits: Limits) -> Result<Self, RtmpError> {
        let deadline = limits.handshake_timeout;
        timeout(deadline, exchange_handshake(&mut socket))
            .await
            .map_err(|_| RtmpError::HandshakeTimeout(deadline))??;
        let (session, opening) = Session::new(limits.clone())?;
        let mut connection = Self {
            socket,
            session,
            read_buffer: vec![0; limits.read_buffer_bytes],
            start_deadline: Instant::now() + limits.start_timeout,
            limits,
        };
        connection.write_all(&opening).await?;
        Ok(connection)
    }

    /// Waits for the next event. `Ok(None)` means the peer closed the connection.
    pub async fn next_event(&mut self) -> Result<Option<Event>, RtmpError> {
        loop {
            if let Some(event) = self.session.next_event() {
                return Ok(Some(event));
            }
            let idle = self.limits.idle_timeout;
            let read = self.socket.read(&mut self.read_buffer);
            let count = if self.session.started() {
                timeout(idle, read)
                    .await
                    .map_err(|_| RtmpError::IdleTimeout(idle))??
            } else {
                let deadline = self.start_deadline.min(Instant::now() + idle);
                match timeout_at(deadline, read).await {
                    Ok(count) => count?,
                    Err(_) if deadline == self.start_deadline => {
                        return Err(RtmpError::StartTimeout(self.limits.start_timeout));
                    }
                    Err(_) => return Err(RtmpError::IdleTimeout(idle)),
                }
            };
            if count == 0 {
                return Ok(None);
            }
            let mut outbound = Vec::new();
            let received = self
                .session
                .receive(&self.read_buffer[..count], &mut outbound);
            // Replies to what was understood go out even if later bytes were bad.
            self.write_all(&outbound).await?;
            received?;
        }
    }

    /// Accepts a publish or play request.
    pub async fn accept(&mut self, request_id: u32) -> Result<(), RtmpError> {
        let mut outbound = Vec::new();
        self.session.accept(request_id, &mut outbound)?;
        self.write_all(&outbound).await
    }

    /// Refuses a publish request with an `onStatus` of level `error` and `code` (such as
    /// `NetStream.Publish.BadName`) on its message stream; `description` says why, and must
    /// never hold the key. End the connection after.
    pub async fn reject(
        &mut self,
        request_id: u32,
        code: &str,
        description: &str,
    ) -> Result<(), RtmpError> {
        let mut outbound = Vec::new();
        self.session
            .reject_publish(request_id, code, description, &mut outbound);
        self.write_all(&outbound).await
    }

    /// Accepts a play request on message stream `stream_id` (from [`Event::PlayRequested`]):
    /// sends the play statuses (`NetStream.Play.Reset`/`Start`, StreamBegin,
    /// `|RtmpSampleAccess`) and a Set Chunk Size of [`rtmp_chunk::CHUNK_SIZE`], and turns the
    /// connection into a [`Player`] that writes pre-serialized media.
    pub async fn accept_play(
        mut self,
        request_id: u32,
        stream_id: u32,
    ) -> Result<Player, RtmpError> {
        let mut outbound = Vec::new();
        // rml_rtmp adds `|RtmpSampleAccess` and a `NetStream.Data.Start` data message stamped
        // with its session clock; ffmpeg turns data messages with a non-zero timestamp into
        // extra streams (a "text" subtitle, a "data" track). They are alone on its data chunk
        // stream, and it sends nothing more there, so leave them out and send our own
        // `|RtmpSampleAccess` at timestamp 0.
        let keep = |result: &_| !is_rml_data_message(result);
        self.session.accept_play(request_id, keep, &mut outbound)?;
        status::write_sample_access(stream_id, &mut outbound);
        // On chunk stream 2 like the control messages before it. rml_rtmp sends nothing
        // after this: the player's own answers (`PlaySession`) carry full Type 0 headers.
        rtmp_chunk::write_set_chunk_size(&mut outbound);
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

    /// Tells a publisher that the server ends its publish (a drain): an `onStatus` of level
    /// `status` with `NetStream.Unpublish.Success`, which encoders log before reconnecting.
    pub async fn end_publish(&mut self, description: &str) -> Result<(), RtmpError> {
        let mut outbound = Vec::new();
        self.session.end_publish(description, &mut outbound);
        self.write_all(&outbound).await
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
}

/// Reads exactly C0+C1, answers, and reads exactly C2: bytes after it are the chunk stream's.
async fn exchange_handshake(socket: &mut TcpStream) -> Result<(), RtmpError> {
    let mut handshake = ServerHandshake::default();
    let mut c0_c1 = [0u8; C0_C1_LEN];
    read_handshake(socket, &mut c0_c1[..1]).await?;
    ServerHandshake::check_version(c0_c1[0])?;
    read_handshake(socket, &mut c0_c1[1..]).await?;
    let response = handshake.respond(&c0_c1)?;
    socket.write_all(&response).await?;
    let mut c2 = [0u8; C2_LEN];
    read_handshake(socket, &mut c2).await?;
    handshake.finish(&c2)
}

async fn read_handshake(socket: &mut TcpStream, buffer: &mut [u8]) -> Result<(), RtmpError> {
    match socket.read_exact(buffer).await {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(RtmpError::Handshake("peer closed during handshake".into()))
        }
        Err(error) => Err(error.into()),
    }
}

/// The chunk stream `rml_rtmp`'s serializer puts AMF0 data messages on.
const RML_DATA_CHUNK_STREAM: u8 = 3;

fn is_rml_data_message(result: &rml_rtmp::sessions::ServerSessionResult) -> bool {
    let rml_rtmp::sessions::ServerSessionResult::OutboundResponse(packet) = result else {
        return false;
    };
    packet
        .bytes
        .first()
        .is_some_and(|basic_header| basic_header & 0x3F == RML_DATA_CHUNK_STREAM)
}
