//! RTMP play as a live viewer's [`Outlet`]: media as RTMP chunks (each batch's shared
//! concatenation on message stream 1, where every player's chunks are serialized once), the
//! player's control messages read and answered, and the socket shared with its hub's fan-out
//! lane.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrocast_live::lane::{Lanes, Outlet};
use ferrocast_live::{Batch, Frame};
use ferrocast_ops::LiveGuard;
use ferrocast_rtmp::{Player, RtmpError};
use tokio::net::TcpStream;

use crate::metrics;

/// The lanes of RTMP players, by hub. One per process: hub serials are unique in it.
pub(super) static LANES: LazyLock<Arc<Lanes<Arc<TcpStream>>>> =
    LazyLock::new(|| Lanes::new(shared_chunks, metrics::rtmp_egress));

fn shared_chunks(batch: &Batch) -> Bytes {
    batch.rtmp_chunks().clone()
}

/// One RTMP player's connection.
pub(super) struct RtmpOutlet {
    pub(super) player: Player,
    _playing: LiveGuard,
    in_lane: Option<LiveGuard>,
}

impl RtmpOutlet {
    pub(super) fn new(player: Player) -> Self {
        Self {
            player,
            _playing: metrics::PLAYERS.enter(),
            in_lane: None,
        }
    }
}

impl Outlet for RtmpOutlet {
    type Error = RtmpError;

    fn batch_bytes(&self, batch: &Batch) -> Bytes {
        if self.player.uses_shared_serialization() {
            return batch.rtmp_chunks().clone();
        }
        let mut joined = BytesMut::new();
        for frame in batch.frames() {
            joined.extend_from_slice(&frame.rtmp_chunks_on(self.player.stream_id()));
        }
        joined.freeze()
    }

    fn frame_bytes(&self, frame: &Frame) -> Bytes {
        if self.player.uses_shared_serialization() {
            frame.rtmp_chunks().clone()
        } else {
            frame.rtmp_chunks_on(self.player.stream_id())
        }
    }

    async fn receive(&mut self) -> Result<bool, RtmpError> {
        self.player.receive().await
    }

    fn take_replies(&mut self) -> Vec<u8> {
        self.player.take_replies()
    }

    async fn send(&mut self, messages: &[Bytes]) -> Result<(), RtmpError> {
        self.player.send(messages).await
    }

    fn lane_socket(&self) -> Option<&Arc<TcpStream>> {
        // Media for another message stream is this player's own: a lane's is for stream 1.
        self.player
            .uses_shared_serialization()
            .then(|| self.player.socket())
    }

    fn write_timeout(&self) -> Duration {
        self.player.write_timeout()
    }

    fn timed_out(&self) -> RtmpError {
        RtmpError::WriteTimeout(self.player.write_timeout())
    }

    fn riding(&mut self, riding: bool) {
        self.in_lane = riding.then(|| metrics::PLAYERS_IN_LANES.enter());
    }
}
