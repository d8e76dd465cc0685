//! A connection that plays a stream: media goes out as pre-serialized chunks shared by every
//! player, control messages (acknowledgements, pings, deleteStream) keep coming in.
//!
//! The socket is shared ([`Player::socket`]) so that a fan-out lane can write media to it
//! from another task, without waiting, while the player's own task reads.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocast_media::rtmp_chunk;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::{Connection, Limits, PlaySession, RtmpError, status};

/// Players send little (acknowledgements, pings, buffer lengths), so a small read does.
const READ_BUFFER_BYTES: usize = 2048;
/// Messages written per vectored write.
const MAX_SLICES: usize = 64;

/// A connection after an accepted `play`, from [`Connection::accept_play`].
///
/// Run [`Player::stopped`] concurrently with the media source (it is cancel-safe) and write
/// media with [`Player::send`]; replies to the player's control messages go out before the
/// next media, so they never split a message.
pub struct Player {
    socket: Arc<TcpStream>,
    session: PlaySession,
    limits: Limits,
    stream_id: u32,
    /// Replies to the player's control messages, not yet sent.
    replies: Vec<u8>,
}

impl Player {
    pub(crate) fn new(connection: Connection, stream_id: u32) -> Self {
        let Connection {
            socket,
            session,
            limits,
            ..
        } = connection;
        Self {
            socket: Arc::new(socket),
            session: session.into_playing(stream_id),
            limits,
            stream_id,
            replies: Vec::new(),
        }
    }

    /// The socket, for a writer in another task: one that writes only whole messages, and
    /// only while [`Player::send`] is not running, and that sends [`Player::take_replies`].
    pub fn socket(&self) -> &Arc<TcpStream> {
        &self.socket
    }

    /// How long a write may make no progress before the player is given up.
    pub fn write_timeout(&self) -> Duration {
        self.limits.write_timeout
    }

    /// Replies to the player's control messages not yet sent, for a writer in another task.
    pub fn take_replies(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.replies)
    }

    /// The message stream the player plays on.
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// Whether media pre-serialized for [`rtmp_chunk::SHARED_MESSAGE_STREAM_ID`] fits this player;
    /// otherwise serialize for [`Player::stream_id`].
    pub fn uses_shared_serialization(&self) -> bool {
        self.stream_id == rtmp_chunk::SHARED_MESSAGE_STREAM_ID
    }

    /// Handles what the player sends until it stops: returns `Ok(())` when it closed the
    /// connection or its stream (deleteStream/closeStream). A player that only watches sends
    /// almost nothing, so there is no idle deadline here; a dead peer shows up as a failed or
    /// stalled [`Player::send`].
    ///
    /// Cancel-safe: received bytes are processed in full as soon as a read completes.
    pub async fn stopped(&mut self) -> Result<(), RtmpError> {
        while self.receive().await? {}
        Ok(())
    }

    /// Reads and handles what the player sent next: `Ok(false)` when it stopped (as in
    /// [`Player::stopped`]), `Ok(true)` when it plays on, maybe with replies to send
    /// ([`Player::take_replies`]). Cancel-safe.
    pub async fn receive(&mut self) -> Result<bool, RtmpError> {
        loop {
            self.socket.readable().await?;
            // On the stack, and only between awaits: a waiting player holds no read buffer.
            let mut buffer = [0u8; READ_BUFFER_BYTES];
            let count = match self.socket.try_read(&mut buffer) {
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error.into()),
            };
            if count == 0 {
                return Ok(false);
            }
            return self.session.receive(&buffer[..count], &mut self.replies);
        }
    }

    /// Writes pending replies, then `messages` (complete serialized messages, such as
    /// `live::Frame::rtmp_chunks`) with vectored writes. A write that makes no progress within
    /// the write timeout fails with [`RtmpError::WriteTimeout`]. Not cancel-safe: a cancelled
    /// send leaves a partial message, so end the connection after one.
    pub async fn send(&mut self, messages: &[Bytes]) -> Result<(), RtmpError> {
        if !self.replies.is_empty() {
            let replies = std::mem::take(&mut self.replies);
            self.write_slices(&mut [IoSlice::new(&replies)]).await?;
        }
        for group in messages.chunks(MAX_SLICES) {
            self.write_group(group).await?;
        }
        Ok(())
    }

    /// Tells the player the stream is over (`NetStream.Play.UnpublishNotify`, then
    /// `NetStream.Play.Stop`); close the connection after.
    pub async fn complete(&mut self) -> Result<(), RtmpError> {
        let mut outbound = std::mem::take(&mut self.replies);
        status::write_play_stopped(self.stream_id, &mut outbound);
        self.write_slices(&mut [IoSlice::new(&outbound)]).await
    }

    async fn write_group(&mut self, group: &[Bytes]) -> Result<(), RtmpError> {
        // On the heap for the write only: an array here would be part of every waiting
        // player's task. An empty slice could make a write of only empty slices return 0,
        // read as a failure.
        let mut slices: Vec<IoSlice<'_>> = group
            .iter()
            .filter(|message| !message.is_empty())
            .map(|message| IoSlice::new(message))
            .collect();
        self.write_slices(&mut slices).await
    }

    /// Writes every slice; fails with [`RtmpError::WriteTimeout`] when a write makes no
    /// progress within the write timeout.
    async fn write_slices(&self, mut slices: &mut [IoSlice<'_>]) -> Result<(), RtmpError> {
        let deadline = self.limits.write_timeout;
        while !slices.is_empty() {
            let written = match self.socket.try_write_vectored(slices) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(written) => written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    timeout(deadline, self.socket.writable())
                        .await
                        .map_err(|_| RtmpError::WriteTimeout(deadline))??;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            IoSlice::advance_slices(&mut slices, written);
        }
        Ok(())
    }
}
