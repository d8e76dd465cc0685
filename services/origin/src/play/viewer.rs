//! One RTMP player served by its own task. A player wakes every `play_merge_window` and
//! writes whatever arrived since in one vectored write: on loopback and on a busy server most
//! of a write's cost is per call, not per byte (merged writes, as SRS does by default). With
//! a zero window it writes each batch as it comes, and once it has caught up with the ring it
//! rides the hub's fan-out lane instead ([`super::riding`]), back here if it falls behind.
//!
//! Per player there is the shared [`Cursor`] (the ring position and the slow-viewer policy,
//! as for HTTP-FLV viewers) and the pending writes, nothing else: a player that falls behind
//! skips to the next keyframe and is cut if it keeps falling behind; a write that stalls past
//! the write timeout ends it.

use std::time::Duration;

use bytes::Bytes;
use ferrocast_live::{Cursor, Egress, Frame, Step};
use ferrocast_ops::LiveGuard;
use ferrocast_rtmp::{Player, RtmpError};
use tokio::time::{Interval, MissedTickBehavior, interval};

use super::riding::{self, Ride};
use crate::metrics;

/// Messages gathered into one write; a player more than this many behind writes in steps.
const MAX_PENDING: usize = 64;

/// What the steps taken so far mean for the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    Continue,
    /// The player closed its stream or the connection.
    Stopped,
    StreamEnded,
    Cut,
}

/// One RTMP player, serialized as RTMP chunks.
pub(super) struct Viewer {
    pub(super) player: Player,
    merge_window: Duration,
    /// How much media a lane may queue for the player before it falls behind.
    pub(super) max_lag: Duration,
    /// Serialized media waiting for the next write; at most [`MAX_PENDING`] after the start.
    pending: Vec<Bytes>,
    pub(super) egress: Egress,
    _playing: LiveGuard,
}

impl Viewer {
    pub(super) fn new(player: Player, merge_window: Duration, max_lag: Duration) -> Self {
        Self {
            player,
            merge_window,
            max_lag,
            pending: Vec::with_capacity(MAX_PENDING),
            egress: Egress::new(metrics::rtmp_egress()),
            _playing: metrics::PLAYERS.enter(),
        }
    }

    pub(super) async fn run(
        mut self,
        mut cursor: Cursor,
        start: Vec<Frame>,
    ) -> Result<(), RtmpError> {
        self.push_frames(&start);
        drop(start);
        self.flush().await?;
        self.pending.shrink_to(MAX_PENDING);
        let mut ticks = (!self.merge_window.is_zero()).then(|| {
            let mut ticks = interval(self.merge_window);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        // The lane writes each batch as it comes: only for players without a merge window,
        // and only on the message stream every player's shared chunks are serialized for.
        let rides = ticks.is_none() && self.player.uses_shared_serialization();
        loop {
            // No drain branch here: polling a cancellation token on every wake-up costs more
            // than the rest of it, and a player ends with its stream anyway, which the drain
            // closes at its deadline.
            let next = self.wait(&mut cursor, ticks.as_mut()).await?;
            let next = self.take_ready(&mut cursor, next);
            self.flush().await?;
            if next != Next::Continue {
                return self.finish(next).await;
            }
            if rides {
                match riding::ride(&mut self, cursor).await? {
                    Ride::Declined(back) => cursor = back,
                    Ride::FellBehind(back, start) => {
                        cursor = back;
                        self.push_frames(&start);
                        self.flush().await?;
                    }
                    Ride::Done(done) => return self.finish(done).await,
                }
            }
        }
    }

    /// Ends the play as `next` says.
    async fn finish(&mut self, next: Next) -> Result<(), RtmpError> {
        match next {
            Next::Continue | Next::Stopped => tracing::info!("player stopped"),
            Next::StreamEnded => {
                tracing::info!("stream ended; play complete");
                return self.player.complete().await;
            }
            Next::Cut => tracing::info!("player cut: cannot keep up"),
        }
        Ok(())
    }

    /// Waits for the next tick of the merge window, or without one for the next step.
    async fn wait(
        &mut self,
        cursor: &mut Cursor,
        ticks: Option<&mut Interval>,
    ) -> Result<Next, RtmpError> {
        let next = match ticks {
            Some(ticks) => tokio::select! {
                biased;
                stopped = self.player.stopped() => return stopped.map(|()| Next::Stopped),
                _ = ticks.tick() => Next::Continue,
            },
            None => {
                let step = tokio::select! {
                    biased;
                    stopped = self.player.stopped() => return stopped.map(|()| Next::Stopped),
                    step = cursor.next() => step,
                };
                self.take(step)
            }
        };
        Ok(next)
    }

    /// Adds the steps already waiting in the ring, up to [`MAX_PENDING`] messages.
    fn take_ready(&mut self, cursor: &mut Cursor, mut next: Next) -> Next {
        while next == Next::Continue && self.pending.len() < MAX_PENDING {
            let Some(step) = cursor.next_ready() else {
                break;
            };
            next = self.take(step);
        }
        next
    }

    fn take(&mut self, step: Step) -> Next {
        match step {
            Step::Batch(batch) if self.player.uses_shared_serialization() => {
                self.pending.push(batch.rtmp_chunks().clone());
            }
            Step::Batch(batch) => self.push_frames(batch.frames()),
            Step::Frames(frames) => self.push_frames(&frames),
            Step::Skipped => {}
            Step::Ended => return Next::StreamEnded,
            Step::Cut => return Next::Cut,
        }
        Next::Continue
    }

    fn push_frames(&mut self, frames: &[Frame]) {
        for frame in frames {
            let chunks = self.chunks(frame);
            self.pending.push(chunks);
        }
    }

    fn chunks(&self, frame: &Frame) -> Bytes {
        if self.player.uses_shared_serialization() {
            frame.rtmp_chunks().clone()
        } else {
            frame.rtmp_chunks_on(self.player.stream_id())
        }
    }

    async fn flush(&mut self) -> Result<(), RtmpError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.player.send(&self.pending).await?;
        let sent: usize = self.pending.iter().map(Bytes::len).sum();
        self.pending.clear();
        self.egress.sent(sent);
        Ok(())
    }
}
