//! A connection that plays a stream: media goes out as pre-serialized chunks shared by every
//! player, control messages (acknowledgements, pings, deleteStream) keep coming in.

use std::io::IoSlice;

use bytes::Bytes;
use ferrocast_media::rtmp_chunk;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::{Connection, Event, RtmpError, status};

/// Players send little (acknowledgements, pings, buffer lengths), so a small read buffer does.
const READ_BUFFER_BYTES: usize = 4096;
/// Messages written per vectored write.
const MAX_SLICES: usize = 64;

/// A connection after an accepted `play`, from [`Connection::accept_play`].
///
/// Run [`Player::stopped`] concurrently with the media source (it is cancel-safe) and write
/// media with [`Player::send`]; replies to the player's control messages go out before the
/// next media, so they never split a message.
pub struct Player {
    connection: Connection,
    stream_id: u32,
    /// Replies to the player's control messages, not yet sent.
    replies: Vec<u8>,
}

impl Player {
    pub(crate) fn new(mut connection: Connection, stream_id: u32) -> Self {
        connection.read_buffer = vec![0; READ_BUFFER_BYTES];
        connection.session.clear_events();
        Self {
            connection,
            stream_id,
            replies: Vec::new(),
        }
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
        loop {
            let connection = &mut self.connection;
            let count = connection.socket.read(&mut connection.read_buffer).await?;
            if count == 0 {
                return Ok(());
            }
            connection
                .session
                .receive(&connection.read_buffer[..count], &mut self.replies)?;
            let mut finished = false;
            while let Some(event) = connection.session.next_event() {
                finished |= matches!(event, Event::PlayFinished);
            }
            if finished {
                return Ok(());
            }
        }
    }

    /// Writes pending replies, then `messages` (complete serialized messages, such as
    /// `live::Frame::rtmp_chunks`) with vectored writes. A write that makes no progress within
    /// the write timeout fails with [`RtmpError::WriteTimeout`]. Not cancel-safe: a cancelled
    /// send leaves a partial message, so end the connection after one.
    pub async fn send(&mut self, messages: &[Bytes]) -> Result<(), RtmpError> {
        if !self.replies.is_empty() {
            let replies = std::mem::take(&mut self.replies);
            self.connection.write_all(&replies).await?;
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
        self.connection.write_all(&outbound).await
    }

    async fn write_group(&mut self, group: &[Bytes]) -> Result<(), RtmpError> {
        let mut storage = [IoSlice::new(&[]); MAX_SLICES];
        let mut filled = 0;
        // An empty slice could make a write of only empty slices return 0, read as a failure.
        for message in group.iter().filter(|message| !message.is_empty()) {
            storage[filled] = IoSlice::new(message);
            filled += 1;
        }
        let mut slices = &mut storage[..filled];
        let deadline = self.connection.limits.write_timeout;
        while !slices.is_empty() {
            let write = self.connection.socket.write_vectored(slices);
            let written = timeout(deadline, write)
                .await
                .map_err(|_| RtmpError::WriteTimeout(deadline))??;
            if written == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            IoSlice::advance_slices(&mut slices, written);
        }
        Ok(())
    }
}
